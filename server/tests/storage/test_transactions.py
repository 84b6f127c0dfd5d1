"""Units of work on PostgreSQL: reads without a transaction, and work run again on a new
connection when a pooled one turns out to be dead (PostgreSQL restarted, a backend killed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database
from zevvy_server.storage.transactions import run_read, run_write


@pytest.fixture
def db(fresh_database_url: str, tmp_path: Path) -> Iterator[Database]:
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: runs in the PostgreSQL run (ZEVVY_TEST_DATABASE_URL)")
    database = Database(Settings(data_dir=tmp_path, database_url=fresh_database_url))
    with database.write() as session:
        session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)"))
    yield database
    database.dispose()


def backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


SAME_TRANSACTION_SINCE = text("SELECT transaction_timestamp() = statement_timestamp()")


def kill_backend(db: Database, pid: int) -> None:
    """Terminate one server process from a connection of our own, outside the pool."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:
        # Waits (up to 5 s) until the process has ended, and its socket is closed.
        assert other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone() == (True,)


def test_a_read_opens_no_transaction(db: Database) -> None:
    def work(session: Session) -> bool:
        session.execute(text("SELECT pg_sleep(0.01)"))
        # Inside a transaction the second statement's transaction began before it.
        return bool(session.execute(SAME_TRANSACTION_SINCE).scalar_one())

    assert run_read(db, work) is True


def test_writes_still_run_in_one_transaction(db: Database) -> None:
    def work(session: Session) -> bool:
        session.execute(text("INSERT INTO items VALUES (1)"))
        session.execute(text("SELECT pg_sleep(0.01)"))
        return bool(session.execute(SAME_TRANSACTION_SINCE).scalar_one())

    assert run_write(db, work) is False

    def failing(session: Session) -> None:
        session.execute(text("INSERT INTO items VALUES (2)"))
        session.execute(text("INSERT INTO items VALUES (1)"))  # duplicate key: the whole work fails

    with pytest.raises(DBAPIError):
        run_write(db, failing, attempts=1)
    assert run_read(db, lambda s: s.execute(text("SELECT id FROM items")).scalars().all()) == [1]


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(db: Database) -> None:
    first = run_read(db, backend_pid)
    kill_backend(db, first)
    with db.read() as session:  # no retry here: the checkout itself must not hand it out
        assert backend_pid(session) != first


def test_a_read_whose_connection_dies_runs_again_on_a_new_one(db: Database) -> None:
    pids: list[int] = []

    def work(session: Session) -> int:
        pids.append(backend_pid(session))
        if len(pids) == 1:
            kill_backend(db, pids[0])
        return int(session.execute(text("SELECT count(*) FROM items")).scalar_one())

    assert run_read(db, work) == 0
    assert len(pids) == 2 and pids[0] != pids[1]


def test_a_write_whose_connection_dies_before_commit_runs_again_and_commits_once(db: Database) -> None:
    pids: list[int] = []

    def work(session: Session) -> None:
        pids.append(backend_pid(session))
        session.execute(text("INSERT INTO items VALUES (:id)"), {"id": len(pids)})
        if len(pids) == 1:
            kill_backend(db, pids[0])
        session.execute(text("INSERT INTO items VALUES (:id)"), {"id": 10 + len(pids)})

    run_write(db, work)
    assert len(pids) == 2 and pids[0] != pids[1]
    stored = run_read(db, lambda s: s.execute(text("SELECT id FROM items ORDER BY id")).scalars().all())
    assert stored == [2, 12]


def test_a_write_that_keeps_losing_its_connection_fails_with_the_database_error(db: Database) -> None:
    def work(session: Session) -> None:
        kill_backend(db, backend_pid(session))
        session.execute(text("INSERT INTO items VALUES (1)"))

    with pytest.raises(DBAPIError) as raised:
        run_write(db, work, attempts=2)
    assert raised.value.connection_invalidated
    assert run_read(db, lambda s: s.execute(text("SELECT count(*) FROM items")).scalar_one()) == 0
