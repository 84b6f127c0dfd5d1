"""Device routes (scope `device`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

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
from zevvy_server.metering.devices import DeviceService, DeviceView
from zevvy_server.metering.schemas import DeviceIn, DeviceOut, DevicePatch, decode
from zevvy_server.metering.views import device_out
from zevvy_server.web.bearer import Principal
from zevvy_server.web.deps import get_ctx

router = APIRouter(tags=["devices"])

SCOPE = "device"
ALIASES = {"Name": "name", "Reference": "reference"}
EXAMPLE = {"name": "Charging station garage", "reference": "eliona Zähler/7"}


def _out(view: DeviceView) -> DeviceOut:
    return device_out(view.device, view.status)


@router.post(
    "/devices",
    status_code=201,
    summary="Create a device",
    description=scope_text(SCOPE, writes=True)
    + " `Name` and `Reference` are accepted as aliases of `name` and `reference`. Names (compared "
    "in Unicode NFC form) and references are unique within the organization: a taken one answers "
    "409 `name_taken` / `reference_taken` with `existingId`.",
    responses={
        **ok_doc(201, DeviceOut, "The new device."),
        **error_docs(409, 413, 422, conflict="reference_taken"),
    },
    openapi_extra=body_doc(DeviceIn, EXAMPLE),
)
async def create_device(request: Request, principal: Principal = Depends(scoped(SCOPE))) -> Response:
    ctx = get_ctx(request)
    data = decode(await read_body(request, ctx), DeviceIn, aliases=ALIASES)
    actor = actor_of(principal)
    device = await write(request, lambda s: DeviceService(s, ctx.clock).create(actor, data))
    return json_response(device_out(device, "unassigned"), 201)


@router.get(
    "/devices",
    summary="List devices",
    description=scope_text(SCOPE)
    + " Sorted by name. `name` and `reference` match exactly (names in NFC form); `search` finds a "
    "case-insensitive part of the name or reference; `status` is `assigned` (every register has a "
    "current or future assignment), `partial` or `unassigned`.",
    responses={**page_doc(DeviceOut, "A page of devices."), **error_docs(422)},
)
async def list_devices(
    request: Request,
    name: str | None = None,
    reference: str | None = None,
    status: Literal["assigned", "partial", "unassigned"] | None = None,
    search: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = None,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    page = await read(
        request,
        lambda s: DeviceService(s, ctx.clock).list(
            actor, name=name, reference=reference, status=status, search=search, limit=limit, cursor=cursor
        ),
    )
    return page_response(page, _out)


@router.get(
    "/devices/{device_id}",
    summary="Get a device",
    description=scope_text(SCOPE),
    responses={**ok_doc(200, DeviceOut, "The device."), **error_docs(404, 422)},
)
async def get_device(
    request: Request, device_id: IdPath, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    view = await read(request, lambda s: DeviceService(s, ctx.clock).view(actor, device_id))
    return json_response(_out(view))


@router.get(
    "/deviceRef/{reference}",
    summary="Get a device by reference",
    description=scope_text(SCOPE)
    + " The reference is one path segment: percent-encode it (`/` as `%2F`, space as `%20`).",
    responses={**ok_doc(200, DeviceOut, "The device."), **error_docs(404)},
)
async def get_device_by_reference(
    request: Request, reference: str, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    view = await read(request, lambda s: DeviceService(s, ctx.clock).view_by_reference(actor, reference))
    return json_response(_out(view))


@router.patch(
    "/devices/{device_id}",
    summary="Change a device",
    description=scope_text(SCOPE, writes=True)
    + " A JSON merge patch: members present are set, `reference: null` removes the reference.",
    responses={
        **ok_doc(200, DeviceOut, "The changed device."),
        **error_docs(404, 409, 413, 422, conflict="name_taken"),
    },
    openapi_extra=body_doc(
        DevicePatch, {"name": "Charging station north"}, media="application/merge-patch+json"
    ),
)
async def update_device(
    request: Request, device_id: IdPath, principal: Principal = Depends(scoped(SCOPE))
) -> Response:
    ctx = get_ctx(request)
    patch = decode(await read_body(request, ctx), DevicePatch, aliases=ALIASES)
    actor = actor_of(principal)

    def work(session: Session) -> DeviceView:
        service = DeviceService(session, ctx.clock)
        service.update(actor, device_id, patch)
        return service.view(actor, device_id)

    return json_response(_out(await write(request, work)))


@router.delete(
    "/devices/{device_id}",
    status_code=204,
    summary="Delete a device",
    description=scope_text(SCOPE, writes=True)
    + " Deletes the device, its registers and their assignments. When any register holds "
    "readings this answers 409 `device_has_data` with `registers` and `measurements` counts "
    "unless `confirm=true` is given; then the readings, revisions and conflicts go too. Audited.",
    responses={204: {"description": "Deleted."}, **error_docs(404, 409, conflict="device_has_data")},
)
async def delete_device(
    request: Request,
    device_id: IdPath,
    confirm: bool = False,
    principal: Principal = Depends(scoped(SCOPE)),
) -> Response:
    ctx = get_ctx(request)
    actor = actor_of(principal)
    await write(request, lambda s: DeviceService(s, ctx.clock).delete(actor, device_id, confirm=confirm))
    return Response(status_code=204)
