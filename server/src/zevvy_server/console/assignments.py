"""Assignments of registers to measurement points: assigning (from a register's page or a
point's page, several registers at once), ending and removing them, and saying clearly where a
register is assigned already when a new period would overlap."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from zevvy_server.console import lookups
from zevvy_server.console.access import (
    Page,
    describe,
    form_text,
    local_text,
    open_form,
    parse_id,
    with_notice,
)
from zevvy_server.console.framework import safe_next
from zevvy_server.errors import ZevvyError
from zevvy_server.metering.common import Actor
from zevvy_server.metering.errors import AssignmentOverlap
from zevvy_server.metering.schemas import AssignmentIn, AssignmentPatch
from zevvy_server.metering.structure import StructureService

router = APIRouter(include_in_schema=False)


def overlap_message(page: Page, session: Session, actor: Actor, exc: AssignmentOverlap) -> str:
    """Say where the register is assigned already, and for when."""
    try:
        existing = StructureService(session, page.ctx.clock).assignment(
            actor, uuid.UUID(exc.extra["assignmentId"])
        )
    except (ZevvyError, ValueError, KeyError):
        return page.t(exc.message)
    point = lookups.point_path(session, actor, existing.assignment.measurement_point_id)
    until = (
        local_text(existing.assignment.valid_to, "date")
        if existing.assignment.valid_to
        else page.t("open end")
    )
    return page.t(
        "This register is already assigned to {point} ({unit}, {property}) from {start} until {end}. "
        "End that assignment first or choose a period that does not overlap.",
        point=point.point_name if point else "?",
        unit=point.usage_unit_name if point else "?",
        property=point.property_name if point else "?",
        start=local_text(existing.assignment.valid_from, "date"),
        end=until,
    )


async def assign(
    page: Page, point_id: uuid.UUID, register_ids: list[uuid.UUID], valid_from: str, valid_to: str
) -> str | None:
    """Assign registers to a point for a period (all or none); the error in plain words, or None."""
    clock, actor = page.ctx.clock, page.actor
    items = [
        AssignmentIn(register_id=r, valid_from=valid_from, valid_to=valid_to or None) for r in register_ids
    ]

    if not register_ids:
        return page.t("Choose at least one register.")
    if not valid_from:
        return page.t("Choose the day the assignment starts.")
    try:
        await page.write(lambda s: StructureService(s, clock).assign(actor, point_id, items))
    except AssignmentOverlap as exc:
        overlap = exc
        return await page.read(lambda s: overlap_message(page, s, actor, overlap))
    except ZevvyError as exc:
        if exc.status == 403:
            raise
        return describe(page, exc)
    return None


@router.post("/console/assignments/{assignment_id}/end")
async def end_assignment(request: Request, assignment_id: str) -> Response:
    """End an assignment on a day (the day itself no longer counts)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(assignment_id)
    back = safe_next(form_text(form, "back"))
    patch = AssignmentPatch(valid_to=form_text(form, "valid_to") or None)
    await page.write(
        lambda s: StructureService(s, page.ctx.clock).update_assignment(page.actor, ident, patch)
    )
    return with_notice(back, "saved")


@router.post("/console/assignments/{assignment_id}/delete")
async def delete_assignment(request: Request, assignment_id: str) -> Response:
    """Remove an assignment (audited; its period stops counting for the point)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(assignment_id)
    back = safe_next(form_text(form, "back"))
    await page.write(lambda s: StructureService(s, page.ctx.clock).delete_assignment(page.actor, ident))
    return with_notice(back, "deleted")
