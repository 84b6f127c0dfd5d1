"""Device pages: the list (search, status filter, pages), a device with its registers, rename,
and deleting with confirmation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.console import lookups
from zevvy_server.console.access import Page, describe, form_text, open_form, open_page, parse_id, with_notice
from zevvy_server.errors import ZevvyError
from zevvy_server.metering.common import Page as ListPage
from zevvy_server.metering.devices import STATUSES, DeviceService, DeviceView, data_counts
from zevvy_server.metering.models import Register
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import DevicePatch

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/console/devices")
async def device_list(
    request: Request, q: str | None = None, status: str | None = None, cursor: str | None = None
) -> Response:
    """Devices by name; search by name or reference, filter by assignment status."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    ctx = page.ctx
    status = status if status in STATUSES else None
    search = (q or "").strip() or None

    def load(session: Session) -> tuple[ListPage[DeviceView], dict[uuid.UUID, int]]:
        found = DeviceService(session, ctx.clock).list(
            page.actor, search=search, status=status, limit=PAGE_SIZE, cursor=cursor or None
        )
        counts = lookups.register_counts(session, [v.device.id for v in found.items])
        return found, counts

    found, counts = await page.read(load)
    filters = {k: v for k, v in {"q": search, "status": status}.items() if v}
    next_url = (
        "/console/devices?" + urlencode({**filters, "cursor": found.next_cursor})
        if found.next_cursor
        else None
    )
    first_url = "/console/devices" + ("?" + urlencode(filters) if filters else "") if cursor else None
    return page.render(
        "devices/list.html",
        {
            "devices": found.items,
            "counts": counts,
            "q": search or "",
            "status": status or "",
            "statuses": STATUSES,
            "next_url": next_url,
            "first_url": first_url,
        },
    )


@dataclass(frozen=True)
class DeviceDetails:
    """A device with its registers, how many readings each holds, and which are assigned."""

    view: DeviceView
    registers: list[Register]
    readings: dict[int, int]
    assigned: set[int]


def _load_device(page: Page, device_id: uuid.UUID) -> Any:
    ctx = page.ctx

    def load(session: Session) -> DeviceDetails:
        view = DeviceService(session, ctx.clock).view(page.actor, device_id)
        registers = RegisterService(session, ctx.clock).list(page.actor, device_id, limit=1000).items
        readings = {r.key: data_counts(session, [r.key]) for r in registers}
        assigned = lookups.assigned_now(session, ctx.clock, [r.key for r in registers])
        return DeviceDetails(view, registers, readings, assigned)

    return load


async def _device_page(
    page: Page, device_id: uuid.UUID, error: str | None = None, status: int = 200
) -> Response:
    details: DeviceDetails = await page.read(_load_device(page, device_id))
    return page.render(
        "devices/device.html", {"d": details, "device": details.view.device, "error": error}, status
    )


@router.get("/console/devices/{device_id}")
async def device_page(request: Request, device_id: str) -> Response:
    """A device: its status, its registers with their kind, period, unit and last reading."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _device_page(page, parse_id(device_id))


@router.post("/console/devices/{device_id}")
async def rename_device(request: Request, device_id: str) -> Response:
    """Rename a device or change its reference (an empty reference removes it)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(device_id)
    reference = form_text(form, "reference")
    patch = DevicePatch(name=form_text(form, "name"), reference=reference or None)
    try:
        await page.write(lambda s: DeviceService(s, page.ctx.clock).update(page.actor, ident, patch))
    except ZevvyError as exc:
        if exc.status in {404, 403}:
            raise
        return await _device_page(page, ident, describe(page, exc), exc.status)
    return with_notice(f"/console/devices/{ident}", "saved")


@router.get("/console/devices/{device_id}/delete")
async def confirm_delete(request: Request, device_id: str) -> Response:
    """Ask before deleting: name what goes with the device."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(device_id)
    ctx = page.ctx

    def load(session: Session) -> tuple[DeviceView, int, int]:
        view = DeviceService(session, ctx.clock).view(page.actor, ident)
        keys = list(session.scalars(select(Register.key).where(Register.device_id == ident)))
        return view, len(keys), data_counts(session, keys)

    view, registers, readings = await page.read(load)
    return page.render(
        "devices/delete.html", {"device": view.device, "registers": registers, "readings": readings}
    )


@router.post("/console/devices/{device_id}/delete")
async def delete_device(request: Request, device_id: str) -> Response:
    """Delete the device with its registers and readings (the confirmation page was shown)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(device_id)
    confirm = form_text(form, "confirm") == "yes"
    await page.write(lambda s: DeviceService(s, page.ctx.clock).delete(page.actor, ident, confirm=confirm))
    return with_notice("/console/devices", "deleted")
