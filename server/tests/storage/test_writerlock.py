"""The SQLite writer lock: threads and worker processes take turns, re-entrant per thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from zevvy_server.storage.writerlock import WriterLock

PROBE = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("busy")
else:
    print("free")
"""


def other_process_sees(path: Path) -> str:
    """Whether another process could take the lock right now."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_another_process_waits_while_a_writer_holds_it_even_when_nested(tmp_path: Path) -> None:
    path = tmp_path / "z.db-writer.lock"
    lock = WriterLock(path)
    with lock:
        assert other_process_sees(path) == "busy"
        with lock:  # the same thread again (a write inside a write)
            pass
        assert other_process_sees(path) == "busy"  # the inner exit kept it
    assert other_process_sees(path) == "free"


def test_threads_take_turns(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "z.db-writer.lock")
    inside = 0
    most = 0
    guard = threading.Lock()

    def writer() -> None:
        nonlocal inside, most
        for _ in range(20):
            with lock:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1


def test_closing_between_writes_reopens_on_the_next(tmp_path: Path) -> None:
    path = tmp_path / "z.db-writer.lock"
    lock = WriterLock(path)
    with lock:
        pass
    lock.close()
    with lock:
        assert other_process_sees(path) == "busy"
    assert other_process_sees(path) == "free"


def test_an_in_memory_database_needs_no_file(tmp_path: Path) -> None:
    lock = WriterLock(None)
    with lock, lock:
        pass
    assert list(tmp_path.iterdir()) == []
