"""What the metering routes share: the caller as an `Actor`, bodies (gzip, size caps), JSON and
CSV responses, running service calls off the event loop, and the OpenAPI fragments."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from pydantic import BeforeValidator
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from zevvy_server.errors import ZevvyError
from zevvy_server.metering.common import Actor, Page
from zevvy_server.metering.errors import PayloadTooLarge
from zevvy_server.metering.schemas import ErrorOut, encode, json_schema
from zevvy_server.storage.transactions import run_read, run_write
from zevvy_server.web.bearer import Principal, require_scopes
from zevvy_server.web.context import AppContext
from zevvy_server.web.deps import get_ctx

T = TypeVar("T")

JSON = "application/json"
CSV = "text/csv"


def _lenient_uuid(value: Any) -> uuid.UUID:
    # A malformed id names nothing: answer 404 like any unknown id, not 422.
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return uuid.UUID(int=0)


IdPath = Annotated[uuid.UUID, BeforeValidator(_lenient_uuid)]
"""A UUID path parameter; malformed ids become the nil UUID, which never exists (so 404)."""


# Documents the Bearer scheme and each operation's scopes in the OpenAPI document; the check
# itself is `require_scopes`.
_bearer_doc = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="An access token from this server's identity server (device flow or authorization code).",
)


def scoped(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, whose token must carry every one of `scopes` (401/403 otherwise)."""
    check = require_scopes(*scopes)

    async def dependency(
        request: Request, _doc: Any = Security(_bearer_doc, scopes=list(scopes))
    ) -> Principal:
        return await check(request)

    return dependency


class UnsupportedEncoding(ZevvyError):
    """A Content-Encoding other than gzip or identity."""

    code = "unsupported_media_type"
    status = 415
    message = "Request bodies may be sent as they are or gzip-encoded (Content-Encoding: gzip)."


class UnsupportedMediaType(ZevvyError):
    """A body declared as something other than JSON (form data, text, XML...)."""

    code = "unsupported_media_type"
    status = 415
    message = "Request bodies are JSON: send Content-Type: application/json."


def actor_of(principal: Principal) -> Actor:
    """The domain's view of the token's caller."""
    return Actor(
        organization_id=principal.organization_id,
        user_id=principal.user_id,
        client_id=principal.client_id,
        scopes=frozenset(principal.scopes),
        role=principal.role,
    )


