"""The import-request quota of API clients: fixed one-minute windows, counted in this process.

Counting happens outside the database on purpose: a counter row that every import of a client
updates would serialize all of that client's imports on one row lock until their COMMIT (and on
SQLite cost a write in every request). Each server process counts on its own; with several
worker processes a client may send up to the quota to each of them (docs/operations.md).
"""

from __future__ import annotations

import math
import threading

from zevvy_server.errors import RateLimited

WINDOW_SECONDS = 60


class RequestQuota:
    """Requests per key in the current window, thread-safe."""

    def __init__(self, window_seconds: int = WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def count(self, key: str, now: float) -> int:
        """Count one request for `key`; the number counted in the current window."""
        window = int(now // self.window_seconds)
        with self._lock:
            if window != self._window:
                if window > self._window:
                    self._window, self._counts = window, {}
                else:  # a request stamped before the window in force (a clock step): count it there
                    window = self._window
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            return count

    def check(self, key: str, limit: int, now: float) -> None:
        """Count a request; raise `RateLimited` (with the seconds to the next window) over `limit`."""
        if limit <= 0:
            return
        if self.count(key, now) > limit:
            retry = max(1, math.ceil(self.window_seconds - now % self.window_seconds))
            raise RateLimited(
                f"This client may send {limit} import requests per minute; retry in {retry} s.",
                retry_after=retry,
            )


IMPORTS = RequestQuota()
