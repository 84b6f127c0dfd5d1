"""Network faults for tests: a transport that breaks chosen requests and forwards the rest.

This is the only fake in the suite: whatever it lets through reaches the real server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

Fault = Callable[[httpx.Request, httpx.BaseTransport], httpx.Response]


def status(code: int, retry_after: str | None = None) -> Fault:
    """Answer `code` (with ``Retry-After``) without forwarding, as a proxy or a busy server would."""

    def fault(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body: dict[str, object] = {
            "error": "rate_limited" if code == 429 else "unavailable",
            "message": "injected",
            "details": [],
        }
        return httpx.Response(code, headers=headers, json=body, request=request)

    return fault


def timeout(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response:
    """The server never answers."""
    raise httpx.ReadTimeout("injected timeout", request=request)


def refused(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response:
    """Nobody listens."""
    raise httpx.ConnectError("injected: connection refused", request=request)


def lost_answer(request: httpx.Request, inner: httpx.BaseTransport) -> httpx.Response:
    """The request reaches the server and is processed, but the connection resets before the answer."""
    response = inner.handle_request(request)
    response.read()
    response.close()
    raise httpx.RemoteProtocolError(
        "injected: connection reset after the request was processed", request=request
    )


@dataclass
class FaultyTransport(httpx.BaseTransport):
    """Applies `faults` in order to the requests `matches` selects; everything else goes to `inner`."""

    faults: list[Fault]
    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    matches: Callable[[httpx.Request], bool] = lambda request: True
    seen: list[httpx.Request] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Break the request with the next fault, or forward it."""
        self.seen.append(request)
        if self.faults and self.matches(request):
            return self.faults.pop(0)(request, self.inner)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the real transport."""
        self.inner.close()
