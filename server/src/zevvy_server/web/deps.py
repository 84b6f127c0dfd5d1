"""Dependencies shared by routes: the app context and per-request database sessions."""

from __future__ import annotations

from fastapi import Request

from zevvy_server.web.context import AppContext


def get_ctx(request: Request) -> AppContext:
    """The running server's context."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def client_ip(request: Request) -> str | None:
    """The caller's address (uvicorn has already applied the trusted proxies' headers)."""
    return request.client.host if request.client else None
