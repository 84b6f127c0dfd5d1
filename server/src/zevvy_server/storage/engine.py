"""The database engine and its sessions.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed transaction survives power loss),
foreign keys on, and a busy timeout; write transactions begin with ``BEGIN IMMEDIATE`` so a writer
takes the lock before it reads, and two writers never deadlock on a lock upgrade. PostgreSQL runs
with ``synchronous_commit=on``.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from zevvy_server.settings import Settings
from zevvy_server.storage.groupcommit import GroupCommit
from zevvy_server.storage.writerlock import WriterLock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, start transactions (pysqlite quirk).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """Create the engine for the configured database."""
    url = settings.sqlalchemy_url
    # JSON columns (an import batch's registers, audit details) through orjson, not the json module.
    kwargs.setdefault("json_serializer", _json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        if ":memory:" not in url:
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping (a round trip per checkout): `_closed_by_server` polls the socket instead. A
    # connection that dies later invalidates the pool, and `storage.transactions` runs the work
    # again on a new connection when nothing can have been committed.
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        connect_args={"options": "-c synchronous_commit=on -c timezone=UTC"},
        **kwargs,
    )
    event.listen(engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    # An idle PostgreSQL connection has nothing to read: data or end-of-file means the server
    # ended it (restarted, backend terminated). The pool then takes another connection.
    # poll, not select: select cannot watch descriptors numbered 1024 and above.
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the database server closed this connection")


def _writer_lock_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-writer.lock")


class Database:
    """The engine plus two session factories: reads, and writes that lock up front on SQLite."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE") if self.is_sqlite else self.engine
        )
        # PostgreSQL reads run without BEGIN and ROLLBACK (two round trips fewer): under READ
        # COMMITTED every statement takes its own snapshot either way, and nothing is written.
        read_engine = (
            self.engine if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self._read = sessionmaker(read_engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        # SQLite has one writer at a time: writers queue on a lock (threads) and a file lock
        # (worker processes) instead of polling in SQLite's busy handler.
        self._writer = WriterLock(_writer_lock_file(self.engine)) if self.is_sqlite else None
        # SQLite: small concurrent writes share one COMMIT (one fsync); PostgreSQL commits
        # concurrent transactions side by side and groups their WAL flushes itself.
        self.group_commit = GroupCommit(write_engine, self._writer) if self._writer is not None else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; rolled back at the end."""
        with self._read() as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block succeeds and rolls back otherwise."""
        with self._writer or nullcontext(), self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._writer is not None:
            self._writer.close()
