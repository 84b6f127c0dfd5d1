"""Properties → usage units → measurement points, and the registers assigned to points.

Each page lists the level below and offers the forms of its level; a point's page charts its
consumption across its registers and assigns several registers at once. Every change is a
`StructureService` call, the same the API makes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

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
from zevvy_server.metering.common import Page as ListPage
from zevvy_server.metering.models import COST_TYPES, MeasurementPoint, Property, UsageUnit
from zevvy_server.metering.schemas import (
    MeasurementPointIn,
    MeasurementPointPatch,
    PropertyIn,
    PropertyPatch,
    UsageUnitIn,
    UsageUnitPatch,
)
from zevvy_server.metering.structure import AssignmentView, StructureService

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
UNITS = ("kWh", "Wh", "MWh", "m3", "l")


def _service(page: Page, session: Session) -> StructureService:
    return StructureService(session, page.ctx.clock)


async def _try(page: Page, work: Callable[[Session], Any]) -> str | None:
    """Run a change; a refusal the member can fix comes back as text, anything else is raised."""
    try:
        await page.write(work)
    except ZevvyError as exc:
        if exc.status == 403:
            raise
        return describe(page, exc)
    return None


def _fields(form: Any, *names: str) -> dict[str, str]:
    return {name: form_text(form, name) for name in names}


# -- properties -------------------------------------------------------------------------------------
async def _properties_page(
    page: Page, cursor: str | None, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    found: ListPage[Property] = await page.read(
        lambda s: _service(page, s).properties(page.actor, limit=PAGE_SIZE, cursor=cursor)
    )
    next_url = (
        "/console/properties?" + urlencode({"cursor": found.next_cursor}) if found.next_cursor else None
    )
    return page.render(
        "structure/properties.html",
        {
            "properties": found.items,
            "next_url": next_url,
            "first": cursor is None,
            "error": error,
            "form": form or {},
        },
        422 if error else 200,
    )


@router.get("/console/properties")
async def properties(request: Request, cursor: str | None = None) -> Response:
    """Every property, and the form for a new one."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _properties_page(page, cursor)


@router.post("/console/properties")
async def create_property(request: Request) -> Response:
    """Create a property."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    sent = _fields(form, "name", "reference", "address")
    data = PropertyIn(name=sent["name"], reference=sent["reference"] or None, address=sent["address"] or None)
    created: list[Property] = []
    error = await _try(page, lambda s: created.append(_service(page, s).create_property(page.actor, data)))
    if error:
        return await _properties_page(page, None, error, sent)
    return with_notice(f"/console/properties/{created[0].id}", "created")


@dataclass(frozen=True)
class PropertyDetails:
    """A property with its usage units."""

    row: Property
    units: list[UsageUnit]


async def _property_page(
    page: Page, ident: uuid.UUID, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    def load(session: Session) -> PropertyDetails:
        service = _service(page, session)
        row = service.property(page.actor, ident)
        units = service.usage_units(page.actor, property_id=ident, limit=1000, cursor=None).items
        return PropertyDetails(row, units)

    details = await page.read(load)
    return page.render(
        "structure/property.html",
        {"p": details.row, "units": details.units, "error": error, "form": form or {}},
        422 if error else 200,
    )


@router.get("/console/properties/{property_id}")
async def property_page(request: Request, property_id: str) -> Response:
    """A property, its usage units, and the forms to edit it and add a usage unit."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _property_page(page, parse_id(property_id))


@router.post("/console/properties/{property_id}")
async def update_property(request: Request, property_id: str) -> Response:
    """Change a property's name, reference or address."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(property_id)
    sent = _fields(form, "name", "reference", "address")
    patch = PropertyPatch(
        name=sent["name"], reference=sent["reference"] or None, address=sent["address"] or None
    )
    error = await _try(page, lambda s: _service(page, s).update_property(page.actor, ident, patch))
    if error:
        return await _property_page(page, ident, error, sent)
    return with_notice(f"/console/properties/{ident}", "saved")


@router.post("/console/properties/{property_id}/usage-units")
async def create_usage_unit(request: Request, property_id: str) -> Response:
    """Add a usage unit (flat, shop, common area) to the property."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(property_id)
    sent = _fields(form, "unit_name", "unit_reference")
    data = UsageUnitIn(property_id=ident, name=sent["unit_name"], reference=sent["unit_reference"] or None)
    created: list[UsageUnit] = []
    error = await _try(page, lambda s: created.append(_service(page, s).create_usage_unit(page.actor, data)))
    if error:
        return await _property_page(page, ident, error, sent)
    return with_notice(f"/console/usage-units/{created[0].id}", "created")


# -- usage units ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitDetails:
    """A usage unit with its property and measurement points."""

    row: UsageUnit
    parent: Property
    points: list[MeasurementPoint]