async def read_body(request: Request, ctx: AppContext) -> bytes:
    """The request body, gzip-decoded when so encoded; 413 as soon as it passes the byte limit
    (so a gzip bomb costs at most the limit), 415 for other encodings and non-JSON media types
    (a missing Content-Type is read as JSON)."""
    limit = ctx.settings.max_body_bytes
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type != JSON and not media_type.endswith("+json"):
        raise UnsupportedMediaType()
    too_large = PayloadTooLarge(ctx.settings.max_readings_per_request, limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in {"identity", "gzip", "x-gzip", ""}:
        raise UnsupportedEncoding()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in {"gzip", "x-gzip"} else None
    parts: list[bytes] = []
    size = 0
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large
        if inflater is None:
            parts.append(chunk)
            size += len(chunk)
            continue
        data = chunk
        while data:
            try:
                out = inflater.decompress(data, limit + 1 - size)
            except zlib.error:
                raise _bad_gzip() from None
            parts.append(out)
            size += len(out)
            if size > limit:
                raise too_large
            data = inflater.unconsumed_tail
    if inflater is not None:
        try:
            parts.append(inflater.flush())
        except zlib.error:
            raise _bad_gzip() from None
        if not inflater.eof:
            raise _bad_gzip()
        size += len(parts[-1])
        if size > limit:
            raise too_large
    return b"".join(parts)


def _bad_gzip() -> ZevvyError:
    from zevvy_server.metering.errors import BulkInvalid

    return BulkInvalid(
        [{"pointer": "", "problem": "malformed_gzip", "message": "the body is not valid gzip"}],
        message="The body is declared gzip but does not decode.",
    )


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A response struct as JSON."""
    return Response(encode(value), status, headers=headers, media_type=JSON)


def page_response(page: Page[Any], convert: Callable[[Any], Any]) -> Response:
    """``{"items": [...], "nextCursor": ...}``."""
    return json_response({"items": [convert(item) for item in page.items], "nextCursor": page.next_cursor})


def wants_csv(request: Request, fmt: str | None) -> bool:
    """CSV when asked by ``format=csv`` or an Accept header preferring text/csv."""
    if fmt is not None:
        return fmt.lower() == "csv"
    accept = request.headers.get("accept", "")
    return CSV in accept and JSON not in accept.split(CSV)[0]


async def write(request: Request, work: Callable[[Session], T]) -> T:
    """Run a service call in one write transaction (retried on lock races), off the event loop."""
    ctx = get_ctx(request)
    return await run_in_threadpool(run_write, ctx.db, work)


async def read(request: Request, work: Callable[[Session], T]) -> T:
    """Run a service call in a read session, off the event loop."""
    ctx = get_ctx(request)
    return await run_in_threadpool(run_read, ctx.db, work)


# -- OpenAPI --------------------------------------------------------------------------------------
_ERRORS: dict[int, tuple[str, str]] = {
    401: ("invalid_token", "The access token is missing, expired, revoked or not a Bearer token."),
    403: ("insufficient_scope", "The token lacks the scope, or the caller is a viewer (`forbidden`)."),
    404: ("not_found", "No such thing in the token's organization."),
    409: ("conflict", "The request contradicts what is stored."),
    413: ("payload_too_large", "More readings or bytes than one request may carry."),
    415: ("unsupported_media_type", "A Content-Encoding other than gzip."),
    422: ("validation_failed", "The request is invalid; details hold JSON pointers."),
    429: ("rate_limited", "Too many requests from this client; retry after `Retry-After` seconds."),
}


def error_docs(*statuses: int, conflict: str | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the error statuses a route can answer, in the API's error shape.

    401, 403 and 422 are always there: every route checks the token, and the framework checks
    every route's parameters (a 422 it answers has this shape too, not FastAPI's default one).
    """
    schema = json_schema(ErrorOut)
    docs: dict[int | str, dict[str, Any]] = {}
    for status in sorted({401, 403, 422, *statuses}):
        code, text = _ERRORS[status]
        if status == 409 and conflict:
            code, text = conflict, f"`{conflict}`: {text}"
        docs[status] = {
            "description": text,
            "content": {JSON: {"schema": schema, "example": {"error": code, "message": text, "details": []}}},
        }
    return docs


def ok_doc(
    status: int, kind: Any, description: str, *, csv: bool = False, example: Any = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI response for success, from the wire type's JSON Schema."""
    content: dict[str, Any] = {JSON: {"schema": json_schema(kind)}}
    if example is not None:
        content[JSON]["example"] = example
    if csv:
        content[CSV] = {"schema": {"type": "string"}}
    return {status: {"description": description, "content": content}}


def page_schema(kind: Any) -> dict[str, Any]:
    """JSON Schema of a page of `kind`."""
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": json_schema(kind)},
            "nextCursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["items", "nextCursor"],
    }


def page_doc(kind: Any, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI response for a page of `kind`."""
    return {200: {"description": description, "content": {JSON: {"schema": page_schema(kind)}}}}


def body_doc(kind: Any, example: Any = None, *, media: str = JSON) -> dict[str, Any]:
    """`openapi_extra` for a body the route decodes itself (gzip allowed)."""
    content: dict[str, Any] = {"schema": json_schema(kind) if not isinstance(kind, dict) else kind}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {media: content}}}


def scope_text(*scopes: str, writes: bool = False) -> str:
    """The scope note every operation's description starts with."""
    needed = " and ".join(f"`{s}`" for s in scopes)
    text = f"**Scope:** {needed}."
    if writes:
        text += " Viewers cannot call this (403 `forbidden`)."
    return text
