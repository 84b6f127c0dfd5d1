"""Group commit on SQLite: concurrent writes share one COMMIT, each keeps its own outcome."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database
from zevvy_server.storage.groupcommit import GroupCommit
from zevvy_server.storage.transactions import run_write


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/group.db"))
    with database.write() as session:
        session.execute(text("CREATE TABLE parents (id INTEGER PRIMARY KEY)"))
        session.execute(
            text(
                "CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL"
                " REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, thread TEXT NOT NULL)"))
        session.execute(text("INSERT INTO parents VALUES (1)"))
    yield database
    database.dispose()


def committed(db: Database, sql: str) -> list[tuple[Any, ...]]:
    """What another connection sees: only committed rows."""
    path = db.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as other:
        return [tuple(row) for row in other.execute(sql)]


def insert_item(number: int) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        session.execute(text("INSERT INTO items VALUES (:id, :thread)"), {"id": number, "thread": "t"})
        return number

    return work


def grouped(db: Database, works: list[Callable[[Session], Any]]) -> list[tuple[str, Any]]:
    """Run `works` in threads so that all but the first queue behind it and form one group:
    the first holds the lead while the test holds the writer lock, the others queue meanwhile."""
    committer = db.group_commit
    assert committer is not None
    outcomes: list[tuple[str, Any]] = [("pending", None)] * len(works)

    def call(index: int) -> None:
        try:
            outcomes[index] = ("ok", committer.run(works[index]))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcomes[index] = ("error", exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    with db._writer or threading.Lock():
        threads[0].start()
        deadline = time.monotonic() + 10
        while not committer._leading:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        for thread in threads[1:]:
            thread.start()
        while len(committer._queue) < len(works) - 1:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return outcomes


def test_concurrent_writes_share_one_commit_and_each_gets_its_result(db: Database) -> None:
    committer = db.group_commit
    assert committer is not None
    before = committer.groups
    outcomes = grouped(db, [insert_item(n) for n in range(1, 21)])
    assert outcomes == [("ok", n) for n in range(1, 21)]
    assert committer.groups - before == 2  # the first alone, then the 19 that queued behind it
    assert committed(db, "SELECT count(*) FROM items") == [(20,)]


def test_a_failing_write_rolls_back_only_itself(db: Database) -> None:
    def failing(session: Session) -> None:
        session.execute(text("INSERT INTO items VALUES (100, 'bad')"))
        raise ValueError("refused")

    works = [insert_item(1), insert_item(2), failing, insert_item(3)]
    outcomes = grouped(db, works)
    assert [o[0] for o in outcomes] == ["ok", "ok", "error", "ok"]
    assert isinstance(outcomes[2][1], ValueError)
    assert committed(db, "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,)]


def test_a_write_that_breaks_the_commit_fails_alone(db: Database) -> None:
    """A deferred constraint fails only at COMMIT: the group's transaction is lost, so each of
    its writes runs again on its own; only the culprit's caller gets the error."""

    def orphan(session: Session) -> None:
        session.execute(text("INSERT INTO children VALUES (1, 999)"))

    outcomes = grouped(db, [insert_item(1), insert_item(2), orphan, insert_item(3)])
    assert [o[0] for o in outcomes] == ["ok", "ok", "error", "ok"]
    assert isinstance(outcomes[2][1], IntegrityError)
    assert committed(db, "SELECT id FROM items ORDER BY id") == [(1,), (2,), (3,)]
    assert committed(db, "SELECT count(*) FROM children") == [(0,)]


def test_a_write_returns_only_when_it_is_committed(db: Database) -> None:
    seen: list[list[tuple[Any, ...]]] = []

    def work(session: Session) -> None:
        session.execute(text("INSERT INTO items VALUES (7, 'x')"))
        seen.append(committed(db, "SELECT count(*) FROM items"))  # not yet visible to others

    run_write(db, work)
    assert seen == [[(0,)]]
    assert committed(db, "SELECT count(*) FROM items") == [(1,)]


def test_many_threads_many_writes_all_stored_once(db: Database) -> None:
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for n in range(50):
                run_write(db, insert_item(offset * 1000 + n))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert committed(db, "SELECT count(*), count(DISTINCT id) FROM items") == [(800, 800)]
    committer = db.group_commit
    assert isinstance(committer, GroupCommit)
    assert committer.writes >= 800 and committer.groups <= committer.writes
