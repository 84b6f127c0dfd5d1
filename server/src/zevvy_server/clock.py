"""The one clock: every piece of code that needs "now" asks a Clock, so tests can move time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        return time.time()

    def now(self) -> datetime:
        """The current instant as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)


class AdjustableClock(Clock):
    """A clock that runs with real time plus an offset tests can move forward.

    Time keeps flowing (servers under test need it to), but `advance` jumps ahead, e.g. past a
    token's expiry, without sleeping.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Real time plus the accumulated offset."""
        return time.time() + self._offset

    def advance(self, seconds: float | timedelta) -> None:
        """Move the clock forward."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
        with self._lock:
            self._offset += step
