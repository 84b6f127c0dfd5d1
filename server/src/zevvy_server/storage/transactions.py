"""Units of work against the database: writes retried on lock races, reads that stay readable."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from zevvy_server.storage.engine import Database

log = logging.getLogger("zevvy.storage")

T = TypeVar("T")

_RETRY_SQLSTATES = {"40001", "40P01", "23505", "55P03"}
RETRY_ATTEMPTS = 6


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    if isinstance(orig, sqlite3.IntegrityError):
        return "unique" in str(orig).lower()
    return getattr(orig, "sqlstate", None) in _RETRY_SQLSTATES


class _LostBeforeCommit(Exception):
    """The connection died while the work ran: its transaction is gone, nothing was committed."""

    def __init__(self, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def _once(db: Database, work: Callable[[Session], T]) -> T:
    if db.group_commit is not None:
        return db.group_commit.run(work)
    with db.write() as session:
        try:
            return work(session)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise _LostBeforeCommit(exc) from exc
            raise


def run_write(db: Database, work: Callable[[Session], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
    """Run `work` in a write transaction and return once it is committed; on a lock timeout,
    deadlock, serialization failure or a unique-violation race, roll back and run it again
    (bounded, with jittered backoff). On SQLite, concurrent calls share one COMMIT
    (`storage.groupcommit`), each in its own savepoint.

    `work` must do all its writing through the session it gets, so a retry starts clean.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _once(db, work)
        except _LostBeforeCommit as lost:
            # A connection that died before COMMIT was sent (the pool then drops its other
            # connections of that age): run the work again on a new one. A connection lost
            # during COMMIT is not retried here; its outcome is unknown.
            if attempt == attempts:
                raise lost.error from None
            log.info("retrying a write transaction on a new connection (%s)", attempt)
        except DBAPIError as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            log.info("retrying a write transaction (%s): %s", attempt, exc.orig)
            time.sleep(random.uniform(0, 0.02 * 2**attempt))  # noqa: S311 - jitter, not secrets
    raise AssertionError("unreachable")


def run_read(db: Database, work: Callable[[Session], T]) -> T:
    """Run `work` in a read session; the rows it returns stay readable afterwards. Run again,
    once, on a new connection when the first one turns out to be dead."""
    for attempt in (1, 2):
        try:
            with db.read() as session:
                result = work(session)
                # Detach before the closing rollback, which would otherwise expire every loaded row.
                session.expunge_all()
                return result
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.info("retrying a read on a new connection")
    raise AssertionError("unreachable")