async def _unit_page(
    page: Page, ident: uuid.UUID, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    def load(session: Session) -> UnitDetails:
        service = _service(page, session)
        row = service.usage_unit(page.actor, ident)
        points = service.points(page.actor, usage_unit_id=ident, limit=1000, cursor=None).items
        return UnitDetails(row, service.property(page.actor, row.property_id), points)

    d = await page.read(load)
    return page.render(
        "structure/usage_unit.html",
        {
            "u": d.row,
            "parent": d.parent,
            "points": d.points,
            "cost_types": COST_TYPES,
            "units": UNITS,
            "error": error,
            "form": form or {},
        },
        422 if error else 200,
    )


@router.get("/console/usage-units/{unit_id}")
async def usage_unit_page(request: Request, unit_id: str) -> Response:
    """A usage unit, its measurement points, and the forms to edit it and add a point."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _unit_page(page, parse_id(unit_id))


@router.post("/console/usage-units/{unit_id}")
async def update_usage_unit(request: Request, unit_id: str) -> Response:
    """Change a usage unit's name or reference."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(unit_id)
    sent = _fields(form, "name", "reference")
    patch = UsageUnitPatch(name=sent["name"], reference=sent["reference"] or None)
    error = await _try(page, lambda s: _service(page, s).update_usage_unit(page.actor, ident, patch))
    if error:
        return await _unit_page(page, ident, error, sent)
    return with_notice(f"/console/usage-units/{ident}", "saved")


@router.post("/console/usage-units/{unit_id}/points")
async def create_point(request: Request, unit_id: str) -> Response:
    """Add a measurement point (what is measured for the unit: electricity, heat, ...)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(unit_id)
    sent = _fields(form, "point_name", "cost_type", "point_unit")
    data = MeasurementPointIn(
        usage_unit_id=ident,
        name=sent["point_name"],
        cost_type=sent["cost_type"],  # type: ignore[arg-type]  # the service checks the value
        unit=sent["point_unit"] or "kWh",
    )
    created: list[MeasurementPoint] = []
    error = await _try(page, lambda s: created.append(_service(page, s).create_point(page.actor, data)))
    if error:
        return await _unit_page(page, ident, error, sent)
    return with_notice(f"/console/points/{created[0].id}", "created")


# -- measurement points -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PointDetails:
    """A point with where it sits, its assignments and the registers one could assign."""

    row: MeasurementPoint
    path: lookups.PointChoice
    assignments: list[AssignmentView]
    registers: dict[uuid.UUID, lookups.AssignedRegister]
    choices: list[lookups.RegisterChoice]


async def _point_page(
    page: Page,
    ident: uuid.UUID,
    *,
    error: str | None = None,
    assign_error: str | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    params = page.request.query_params
    clock = page.ctx.clock

    def load(session: Session) -> tuple[PointDetails, charts.Series | None, str | None]:
        service = _service(page, session)
        row = service.point(page.actor, ident)
        path = lookups.point_path(session, page.actor, ident)
        assert path is not None
        assignments = service.assignments(page.actor, ident, limit=1000, cursor=None).items
        registers = lookups.registers_by_id(session, page.actor, [a.register_id for a in assignments])
        choices = lookups.register_choices(session, page.actor) if page.can_edit else []
        details = PointDetails(row, path, assignments, registers, choices)
        try:
            rng = charts.chart_range(
                view="consumption",
                interval=params.get("interval"),
                from_text=params.get("from"),
                to_text=params.get("to"),
                until=params.get("until"),
                latest_us=lookups.point_latest_reading(session, ident),
                clock=clock,
                views=("consumption",),
            )
            return details, charts.point_series(session, clock, page.actor, ident, rng), None
        except ZevvyError as exc:
            return details, None, describe(page, exc)

    d, series, chart_error = await page.read(load)
    base = f"/console/points/{ident}"
    return page.render(
        "structure/point.html",
        {
            "d": d,
            "point": d.row,
            "cost_types": COST_TYPES,
            "units": UNITS,
            "series": series,
            "chart": charts.as_json(series, base) if series else None,
            "chart_error": chart_error,
            "base": base,
            "views": ("consumption",),
            "intervals": charts.INTERVALS,
            "error": error,
            "assign_error": assign_error,
            "form": form or {},
        },
        422 if error or assign_error else 200,
    )


@router.get("/console/points/{point_id}")
async def point_page(request: Request, point_id: str) -> Response:
    """A measurement point: its consumption chart, its registers over time, assigning more."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _point_page(page, parse_id(point_id))


@router.post("/console/points/{point_id}")
async def update_point(request: Request, point_id: str) -> Response:
    """Change a point's name, cost type or unit."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(point_id)
    sent = _fields(form, "name", "cost_type", "unit")
    patch = MeasurementPointPatch(name=sent["name"], cost_type=sent["cost_type"], unit=sent["unit"])  # type: ignore[arg-type]
    error = await _try(page, lambda s: _service(page, s).update_point(page.actor, ident, patch))
    if error:
        return await _point_page(page, ident, error=error, form=sent)
    return with_notice(f"/console/points/{ident}", "saved")


@router.post("/console/points/{point_id}/assign")
async def assign_registers(request: Request, point_id: str) -> Response:
    """Assign one or several registers to the point for one period (all or none)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(point_id)
    register_ids = []
    for value in form.getlist("register_id"):
        try:
            register_ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    valid_from, valid_to = form_text(form, "valid_from"), form_text(form, "valid_to")
    error = await assign(page, ident, register_ids, valid_from, valid_to)
    if error:
        sent = {
            "register_ids": [str(r) for r in register_ids],
            "valid_from": valid_from,
            "valid_to": valid_to,
        }
        return await _point_page(page, ident, assign_error=error, form=sent)
    return with_notice(f"/console/points/{ident}#assignments", "assigned")


# -- deleting ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Deletable:
    """What the confirmation page calls a kind of row, how to find it and where to go after."""

    what: str
    find: Callable[[StructureService, Any, uuid.UUID], Property | UsageUnit | MeasurementPoint]
    delete: Callable[[StructureService, Any, uuid.UUID], None]
    after: Callable[[Property | UsageUnit | MeasurementPoint], str]


_DELETABLE = {
    "properties": _Deletable(
        "property",
        lambda s, a, i: s.property(a, i),
        lambda s, a, i: s.delete_property(a, i),
        lambda row: "/console/properties",
    ),
    "usage-units": _Deletable(
        "usage unit",
        lambda s, a, i: s.usage_unit(a, i),
        lambda s, a, i: s.delete_usage_unit(a, i),
        lambda row: f"/console/properties/{row.property_id}",  # type: ignore[union-attr]
    ),
    "points": _Deletable(
        "measurement point",
        lambda s, a, i: s.point(a, i),
        lambda s, a, i: s.delete_point(a, i),
        lambda row: f"/console/usage-units/{row.usage_unit_id}",  # type: ignore[union-attr]
    ),
}


async def _confirm(request: Request, kind: str, row_id: str) -> Response:
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    ident, deletable = parse_id(row_id), _DELETABLE[kind]
    row = await page.read(lambda s: deletable.find(_service(page, s), page.actor, ident))
    context = {
        "what": deletable.what,
        "name": row.name,
        "action": f"/console/{kind}/{ident}/delete",
        "cancel": f"/console/{kind}/{ident}",
        "error": None,
    }
    return page.render("structure/delete.html", context)


async def _delete(request: Request, kind: str, row_id: str) -> Response:
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    ident, deletable = parse_id(row_id), _DELETABLE[kind]

    def work(session: Session) -> str:
        service = _service(page, session)
        target = deletable.after(deletable.find(service, page.actor, ident))
        deletable.delete(service, page.actor, ident)
        return target

    try:
        target = await page.write(work)
    except ZevvyError as exc:
        if exc.status in {403, 404}:
            raise
        row = await page.read(lambda s: deletable.find(_service(page, s), page.actor, ident))
        context = {
            "what": deletable.what,
            "name": row.name,
            "action": f"/console/{kind}/{ident}/delete",
            "cancel": f"/console/{kind}/{ident}",
            "error": describe(page, exc),
        }
        return page.render("structure/delete.html", context, exc.status)
    return with_notice(target, "deleted")


@router.get("/console/properties/{row_id}/delete")
async def confirm_delete_property(request: Request, row_id: str) -> Response:
    """Ask before deleting a property (refused while it has usage units)."""
    return await _confirm(request, "properties", row_id)


@router.post("/console/properties/{row_id}/delete")
async def delete_property(request: Request, row_id: str) -> Response:
    """Delete a property without usage units."""
    return await _delete(request, "properties", row_id)


@router.get("/console/usage-units/{row_id}/delete")
async def confirm_delete_usage_unit(request: Request, row_id: str) -> Response:
    """Ask before deleting a usage unit (refused while it has measurement points)."""
    return await _confirm(request, "usage-units", row_id)


@router.post("/console/usage-units/{row_id}/delete")
async def delete_usage_unit(request: Request, row_id: str) -> Response:
    """Delete a usage unit without measurement points."""
    return await _delete(request, "usage-units", row_id)


@router.get("/console/points/{row_id}/delete")
async def confirm_delete_point(request: Request, row_id: str) -> Response:
    """Ask before deleting a measurement point and its assignments."""
    return await _confirm(request, "points", row_id)


@router.post("/console/points/{row_id}/delete")
async def delete_point(request: Request, row_id: str) -> Response:
    """Delete a measurement point and its assignments."""
    return await _delete(request, "points", row_id)
