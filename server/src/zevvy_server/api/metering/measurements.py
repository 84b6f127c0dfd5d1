"""Bulk import and raw readings (scope `measurement`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from zevvy_server.api.metering.common import (
    CSV,
    IdPath,
    actor_of,
    error_docs,
    json_response,
    read,
    read_body,
    scope_text,
    scoped,
    wants_csv,
)
from zevvy_server.metering import bulk
from zevvy_server.metering.common import MAX_LIMIT, Actor
from zevvy_server.metering.errors import invalid
from zevvy_server.metering.export import check_delimiter, readings_csv
from zevvy_server.metering.ingest import IngestOptions
from zevvy_server.metering.models import Register
from zevvy_server.metering.readings import MAX_CSV_ROWS, ReadingPage, ReadingService, parse_range, zone
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import BulkListResult, BulkResult, Reading, json_schema
from zevvy_server.metering.views import instant, number
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["measurements"])

SCOPE = "measurement"
JSON = "application/json"

_PATH_EXAMPLE = [
    {"readAt": "2024-03-31T00:00:00.000Z", "value": 1043617},
    {"readAt": "2024-03-31T00:15:00.000Z", "value": 1043892},
]
_BODY_EXAMPLE = {
    "deviceName": "zevvy Test Device Example Charging Station",
    "registerName": "zevvy Test Register Example Charging Station",
    "measurements": [
        {"readAt": "2024-03-31T00:00:00Z", "value": 9.6},
        {"readAt": "2024-03-31T00:15:00Z", "value": 19.2},
    ],
}
_READINGS_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "readAt": {"type": "string", "format": "date-time"},
            "value": {"type": "number"},
        },
        "required": ["readAt", "value"],
    },
}
_SERIES_SCHEMA = {
    "type": "object",
    "properties": {
        "deviceName": {"type": "string"},
        "deviceReference": {"type": "string"},
        "registerName": {"type": "string"},
        "registerReference": {"type": "string"},
        "registerKind": {"enum": ["counter", "interval"]},
        "period": {"type": "string", "examples": ["PT15M"]},
        "unit": {"type": "string", "examples": ["Wh"]},
        "measurements": _READINGS_SCHEMA,
    },
    "required": ["measurements"],
}
_BULK_RULES = (
    " The whole request is validated first: `readAt` is RFC 3339 with an explicit offset, not "
    "before 2000-01-01 and at most 24 h ahead; `value` a JSON number with at most 6 decimals and "
    "|value| < 10^12; interval registers take only instants on their period's grid. Any problem "
    "answers 422 `validation_failed` (or `duplicate_instant` for one instant sent with two values) "
    "with up to 100 JSON-pointer details and the `total`; nothing is stored. At most 100,000 "
    "readings and 16 MiB (after gzip decoding; send `Content-Encoding: gzip` to compress) per "
    "request, else 413. Each reading is `created` (new instant), `unchanged` (same value again) or a "
    "conflict (another value is stored): conflicts are kept for review under "
    "`/registers/{id}/conflicts`, or applied with `onConflict=overwrite` (the old value stays in "
    "the revisions). **201** without conflicts, **409** with at least one: the body is the same and "
    "the new readings of a 409 batch ARE stored. Re-sending a batch is harmless. `dryRun=true` "
    "answers the same without storing. A missing device or register is created in the same "
    "transaction, which needs the `device` / `register` scope too (403 naming it otherwise)."
)


_RESULT_EXAMPLE = {
    "importId": "6f0c6548-7880-414b-831d-67d6321f8adf",
    "created": 94,
    "unchanged": 1,
    "overwritten": 0,
    "conflicts": 1,
    "device": {
        "id": "f9d88aa5-e1bd-4e5d-a407-6e5b9bee6af8",
        "reference": "eliona Zähler/7",
        "name": "eliona Zähler/7",
        "created": False,
    },
    "register": {
        "id": "cd1fe555-d61f-49ab-a9e9-ec44017d4ae9",
        "reference": "1.8.0",
        "name": "1.8.0",
        "created": False,
    },
    "conflictSamples": [{"readAt": "2024-03-31T00:15:00Z", "storedValue": 1043892, "sentValue": 1043900}],
    "dryRun": False,
}


def _bulk_responses(*kinds: object) -> dict[int | str, dict[str, object]]:
    schemas = [json_schema(kind) for kind in kinds]
    schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    clean = {**_RESULT_EXAMPLE, "created": 95, "conflicts": 0, "conflictSamples": []}
    return {
        201: {"description": "Stored; no conflict.", "content": {JSON: {"schema": schema, "example": clean}}},
        409: {
            "description": "Stored, except readings whose instant holds another value (kept as conflicts).",
            "content": {JSON: {"schema": schema, "example": _RESULT_EXAMPLE}},
        },
        **{k: v for k, v in error_docs(404, 413, 415, 422, 429).items() if k != 409},
    }


@router.post(
    "/deviceRef/{deviceRef}/registerRef/{registerRef}/measurements/_bulk_create",
    status_code=201,
    summary="Import readings of a register addressed by references",
    description=scope_text(SCOPE, writes=True)
    + " References are single path segments: percent-encode them (`/` as `%2F`). "
    "`registerKind`, `period` and `unit` apply only when the register is created here." + _BULK_RULES,
    responses=_bulk_responses(BulkResult),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": _READINGS_SCHEMA, "example": _PATH_EXAMPLE}},
        }
    },
)
async def bulk_by_reference(
    request: Request,
    deviceRef: str,  # noqa: N803 - the path's own spelling
    registerRef: str,  # noqa: N803
    register_kind: Annotated[Literal["counter", "interval"] | None, Query(alias="registerKind")] = None,
    period: str | None = None,
    unit: str | None = None,
    on_conflict: Annotated[Literal["keep", "overwrite"], Query(alias="onConflict")] = "keep",
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    body = await read_body(request, ctx)
    actor = actor_of(principal)
    target = bulk.PathTarget(deviceRef, registerRef, register_kind, period, unit)
    options = IngestOptions(on_conflict == "overwrite", dry_run, ctx.settings.client_requests_per_minute)
    result, status = await run_in_threadpool(
        bulk.import_path_form, ctx.db, ctx.clock, ctx.settings, actor, body, target, options
    )
    return json_response(result, status)


@router.post(
    "/measurements/_bulk_create",
    status_code=201,
    summary="Import readings of registers addressed in the body",
    description=scope_text(SCOPE, writes=True)
    + " The body is one series `{deviceName or deviceReference, registerName or registerReference, "
    "registerKind?, period?, unit?, measurements: [...]}` or a list of them (one transaction). "
    "The device and register are found by reference when given, else by name; `registerKind`, "
    "`period` and `unit` apply only when the register is created. The list form answers "
    '`{"results": [...], "totals": {...}}`.' + _BULK_RULES,
    responses=_bulk_responses(BulkResult, BulkListResult),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {"anyOf": [_SERIES_SCHEMA, {"type": "array", "items": _SERIES_SCHEMA}]},
                    "example": _BODY_EXAMPLE,
                }
            },
        }
    },
)
async def bulk_by_body(
    request: Request,
    on_conflict: Annotated[Literal["keep", "overwrite"], Query(alias="onConflict")] = "keep",
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    body = await read_body(request, ctx)
    actor = actor_of(principal)
    options = IngestOptions(on_conflict == "overwrite", dry_run, ctx.settings.client_requests_per_minute)
    result, status = await run_in_threadpool(
        bulk.import_body_form, ctx.db, ctx.clock, ctx.settings, actor, body, options
    )
    return json_response(result, status)


# -- raw readings ---------------------------------------------------------------------------------
_READ_DESCRIPTION = (
    scope_text(SCOPE)
    + " Readings with `from` <= readAt < `to` (RFC 3339 instants or `YYYY-MM-DD` dates, local "
    "midnight in `timeZone`), ascending. JSON pages hold up to `limit` (default 100, max 1000) "
    'readings: `{"items": [{"readAt", "value"}], "nextCursor"}`. CSV (`format=csv` or '
    "`Accept: text/csv`) has the columns `readAt` (UTC), `localTime` (in `timeZone`, default "
    "Europe/Zurich, with its offset) and `value`, separated by `delimiter` (`,` or `;`); up to "
    "100,000 rows per response, the next page's cursor in the `X-Next-Cursor` header."
)


def _read_responses() -> dict[int | str, dict[str, object]]:
    return {
        200: {
            "description": "A page of readings.",
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "items": {"type": "array", "items": _READINGS_SCHEMA["items"]},
                            "nextCursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        },
                    }
                },
                CSV: {"schema": {"type": "string"}, "example": "readAt,localTime,value\r\n"},
            },
        },
        **error_docs(404, 422),
    }


Locate = Callable[[RegisterService, Actor], Register]


async def _readings(
    request: Request,
    principal: Principal,
    locate: Locate,
    from_: str | None,
    to: str | None,
    limit: int | None,
    cursor: str | None,
    fmt: str | None,
    delimiter: str,
    time_zone: str,
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    csv = wants_csv(request, fmt)
    tz = zone(time_zone)
    check_delimiter(delimiter)
    size = limit if limit is not None else (MAX_CSV_ROWS if csv else 100)
    if not csv and size > MAX_LIMIT:
        raise invalid("/limit", "out_of_range", f"limit must be between 1 and {MAX_LIMIT}")
    low, high = parse_range(from_, to, tz)

    def work(session: Session) -> ReadingPage:
        register = locate(RegisterService(session, ctx.clock), actor)
        return ReadingService(session, ctx.clock).readings(
            actor, register, low=low, high=high, limit=size, cursor=cursor
        )

    page = await read(request, work)
    if csv:
        headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else None
        text = readings_csv(page.instants, page.values, tz, delimiter)
        return Response(text, 200, headers=headers, media_type="text/csv; charset=utf-8")
    items = [
        Reading(read_at=instant(t), value=number(v)) for t, v in zip(page.instants, page.values, strict=True)
    ]
    return json_response({"items": items, "nextCursor": page.next_cursor})


@router.get(
    "/registers/{register_id}/measurements",
    summary="Read a register's readings",
    description=_READ_DESCRIPTION,
    responses=_read_responses(),
)
async def readings_by_id(
    request: Request,
    register_id: IdPath,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_CSV_ROWS)] = None,
    cursor: str | None = None,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    delimiter: Literal[",", ";"] = ",",
    time_zone: Annotated[str, Query(alias="timeZone")] = "Europe/Zurich",
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    return await _readings(
        request,
        principal,
        lambda service, actor: service.get(actor, register_id),
        from_,
        to,
        limit,
        cursor,
        fmt,
        delimiter,
        time_zone,
    )


@router.get(
    "/deviceRef/{deviceRef}/registerRef/{registerRef}/measurements",
    summary="Read a register's readings, addressed by references",
    description=_READ_DESCRIPTION,
    responses=_read_responses(),
)
async def readings_by_reference(
    request: Request,
    deviceRef: str,  # noqa: N803 - the path's own spelling
    registerRef: str,  # noqa: N803
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_CSV_ROWS)] = None,
    cursor: str | None = None,
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    delimiter: Literal[",", ";"] = ",",
    time_zone: Annotated[str, Query(alias="timeZone")] = "Europe/Zurich",
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    return await _readings(
        request,
        principal,
        lambda service, actor: service.by_references(actor, deviceRef, registerRef),
        from_,
        to,
        limit,
        cursor,
        fmt,
        delimiter,
        time_zone,
    )
