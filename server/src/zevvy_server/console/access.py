"""What the console's data pages share: the signed-in member as a service caller, role checks,
running service calls off the event loop, notices after a redirect, and display helpers.

A page starts with ``page = await open_page(request)``: either a `Page` or the response that
sends the browser to sign in (or to change a generated password). Services decide what a role may
do (viewers get 403 from them); pages only hide the controls a role cannot use.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from zevvy_server.console.framework import (
    current_user,
    language,
    login_redirect,
    redirect,
    render,
    verify_csrf,
)
from zevvy_server.console.i18n import translate
from zevvy_server.errors import NotFound, PermissionDenied, ZevvyError
from zevvy_server.identity.members import Acting
from zevvy_server.identity.sessions import SignedIn
from zevvy_server.metering.common import Actor
from zevvy_server.metering.values import EPOCH, value_to_json_text
from zevvy_server.storage.transactions import run_read, run_write
from zevvy_server.web.context import AppContext
from zevvy_server.web.deps import get_ctx

T = TypeVar("T")

# Billing in Switzerland happens in local time; every page shows and cuts days in this zone.
TIME_ZONE = "Europe/Zurich"
TZ = ZoneInfo(TIME_ZONE)
# The console is a first-party door: a member acts with every metering scope their role allows.
CONSOLE_SCOPES = frozenset({"device", "register", "measurement"})

# Messages shown after a redirect, by a fixed code (never free text from the URL).
NOTICES = {
    "saved": "Saved.",
    "created": "Created.",
    "deleted": "Deleted.",
    "assigned": "Assigned.",
    "accepted": "The sent value was applied; the previous value is kept in the revisions.",
    "rejected": "The sent value was rejected; the stored value stays.",
    "revoked": "Access revoked.",
    "disabled": "The client is disabled.",
    "enabled": "The client is enabled again.",
    "removed": "The member was removed.",
    "withdrawn": "The link no longer works.",
    "switched": "You are now working in this organization.",
}

# Human names of the members an error pointer names (the last part of "/0/validFrom").
FIELDS = {
    "name": "Name",
    "reference": "Reference",
    "address": "Address",
    "kind": "Kind",
    "period": "Period",
    "unit": "Unit",
    "obisCode": "OBIS code",
    "costType": "Cost type",
    "validFrom": "Valid from",
    "validTo": "Valid until",
    "registerId": "Register",
    "deviceReference": "Device reference",
    "registerReference": "Register reference",
    "usageUnitReference": "Usage-unit reference",
    "timeZone": "Time zone",
    "from": "From",
    "to": "To",
    "interval": "Interval",
}


@dataclass(frozen=True)
class Page:
    """A signed-in member on a console page."""

    request: Request
    ctx: AppContext
    signed_in: SignedIn

    @property
    def role(self) -> str | None:
        """admin, editor, viewer, or None without an organization."""
        return self.signed_in.role

    @property
    def can_edit(self) -> bool:
        """Editors and admins change data."""
        return self.role in {"admin", "editor"}

    @property
    def is_admin(self) -> bool:
        """Admins manage members and API clients."""
        return self.role == "admin"

    @property
    def actor(self) -> Actor:
        """The member as a metering caller."""
        org = self.signed_in.organization_id
        if org is None or self.role is None:
            raise PermissionDenied("You are not a member of any organization yet.")
        return Actor(
            organization_id=org, user_id=self.signed_in.user.id, scopes=CONSOLE_SCOPES, role=self.role
        )

    @property
    def acting(self) -> Acting:
        """The member as an identity caller."""
        org = self.signed_in.organization_id
        if org is None:
            raise PermissionDenied("You are not a member of any organization yet.")
        return Acting(user_id=self.signed_in.user.id, organization_id=org)

    def t(self, text: str, **values: Any) -> str:
        """`text` in the page's language."""
        translated = translate(language(self.request), text)
        return translated.format(**values) if values else translated

    def require_admin(self) -> None:
        """Refuse (403) unless the member is an admin."""
        if not self.is_admin:
            raise PermissionDenied("Only an admin can do this.")

    async def read(self, work: Callable[[Session], T]) -> T:
        """Run service calls in a read session, off the event loop."""
        return await run_in_threadpool(run_read, self.ctx.db, work)

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run service calls in one write transaction (retried on lock races), off the event loop."""
        return await run_in_threadpool(run_write, self.ctx.db, work)

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, status: int = 200
    ) -> HTMLResponse:
        """Render with the member's permissions, the notice and the display helpers."""
        values: dict[str, Any] = {
            "role": self.role,
            "can_edit": self.can_edit,
            "is_admin": self.is_admin,
            "notice": NOTICES.get(self.request.query_params.get("notice", "")),
            "local": local_text,
            "local_dt": local_datetime_text,
            "num": number_text,
            "time_zone": TIME_ZONE,
        }
        values.update(context or {})
        return render(self.request, template, values, status=status)


