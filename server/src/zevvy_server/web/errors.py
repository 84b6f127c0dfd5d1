"""One registry mapping exceptions to responses: JSON for the API, HTML for console pages.

Domain errors (`ZevvyError` subclasses) render as ``{"error", "message", "details"}`` plus any
extra members they carry; request-validation errors as 422 ``validation_failed`` with JSON-pointer
details; unknown routes as 404 ``not_found``. Pages that want HTML errors set
``request.state.html_errors = True`` (the console does), and the registered HTML renderer answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zevvy_server.errors import InsufficientScope, RateLimited, Unauthenticated, ZevvyError
from zevvy_server.web.text import refused

log = logging.getLogger("zevvy.errors")

HtmlRenderer = Callable[[Request, int, str, str], Response]

_STATUS_CODES = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "service_unavailable",
}

# The database is unreachable, restarting or failing over: nothing was committed, so the client
# should retry shortly; this is not a bug of ours (no 500, no traceback).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "53")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database could not be reached, is going down or stayed locked,
    rather than a bug: a lost or refused connection, or a PostgreSQL error of class 08, 53 or 57."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith(_UNAVAILABLE_SQLSTATE_CLASSES)
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        # psycopg raises connection failures without a SQLSTATE; SQLite says "locked"/"busy".
        return type(exc.orig).__module__.startswith("psycopg") or "locked" in text or "busy" in text
    return False


def nul_refused_by_database(exc: BaseException) -> bool:
    """True when PostgreSQL's driver refused text holding a NUL character: bad input that slipped
    past the edge checks of `web.text`, not a bug of the server's state (nothing was written)."""
    orig = getattr(exc, "orig", None)
    return isinstance(exc, DBAPIError) and orig is not None and "NUL (0x00)" in str(orig)


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """The API's error shape."""
    return {"error": code, "message": message, "details": details or [], **extra}


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in {"body", "query", "path", "header"}
        else [str(p) for p in loc]
    )
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def install_error_handlers(app: FastAPI, html_renderer: HtmlRenderer | None = None) -> None:
    """Register the handlers on `app`."""

    def wants_html(request: Request) -> bool:
        return html_renderer is not None and bool(getattr(request.state, "html_errors", False))

    async def on_zevvy_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ZevvyError)
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, InsufficientScope):
            headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{exc.scope}"'
        elif isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        if wants_html(request):
            assert html_renderer is not None
            response = html_renderer(request, exc.status, exc.code, exc.message)
            response.headers.update(headers)
            return response
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details, **exc.extra), exc.status, headers=headers
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = [
            {
                "pointer": _pointer(tuple(e.get("loc", ()))),
                "problem": e.get("type", "invalid"),
                "message": e.get("msg", ""),
            }
            for e in exc.errors()[:100]
        ]
        if wants_html(request):
            assert html_renderer is not None
            return html_renderer(request, 422, "validation_failed", "The form is invalid.")
        return JSONResponse(
            error_body("validation_failed", "The request is invalid.", details, total=len(exc.errors())), 422
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if wants_html(request):
            assert html_renderer is not None
            return html_renderer(request, exc.status_code, code, message)
        return JSONResponse(error_body(code, message), exc.status_code, headers=getattr(exc, "headers", None))

    def internal_error(request: Request) -> Response:
        if wants_html(request):
            assert html_renderer is not None
            return html_renderer(request, 500, "internal_error", "Something went wrong on our side.")
        return JSONResponse(error_body("internal_error", "Something went wrong on our side."), 500)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if nul_refused_by_database(exc):
            log.warning("text with a NUL character reached the database; refused with 422")
            return await on_zevvy_error(request, refused([]))
        if not database_unavailable(exc):
            log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
            return internal_error(request)
        log.warning("database unavailable: %s", str(getattr(exc, "orig", exc)).splitlines()[0][:200])
        message = "The database is unavailable right now; nothing was stored. Retry shortly."
        if wants_html(request):
            assert html_renderer is not None
            response = html_renderer(request, 503, "service_unavailable", message)
        else:
            response = JSONResponse(error_body("service_unavailable", message), 503)
        response.headers["Retry-After"] = "1"
        return response

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)})
        return internal_error(request)

    app.add_exception_handler(ZevvyError, on_zevvy_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
