"""The console's start page: what needs attention, and which organization the member works in."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from zevvy_server.console import lookups
from zevvy_server.console.access import open_form, open_page, with_notice
from zevvy_server.errors import PermissionDenied
from zevvy_server.identity.service import IdentityService, MembershipInfo
from zevvy_server.identity.sessions import ConsoleSessions

router = APIRouter(include_in_schema=False)


@router.get("/console/")
async def home(request: Request) -> Response:
    """Unassigned devices, silent registers and open conflicts, each with a link to act on it."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    ctx, user_id = page.ctx, page.signed_in.user.id

    def load(session: Session) -> tuple[list[MembershipInfo], lookups.Attention | None]:
        memberships = IdentityService(session, ctx.clock).memberships(user_id)
        if page.signed_in.organization_id is None:
            return memberships, None
        return memberships, lookups.attention(session, ctx.clock, page.actor)

    memberships, attention = await page.read(load)
    current = next((m for m in memberships if m.organization_id == page.signed_in.organization_id), None)
    return page.render(
        "home/index.html", {"memberships": memberships, "current": current, "attention": attention}
    )


@router.post("/console/organization")
async def switch_organization(request: Request) -> Response:
    """Work in another organization the member belongs to."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    try:
        wanted = uuid.UUID(str(form.get("organization_id", "")))
    except ValueError:
        raise PermissionDenied("You are not a member of this organization.") from None
    ctx, signed_in = page.ctx, page.signed_in

    def switch(session: Session) -> None:
        if IdentityService(session, ctx.clock).role_in(signed_in.user.id, wanted) is None:
            raise PermissionDenied("You are not a member of this organization.")
        sessions = ConsoleSessions(session, ctx.clock, ctx.settings.console_session_idle)
        sessions.switch_organization(signed_in.token_hash, wanted)

    await page.write(switch)
    return with_notice("/console/", "switched")
