"""Settings → members and roles (admins), invitation and password-reset links shown once, the
audit log; and the two public pages those links open.

Tokens travel in the query string, not the path: request logs leave query strings out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from zevvy_server.console.access import (
    TZ,
    Page,
    describe,
    form_text,
    open_form,
    open_page,
    parse_day,
    parse_id,
    with_notice,
)
from zevvy_server.console.framework import redirect, render, sign_in, start_session, verify_csrf
from zevvy_server.errors import ZevvyError
from zevvy_server.identity.members import (
    INVITATION,
    PASSWORD_RESET,
    AuditPage,
    IssuedLink,
    LinkInvalid,
    Member,
    MemberService,
)
from zevvy_server.identity.models import ROLES, OneTimeLink
from zevvy_server.identity.service import IdentityService
from zevvy_server.web.deps import get_ctx

router = APIRouter(include_in_schema=False)


def _members(page: Page, session: Session) -> MemberService:
    return MemberService(session, page.ctx.clock)


async def _members_page(page: Page, error: str | None = None, status: int = 200) -> Response:
    def load(session: Session) -> tuple[list[Member], list[OneTimeLink]]:
        service = _members(page, session)
        members = service.members(page.acting)
        links = service.pending_links(page.acting) if page.is_admin else []
        return members, links

    members, links = await page.read(load)
    return page.render(
        "settings/members.html",
        {"members": members, "links": links, "roles": ROLES, "error": error, "me": page.signed_in.user.id},
        status,
    )


@router.get("/console/settings/members")
async def members(request: Request) -> Response:
    """Members with their roles; admins change roles, remove members and issue links."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _members_page(page)


async def _change(page: Page, work: Any, notice: str) -> Response:
    try:
        await page.write(work)
    except ZevvyError as exc:
        if exc.status in {403, 404}:
            raise
        return await _members_page(page, describe(page, exc), exc.status)
    return with_notice("/console/settings/members", notice)


@router.post("/console/settings/members/{user_id}/role")
async def change_role(request: Request, user_id: str) -> Response:
    """Give a member another role (the last admin stays one)."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    ident, role = parse_id(user_id), form_text(form, "role")
    return await _change(page, lambda s: _members(page, s).change_role(page.acting, ident, role), "saved")


@router.get("/console/settings/members/{user_id}/remove")
async def confirm_remove(request: Request, user_id: str) -> Response:
    """Ask before removing a member."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    page.require_admin()
    ident = parse_id(user_id)
    member = await page.read(
        lambda s: next((m for m in _members(page, s).members(page.acting) if m.user.id == ident), None)
    )
    if member is None:
        raise LinkInvalid("No such member.")
    return page.render("settings/member_remove.html", {"member": member})


@router.post("/console/settings/members/{user_id}/remove")
async def remove(request: Request, user_id: str) -> Response:
    """Remove a member: their console access and their tokens for this organization end."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(user_id)
    return await _change(page, lambda s: _members(page, s).remove(page.acting, ident), "removed")


def _link_url(page: Page, issued: IssuedLink) -> str:
    path = "/console/invitation" if issued.purpose == INVITATION else "/console/reset-password"
    return f"{page.ctx.settings.base_url}{path}?{urlencode({'token': issued.token})}"


async def _issued(page: Page, work: Any) -> Response:
    try:
        issued: IssuedLink = await page.write(work)
    except ZevvyError as exc:
        if exc.status in {403, 404}:
            raise
        return await _members_page(page, describe(page, exc), exc.status)
    return page.render("settings/link_issued.html", {"issued": issued, "url": _link_url(page, issued)})


@router.post("/console/settings/members/{user_id}/reset-link")
async def reset_link(request: Request, user_id: str) -> Response:
    """Issue a password-reset link for a member; shown once."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    ident = parse_id(user_id)
    return await _issued(page, lambda s: _members(page, s).reset_link(page.acting, ident))


@router.post("/console/settings/invitations")
async def invite(request: Request) -> Response:
    """Issue an invitation link with a role; shown once."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    role, note = form_text(form, "role"), form_text(form, "note") or None
    return await _issued(page, lambda s: _members(page, s).invite(page.acting, role, note))


@router.post("/console/settings/links/{link_hash}/withdraw")
async def withdraw(request: Request, link_hash: str) -> Response:
    """Make an issued link unusable."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    return await _change(page, lambda s: _members(page, s).withdraw(page.acting, link_hash), "withdrawn")


