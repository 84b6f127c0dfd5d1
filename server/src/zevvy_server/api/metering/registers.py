"""Register routes (scope `register`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from zevvy_server.api.metering.common import (
    IdPath,
    actor_of,
    body_doc,
    error_docs,
    json_response,
    ok_doc,
    page_doc,
    page_response,
    read,
    read_body,
    scope_text,
    scoped,
    write,
)
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import RegisterIn, RegisterOut, RegisterPatch, decode
from zevvy_server.metering.views import register_out
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["registers"])

SCOPE = "register"
EXAMPLE = {
    "name": "Energy import",
    "reference": "1-0:1.8.0",
    "kind": "counter",
    "period": "PT15M",
    "unit": "Wh",
    "obisCode": "1-0:1.8.0",
}


@router.post(
    "/devices/{device_id}/registers",
    status_code=201,
    summary="Create a register",
    description=scope_text(SCOPE, writes=True)
    + ' `kind` is `counter` (a meter reading, "Zählerstand"; default) or `interval` (the '
    'consumption of the period ending at the stamp, "Verbrauchswert"); `period` an ISO 8601 duration '
    "(default `PT15M`); `unit` defaults to `Wh`. Names and references are unique within the device.",
    responses={
        **ok_doc(201, RegisterOut, "The new register."),
        **error_docs(404, 409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(RegisterIn, EXAMPLE),
)
async def create_register(
    request: Request, device_id: IdPath, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    data = decode(await read_body(request, ctx), RegisterIn)
    actor = actor_of(principal)
    register = await write(request, lambda s: RegisterService(s, ctx.clock).create(actor, device_id, data))
    return json_response(register_out(register), 201)


@router.get(
    "/devices/{device_id}/registers",
    summary="List a device's registers",
    description=scope_text(SCOPE) + " Sorted by name.",
    responses={**page_doc(RegisterOut, "A page of registers."), **error_docs(404, 422)},
)
async def list_registers(
    request: Request,
    device_id: IdPath,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request, lambda s: RegisterService(s, ctx.clock).list(actor, device_id, limit=limit, cursor=cursor)
    )
    return page_response(page, register_out)


@router.get(
    "/registers/{register_id}",
    summary="Get a register",
    description=scope_text(SCOPE) + " With `lastReadAt` and `lastValue`, the latest stored reading.",
    responses={**ok_doc(200, RegisterOut, "The register."), **error_docs(404)},
)
async def get_register(
    request: Request, register_id: IdPath, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    register = await read(request, lambda s: RegisterService(s, ctx.clock).get(actor, register_id))
    return json_response(register_out(register))


@router.patch(
    "/registers/{register_id}",
    summary="Change a register",
    description=scope_text(SCOPE, writes=True)
    + " A JSON merge patch. The `unit` cannot change once the register has readings (409 "
    "`unit_locked`); changes of kind, period and unit are recorded in the audit log.",
    responses={
        **ok_doc(200, RegisterOut, "The changed register."),
        **error_docs(404, 409, 413, 422, conflict="unit_locked"),
    },
    openapi_extra=body_doc(RegisterPatch, {"unit": "kWh"}, media="application/merge-patch+json"),
)
async def update_register(
    request: Request, register_id: IdPath, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    patch = decode(await read_body(request, ctx), RegisterPatch)
    actor = actor_of(principal)
    register = await write(request, lambda s: RegisterService(s, ctx.clock).update(actor, register_id, patch))
    return json_response(register_out(register))


@router.delete(
    "/registers/{register_id}",
    status_code=204,
    summary="Delete a register",
    description=scope_text(SCOPE, writes=True)
    + " With readings this answers 409 `device_has_data` with counts unless `confirm=true`. Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404, 409, conflict="device_has_data")},
)
async def delete_register(
    request: Request,
    register_id: IdPath,
    confirm: bool = False,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    await write(request, lambda s: RegisterService(s, ctx.clock).delete(actor, register_id, confirm=confirm))
    return Response(status_code=204)
