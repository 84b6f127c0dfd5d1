"""Fixed-window attempt counters in the database, shared by every worker and host."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from zevvy_server.identity.models import AttemptCounter


def _window(now: float, window_seconds: int) -> int:
    return int(now // window_seconds)


def attempts(session: Session, key: str, *, now: float, window_seconds: int) -> int:
    """Failed attempts counted for `key` in the current window."""
    count = session.scalar(
        select(func.sum(AttemptCounter.count)).where(
            AttemptCounter.key == key,
            AttemptCounter.window_start == _window(now, window_seconds),
        )
    )
    return int(count or 0)


def record_attempt(session: Session, key: str, *, now: float, window_seconds: int) -> int:
    """Count one failed attempt for `key`; returns the count in the current window."""
    window = _window(now, window_seconds)
    updated = session.execute(
        update(AttemptCounter)
        .where(AttemptCounter.key == key, AttemptCounter.window_start == window)
        .values(count=AttemptCounter.count + 1)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AttemptCounter(key=key, window_start=window, count=1))
        session.flush()
        # Old windows are useless; drop them for this key while we are here.
        session.execute(
            delete(AttemptCounter).where(AttemptCounter.key == key, AttemptCounter.window_start < window)
        )
    return attempts(session, key, now=now, window_seconds=window_seconds)