# -- audit log --------------------------------------------------------------------------------------
def _day_start(text: str | None, days: int = 0) -> datetime | None:
    day = parse_day(text)
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(days=days)


@router.get("/console/settings/audit")
async def audit(
    request: Request,
    action: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: str | None = None,
) -> Response:
    """Who did what and when, newest first; filter by action, user and days (admins)."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page

    def load(session: Session) -> tuple[AuditPage, list[str]]:
        service = _members(page, session)
        found = service.audit_log(
            page.acting,
            action=action or None,
            username=user or None,
            since=_day_start(since),
            until=_day_start(until, days=1),
            before=int(before) if before and before.isdigit() else None,
        )
        return found, service.audit_actions(page.acting)

    found, actions = await page.read(load)
    filters = {k: v for k, v in {"action": action, "user": user, "since": since, "until": until}.items() if v}
    next_url = (
        "/console/settings/audit?" + urlencode({**filters, "before": found.next_before})
        if found.next_before
        else None
    )
    return page.render(
        "settings/audit.html",
        {
            "page_": found,
            "actions": actions,
            "filters": filters,
            "next_url": next_url,
            "first": before is None,
        },
    )


# -- the pages links open -----------------------------------------------------------------------------
async def _open(request: Request, token: str, purpose: str) -> tuple[OneTimeLink, str] | None:
    """The usable link and the name of its organization, or None."""
    ctx = get_ctx(request)

    def load() -> tuple[OneTimeLink, str] | None:
        with ctx.db.read() as session:
            try:
                link = MemberService(session, ctx.clock).open_link(token, purpose)
            except LinkInvalid:
                return None
            org = link.organization_id
            name = IdentityService(session, ctx.clock).get_organization(org).name if org else ""
            session.expunge(link)
            return link, name

    return await run_in_threadpool(load)


@router.get("/console/invitation")
async def invitation_form(request: Request, token: str = "") -> Response:
    """The invitee chooses a username and a password."""
    request.state.html_errors = True
    opened = await _open(request, token, INVITATION)
    if opened is None:
        return render(request, "settings/link_invalid.html", status=404)
    link, organization = opened
    context = {"token": token, "organization": organization, "role": link.role, "error": None}
    return render(request, "settings/invitation.html", context)


@router.post("/console/invitation")
async def accept_invitation(request: Request) -> Response:
    """Create the account, join the organization, and sign in."""
    request.state.html_errors = True
    form = await verify_csrf(request)
    ctx = get_ctx(request)
    token = form_text(form, "token")
    username, email = form_text(form, "username"), form_text(form, "email")
    password, repeat = str(form.get("password", "")), str(form.get("repeat_password", ""))

    def work() -> None:
        with ctx.db.write() as session:
            MemberService(session, ctx.clock).accept_invitation(token, username, email, password, repeat)

    try:
        await run_in_threadpool(work)
    except LinkInvalid:
        return render(request, "settings/link_invalid.html", status=404)
    except ZevvyError as exc:
        opened = await _open(request, token, INVITATION)
        context = {
            "token": token,
            "organization": opened[1] if opened else "",
            "role": opened[0].role if opened else "",
            "error": exc.message,
            "username": username,
            "email": email,
        }
        return render(request, "settings/invitation.html", context, status=exc.status)
    signed = await sign_in(request, username, password)
    done = redirect("/console/")
    start_session(request, done, signed.token)
    return done


@router.get("/console/reset-password")
async def reset_form(request: Request, token: str = "") -> Response:
    """The member chooses a new password."""
    request.state.html_errors = True
    if await _open(request, token, PASSWORD_RESET) is None:
        return render(request, "settings/link_invalid.html", status=404)
    return render(request, "settings/reset.html", {"token": token, "error": None, "done": False})


@router.post("/console/reset-password")
async def reset_password(request: Request) -> Response:
    """Set the new password; every session of the account ends."""
    request.state.html_errors = True
    form = await verify_csrf(request)
    ctx = get_ctx(request)
    token = form_text(form, "token")
    password, repeat = str(form.get("password", "")), str(form.get("repeat_password", ""))

    def work() -> None:
        with ctx.db.write() as session:
            MemberService(session, ctx.clock).reset_password(token, password, repeat)

    try:
        await run_in_threadpool(work)
    except LinkInvalid:
        return render(request, "settings/link_invalid.html", status=404)
    except ZevvyError as exc:
        return render(
            request,
            "settings/reset.html",
            {"token": token, "error": exc.message, "done": False},
            status=exc.status,
        )
    return render(request, "settings/reset.html", {"token": "", "error": None, "done": True})
