"""The register page: chart, table and CSV of readings or consumption, where the register is
assigned (and assigning it), open conflicts with accept/reject, revisions, import batches, and
the register's settings (kind, period, unit while it has no readings) and deletion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from zevvy_server.console import charts, lookups
from zevvy_server.console.access import (
    Page,
    describe,
    form_text,
    open_form,
    open_page,
    parse_id,
    with_notice,
)
from zevvy_server.console.assignments import assign
from zevvy_server.errors import ZevvyError
from zevvy_server.metering.devices import DeviceService
from zevvy_server.metering.models import ImportBatch, MeasurementRevision, Register
from zevvy_server.metering.readings import ConflictView, ReadingService
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import RegisterPatch

router = APIRouter(include_in_schema=False)

KINDS = ("counter", "interval")
PERIODS = ("PT1M", "PT5M", "PT10M", "PT15M", "PT30M", "PT1H", "P1D")
LIST_ROWS = 20


@dataclass(frozen=True)
class RegisterDetails:
    """Everything the register page shows except the chart."""

    register: Register
    device_name: str
    readings: int
    assignments: list[lookups.RegisterAssignment]
    points: list[lookups.PointChoice]
    conflicts: list[ConflictView]
    revisions: list[MeasurementRevision]
    imports: list[ImportBatch]
    names: dict[uuid.UUID, str]


def _details(session: Session, page: Page, register_id: uuid.UUID) -> RegisterDetails:
    clock, actor = page.ctx.clock, page.actor
    registers = RegisterService(session, clock)
    register = registers.get(actor, register_id)
    device = DeviceService(session, clock).get(actor, register.device_id)
    reading = ReadingService(session, clock)
    conflicts = reading.conflicts(actor, register_id, status="open", limit=100, cursor=None).items
    revisions = reading.revisions(actor, register_id, limit=LIST_ROWS, cursor=None).items
    imports = lookups.register_imports(session, actor, register_id, LIST_ROWS)
    names = lookups.usernames(session, {r.user_id for r in revisions} | {b.user_id for b in imports})
    return RegisterDetails(
        register=register,
        device_name=device.name,
        readings=registers.readings(register),
        assignments=lookups.register_assignments(session, actor, register),
        points=lookups.point_choices(session, actor) if page.can_edit else [],
        conflicts=conflicts,
        revisions=revisions,
        imports=imports,
        names=names,
    )


async def register_page_response(
    page: Page,
    register_id: uuid.UUID,
    *,
    error: str | None = None,
    assign_error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The register page, optionally with a form's error and the values that were sent."""
    params = page.request.query_params
    clock = page.ctx.clock

    def load(session: Session) -> tuple[RegisterDetails, charts.Series | None, str | None]:
        details = _details(session, page, register_id)
        try:
            rng = charts.chart_range(
                view=params.get("view"),
                interval=params.get("interval"),
                from_text=params.get("from"),
                to_text=params.get("to"),
                until=params.get("until"),
                latest_us=details.register.last_read_at,
                clock=clock,
            )
            series = charts.register_series(session, clock, page.actor, register_id, rng)
        except ZevvyError as exc:
            return details, None, describe(page, exc)
        return details, series, None

    details, series, chart_error = await page.read(load)
    base = f"/console/registers/{register_id}"
    return page.render(
        "registers/register.html",
        {
            "d": details,
            "register": details.register,
            "series": series,
            "chart": charts.as_json(series, base) if series else None,
            "chart_error": chart_error,
            "base": base,
            "views": charts.VIEWS,
            "intervals": charts.INTERVALS,
            "kinds": KINDS,
            "periods": PERIODS,
            "error": error,
            "assign_error": assign_error,
            "form": form or {},
        },
        status,
    )


@router.get("/console/registers/{register_id}")
async def register_page(request: Request, register_id: str) -> Response:
    """A register with its chart over the range in the URL."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await register_page_response(page, parse_id(register_id))


@router.post("/console/registers/{register_id}")
async def update_register(request: Request, register_id: str) -> Response:
    """Change name, reference, kind, period, OBIS code, and the unit while no readings exist."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(register_id)
    changes: dict[str, Any] = {
        "name": form_text(form, "name"),
        "reference": form_text(form, "reference") or None,
        "kind": form_text(form, "kind"),
        "period": form_text(form, "period"),
        "obis_code": form_text(form, "obis_code") or None,
    }
    # A locked unit field is disabled and not sent; only a sent unit is a change request.
    if form_text(form, "unit"):
        changes["unit"] = form_text(form, "unit")
    try:
        patch = RegisterPatch(**changes)
        await page.write(lambda s: RegisterService(s, page.ctx.clock).update(page.actor, ident, patch))
    except ZevvyError as exc:
        if exc.status in {403, 404}:
            raise
        sent = {k: str(v or "") for k, v in changes.items()}
        return await register_page_response(
            page, ident, error=describe(page, exc), form=sent, status=exc.status
        )
    return with_notice(f"/console/registers/{ident}#settings", "saved")


@router.post("/console/registers/{register_id}/assign")
async def assign_register(request: Request, register_id: str) -> Response:
    """Assign this register to a measurement point from a day on (until a day, or open-ended)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(register_id)
    try:
        point_id = uuid.UUID(form_text(form, "point_id"))
    except ValueError:
        return await register_page_response(
            page, ident, assign_error=page.t("Choose a measurement point."), status=422
        )
    valid_from, valid_to = form_text(form, "valid_from"), form_text(form, "valid_to")
    error = await assign(page, point_id, [ident], valid_from, valid_to)
    if error:
        sent = {"point_id": str(point_id), "valid_from": valid_from, "valid_to": valid_to}
        return await register_page_response(page, ident, assign_error=error, form=sent, status=409)
    return with_notice(f"/console/registers/{ident}#assignments", "assigned")


@router.post("/console/registers/{register_id}/conflicts/{conflict_id}")
async def decide_conflict(request: Request, register_id: str, conflict_id: str) -> Response:
    """Accept (apply the sent value, keeping the stored one as a revision) or reject a conflict."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident, conflict = parse_id(register_id), parse_id(conflict_id)
    accept = form_text(form, "decision") == "accept"
    await page.write(
        lambda s: ReadingService(s, page.ctx.clock).decide(page.actor, ident, conflict, accept=accept)
    )
    return with_notice(f"/console/registers/{ident}#conflicts", "accepted" if accept else "rejected")


@router.get("/console/registers/{register_id}/delete")
async def confirm_delete(request: Request, register_id: str) -> Response:
    """Ask before deleting a register and its readings."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(register_id)

    def load(session: Session) -> tuple[Register, int]:
        registers = RegisterService(session, page.ctx.clock)
        register = registers.get(page.actor, ident)
        return register, registers.readings(register)

    register, readings = await page.read(load)
    return page.render("registers/delete.html", {"register": register, "readings": readings})


@router.post("/console/registers/{register_id}/delete")
async def delete_register(request: Request, register_id: str) -> Response:
    """Delete the register with its readings (after the confirmation page)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(register_id)
    confirm = form_text(form, "confirm") == "yes"

    def work(session: Session) -> uuid.UUID:
        registers = RegisterService(session, page.ctx.clock)
        device_id = registers.get(page.actor, ident).device_id
        registers.delete(page.actor, ident, confirm=confirm)
        return device_id

    device_id = await page.write(work)
    return with_notice(f"/console/devices/{device_id}", "deleted")
