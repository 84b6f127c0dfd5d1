"""The load generator: pre-encoded HTTP/1.1 requests over keep-alive sockets, in processes.

Bodies and whole requests are encoded before the clock starts, and every client is its own
process, so the generator spends its time in `sendall` and `recv`, not in the GIL or in JSON.
"""

from __future__ import annotations

import multiprocessing
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Job = tuple[bytes, int]  # (the whole encoded request, the status expected)


def request(
    url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """One encoded HTTP/1.1 request with keep-alive."""
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection that sends encoded requests and reads whole responses."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 80))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, encoded: bytes) -> tuple[int, bytes]:
        """Send one request; the status and the body of its response."""
        self.sock.sendall(encoded)
        f = self.file
        status = int(f.readline().split()[1])
        length, chunked = None, False
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    f.readline()
                    break
                parts.append(f.read(size))
                f.readline()
            return status, b"".join(parts)
        return status, f.read(length) if length else b""

    def close(self) -> None:
        """Close the socket."""
        self.file.close()
        self.sock.close()


@dataclass
class Outcome:
    """What a set of clients achieved."""

    seconds: float
    requests: int
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)


_SHARED: list[list[Job]] = []


def _client(index: int, url: str, barrier: object, results: object, keep_answers: bool) -> None:
    jobs = _SHARED[index]
    connection = Connection(url)
    latencies, failures, answers = [], [], []
    barrier.wait()  # type: ignore[attr-defined]
    for encoded, expected in jobs:
        started = time.perf_counter()
        status, body = connection.send(encoded)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != expected:
            failures.append(f"{status} {body[:300]!r}")
            break
        if keep_answers:
            answers.append(body)
    connection.close()
    results.put((index, latencies, failures, answers))  # type: ignore[attr-defined]


def run(url: str, shares: list[list[Job]], *, keep_answers: bool = False) -> Outcome:
    """Send each share of jobs from its own process at once; wall time from the common start."""
    global _SHARED
    _SHARED = shares  # inherited by the forked clients, never pickled
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(shares) + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_client, args=(i, url, barrier, results, keep_answers))
        for i in range(len(shares))
    ]
    for p in processes:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    collected = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for p in processes:
        p.join()
    _SHARED = []
    outcome = Outcome(seconds=elapsed, requests=sum(len(s) for s in shares))
    for _, latencies, failures, answers in sorted(collected, key=lambda c: c[0]):
        outcome.latencies_ms += latencies
        outcome.failures += failures
        outcome.answers += answers
    return outcome
