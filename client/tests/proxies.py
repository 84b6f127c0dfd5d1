"""Reverse proxies on loopback ports in front of the real server.

A proxy forwards to the server what it is meant to carry (everything below its path prefix, and
only the paths it allows), logs every request, and can break chosen requests the way a network
or a busy load balancer does (the only fakes in the suite).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from conftest import free_port

Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@dataclass
class Breakage:
    """Answer `status` (with ``Retry-After``) instead of forwarding, for requests `matches` selects."""

    status: int
    times: int
    matches: Callable[[str, str], bool]
    retry_after: str | None = None


@dataclass
class Proxy:
    """What a proxy saw, and the faults it still has to inject."""

    url: str
    upstream: str
    prefix: str
    allow: Callable[[str], bool]
    seen: list[tuple[str, str]] = field(default_factory=list)
    breakages: list[Breakage] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1")
        method = scope["method"]
        self.seen.append((method, path))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        inner = path[len(self.prefix) :] if path.startswith(self.prefix + "/") else None
        if inner is None or not self.allow(inner):
            self.refused.append(path)
            await _answer(send, 404, {"error": "not_found", "message": "not served here", "details": []})
            return
        for breakage in self.breakages:
            if breakage.times > 0 and breakage.matches(method, inner):
                breakage.times -= 1
                headers = {"Retry-After": breakage.retry_after} if breakage.retry_after else {}
                await _answer(send, breakage.status, {"error": "unavailable", "message": "injected"}, headers)
                return
        query = scope.get("query_string", b"").decode("latin-1")
        url = self.upstream + inner + (f"?{query}" if query else "")
        forwarded = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.lower() not in {b"host", b"content-length", b"connection"}
        ]
        async with httpx.AsyncClient(timeout=120) as client:
            response = await client.request(method, httpx.URL(url), headers=forwarded, content=body)
        out = [
            (k.encode(), v.encode())
            for k, v in response.headers.items()
            if k.lower() not in {"content-length", "content-encoding", "transfer-encoding", "connection"}
        ]
        out.append((b"content-length", str(len(response.content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": response.content})


async def _answer(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    content = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": content})


@contextmanager
def run_proxy(
    upstream: str,
    *,
    prefix: str = "",
    allow: Callable[[str], bool] = lambda path: True,
    host: str = "127.0.0.1",
) -> Iterator[Proxy]:
    """A proxy on a free loopback port forwarding ``{url}{prefix}/...`` to ``{upstream}/...``."""
    import uvicorn

    port = free_port()
    proxy = Proxy(url=f"http://{host}:{port}", upstream=upstream.rstrip("/"), prefix=prefix, allow=allow)
    config = uvicorn.Config(
        proxy, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start")
        time.sleep(0.02)
    try:
        yield proxy
    finally:
        server.should_exit = True
        thread.join(timeout=10)