async def open_page(request: Request) -> Page | Response:
    """The signed-in member, or the redirect to sign in or to change a generated password."""
    request.state.html_errors = True
    signed_in = await current_user(request)
    if signed_in is None:
        return login_redirect(request)
    if signed_in.user.must_change_password:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect("/console/password?" + urlencode({"next": target}))
    return Page(request=request, ctx=get_ctx(request), signed_in=signed_in)


async def open_form(request: Request) -> tuple[Page | Response, FormData]:
    """A posted form whose CSRF token checked out (403 otherwise), and its signed-in member."""
    request.state.html_errors = True
    form = await verify_csrf(request)
    return await open_page(request), form


def with_notice(url: str, notice: str) -> Response:
    """Redirect (303) to `url` showing one of the fixed notices."""
    separator = "&" if "?" in url else "?"
    return redirect(f"{url}{separator}notice={notice}")


def describe(page: Page, exc: ZevvyError) -> str:
    """A domain error in plain words of the page's language, naming the fields it concerns."""
    text = page.t(exc.message)
    parts = []
    for detail in exc.details[:5]:
        pointer = str(detail.get("pointer", ""))
        field = pointer.rsplit("/", 1)[-1]
        said = str(detail.get("message") or detail.get("problem", ""))
        label = page.t(FIELDS.get(field, field)) if field else ""
        if said and page.t(said) != text:
            parts.append(f"{label}: {page.t(said)}" if label else page.t(said))
        elif label and label not in text:
            parts.append(label)
    return text + (" (" + "; ".join(parts) + ")" if parts else "")


# -- display ----------------------------------------------------------------------------------------
def to_local(epoch_us: int) -> datetime:
    """The local (Zurich) time of an instant."""
    return (EPOCH + timedelta(microseconds=epoch_us)).astimezone(TZ)


def local_text(epoch_us: int | None, style: str = "minute") -> str:
    """An instant as local time: ``2024-03-31 14:15`` (minute), with seconds, date or month."""
    if epoch_us is None:
        return ""
    moment = to_local(epoch_us)
    if style == "date":
        return moment.strftime("%Y-%m-%d")
    if style == "month":
        return moment.strftime("%Y-%m")
    if style == "second":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if style == "offset":
        # The offset tells the two 02:30 of an autumn DST night apart.
        offset = moment.strftime("%z")
        return moment.strftime("%Y-%m-%d %H:%M ") + f"{offset[:3]}:{offset[3:]}"
    return moment.strftime("%Y-%m-%d %H:%M")


def local_datetime_text(moment: datetime | None) -> str:
    """A stored UTC datetime as local time to the minute."""
    if moment is None:
        return ""
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def number_text(micros: int | None) -> str:
    """A stored value as its exact decimal text (the API's JSON number)."""
    return "" if micros is None else value_to_json_text(micros)


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` form value, or None when empty or malformed."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def form_text(form: Mapping[str, Any], name: str) -> str:
    """A form field as stripped text ('' when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_id(text: str) -> uuid.UUID:
    """A UUID from the path; anything else names nothing (404, like an unknown id)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound() from None
