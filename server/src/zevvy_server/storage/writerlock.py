"""One writer at a time on a SQLite database, queued rather than polled.

SQLite lets one transaction write at a time. A writer that finds the database locked waits in
SQLite's busy handler, which sleeps between tries (up to 100 ms each), so waiting writers wake
late and the lock sits idle in between. Here writers queue instead: the threads of a process on a
lock, and the processes serving the same database (``ZEVVY_WORKERS``) on an exclusive ``flock``
of a file beside it, which the kernel hands to the next waiter the moment it is released (and
releases if its holder dies). Re-entrant within a thread.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class WriterLock:
    """Held around every write transaction on one SQLite database."""

    def __init__(self, lock_file: Path | None) -> None:
        # lock_file None: a database no other process can open (in memory).
        self._threads = threading.RLock()
        self._depth = 0  # changed only while holding `_threads`
        self._lock_file = lock_file
        self._fd: int | None = None

    def __enter__(self) -> WriterLock:
        self._threads.acquire()
        if self._depth == 0 and self._lock_file is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        """Close the lock file until the next write (the lock must not be held)."""
        with self._threads:
            if self._fd is not None and self._depth == 0:
                os.close(self._fd)
                self._fd = None
