"""Schema migrations (Alembic), the schema check at start-up, and the first-start lock."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
# Any lock id works as long as it is the same for every server of one deployment.
_PG_LOCK_ID = 0x7A657676


def alembic_config(engine: Engine, metadata: MetaData) -> Config:
    """An Alembic config bound to `engine`, comparing against `metadata`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["target_metadata"] = metadata
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(engine: Engine) -> bool:
    """True when the database has none of our tables yet."""
    return not inspect(engine).get_table_names()


def upgrade(engine: Engine, metadata: MetaData, revision: str = "head") -> None:
    """Migrate the database to `revision`."""
    config = alembic_config(engine, metadata)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, metadata: MetaData, revision: str) -> None:
    """Migrate the database down to `revision`."""
    config = alembic_config(engine, metadata)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


@contextmanager
def startup_lock(engine: Engine, lock_dir: Path) -> Iterator[None]:
    """Serialise first-start initialisation between parallel workers and hosts.

    PostgreSQL: a session-level advisory lock. SQLite: an exclusive lock on a file beside the data,
    since only processes on this host can open that database anyway.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                conn.commit()
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".zevvy-init.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
