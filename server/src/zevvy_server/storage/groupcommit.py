"""Group commit: many threads' write transactions share one COMMIT, and so one fsync.

SQLite has one writer at a time and, with ``synchronous=FULL``, every COMMIT waits for the disk.
When many small writes arrive together (thousands of meters posting one reading each), the disk
flush, not the work, bounds the rate. Here the writes of all threads waiting at the same moment run
one after the other inside ONE transaction, each in its own SAVEPOINT, and one COMMIT makes them
all durable; only then does any of them return. A write that fails rolls back to its savepoint
and raises in its own thread; the others are not affected. If the shared transaction itself fails
(BEGIN or COMMIT), nothing of it was acknowledged, and each write of the group runs again alone,
so that only a write that fails on its own raises.

There is no extra thread and no waiting for company: the first writer to arrive while no group is
running leads. It takes every write queued so far (its own first), runs them, commits, and wakes
their threads. Writers arriving meanwhile queue up; when the leader's own write is done it hands
the lead to the oldest of them, whose group then holds everything that queued during the last
COMMIT. A lone writer therefore pays nothing but a lock. A write's work may thus run on another
request's thread: it must not depend on thread-local or context state, only on the session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_GROUP = 256  # writes per COMMIT; bounds how long the first of a group waits for the last


class _Write(Generic[T]):
    __slots__ = ("done", "error", "lead", "result", "wake", "work")

    def __init__(self, work: Callable[[Session], T]) -> None:
        self.work = work
        self.wake = threading.Event()
        self.done = False
        self.lead = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit:
    """Runs `work(session)` of concurrent threads in shared transactions (see the module doc)."""

    def __init__(self, engine: Engine, writer_lock: AbstractContextManager[Any]) -> None:
        # `engine` begins its transactions the way writes must (SQLite: BEGIN IMMEDIATE);
        # `writer_lock` is held around each group so other in-process writers wait their turn.
        self._engine = engine
        self._writer_lock = writer_lock
        self._mutex = threading.Lock()
        self._queue: list[_Write[Any]] = []
        self._leading = False
        self.groups = 0  # transactions committed, for the metrics and the tests
        self.writes = 0

    def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction; return once that transaction is durable."""
        write = _Write(work)
        with self._mutex:
            self._queue.append(write)
            if not self._leading:
                self._leading = write.lead = True
        if not write.lead:
            write.wake.wait()
            if write.done:
                return write.outcome()
        self._lead(write)
        return write.outcome()

    def _lead(self, own: _Write[Any]) -> None:
        with self._mutex:
            group = self._queue[:MAX_GROUP]
            del self._queue[:MAX_GROUP]
        assert group[0] is own  # first in, first served
        self._run_group(group)
        with self._mutex:
            if self._queue:
                successor = self._queue[0]
                successor.lead = True
                successor.wake.set()
            else:
                self._leading = False

    def _run_group(self, group: list[_Write[Any]]) -> None:
        try:
            self._commit(group)
        except BaseException as exc:  # noqa: BLE001 - BEGIN or COMMIT failed: nothing is durable
            if len(group) == 1:
                group[0].error = exc
            else:
                # One write may have poisoned the transaction (a deferred constraint, say): run
                # each alone, so only its own caller sees its error.
                for write in group:
                    write.error = write.result = None
                    try:
                        self._commit([write])
                    except BaseException as alone:  # noqa: BLE001 - raised in the writer's thread
                        write.error = alone
        for write in group:
            write.done = True
            write.wake.set()

    def _commit(self, group: list[_Write[Any]]) -> None:
        with self._writer_lock, self._engine.connect() as connection:
            with connection.begin():
                for write in group:
                    self._run_one(connection, write)
            self.groups += 1
            self.writes += len(group)

    @staticmethod
    def _run_one(connection: Connection, write: _Write[Any]) -> None:
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            with session.begin():
                write.result = write.work(session)
        except Exception as exc:  # noqa: BLE001 - raised again in the writer's own thread
            write.error = exc
        finally:
            session.close()
