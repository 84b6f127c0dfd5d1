"""Members and roles of an organization, invitation and password-reset links, the audit log.

Links replace mail: an admin issues one, the server shows it once, and the admin hands it over.
Only the SHA-256 of a link's token is stored; a link works once and expires (an invitation after
7 days, a reset after 24 hours). An organization always keeps at least one admin.

A password-reset link is refused for accounts that also belong to another organization: an admin
of one organization must not be able to take over an account another organization relies on.

    members = MemberService(session, clock)
    link = members.invite(acting, role="editor")   # show link.token once
    members.accept_invitation(link.token, "alice", "alice@example.org", "a long password")
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from zevvy_server.identity.errors import InvalidRole, UserNotFound
from zevvy_server.identity.models import ROLES, AuditEvent, Membership, OneTimeLink, User
from zevvy_server.identity.service import IdentityService
from zevvy_server.identity.sessions import ConsoleSessions, token_hash

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"  # noqa: S105 - the name of a link purpose, not a secret
LINK_LIFETIMES = {INVITATION: timedelta(days=7), PASSWORD_RESET: timedelta(hours=24)}
AUDIT_PAGE = 50


class LastAdmin(Conflict):
    """The change would leave the organization without an admin."""

    code = "last_admin"
    message = "An organization needs at least one admin."


class LinkInvalid(NotFound):
    """The link is unknown, used or expired."""

    code = "link_invalid"
    message = "This link is invalid, has been used or has expired. Ask an admin for a new one."


class NotAMember(NotFound):
    """The user is not a member of the organization."""

    message = "No such member."


class SharedAccount(PermissionDenied):
    """A reset link for an account that other organizations rely on as well."""

    code = "shared_account"
    message = (
        "This account also belongs to another organization; only the server's operator can reset "
        "its password."
    )


class PasswordsDiffer(InvalidInput):
    """The password and its repetition differ."""

    code = "passwords_differ"
    message = "The passwords do not match."


@dataclass(frozen=True)
class Acting:
    """Who acts in the console: a user within one organization."""

    user_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class Member:
    """A member of an organization with their role."""

    user: User
    role: str
    since: datetime


@dataclass(frozen=True)
class IssuedLink:
    """A freshly issued link's token (shown once) and what it is for."""

    token: str
    purpose: str
    expires_at: datetime
    role: str | None
    user: User | None


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, newest first, with the usernames of the users it names."""

    events: list[AuditEvent]
    usernames: dict[uuid.UUID, str]
    next_before: int | None


class MemberService:
    """Members, roles and one-time links of an organization, within one session (transaction)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.identity = IdentityService(session, clock)

    # -- authorization ----------------------------------------------------------------------------
    def role_of(self, acting: Acting) -> str | None:
        """The acting user's current role (read from the database, not from a cookie)."""
        return self.identity.role_in(acting.user_id, acting.organization_id)

    def require_admin(self, acting: Acting) -> None:
        """Members, links and the audit log are for admins only."""
        if self.role_of(acting) != "admin":
            raise PermissionDenied("Only an admin can do this.")

    # -- members ----------------------------------------------------------------------------------
    def members(self, acting: Acting) -> list[Member]:
        """The organization's members by username (any member may see who else is in it)."""
        if self.role_of(acting) is None:
            raise PermissionDenied()
        rows = self.session.execute(
            select(User, Membership.role, Membership.created_at)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == acting.organization_id)
            .order_by(User.username)
        ).all()
        return [Member(user=r[0], role=r[1], since=r[2]) for r in rows]

    def _membership(self, acting: Acting, user_id: uuid.UUID) -> Membership:
        membership = self.session.get(Membership, (user_id, acting.organization_id), with_for_update=True)
        if membership is None:
            raise NotAMember()
        return membership

    def _admins(self, organization_id: uuid.UUID) -> int:
        return int(
            self.session.scalar(
                select(func.count()).where(
                    Membership.organization_id == organization_id, Membership.role == "admin"
                )
            )
            or 0
        )

    def change_role(self, acting: Acting, user_id: uuid.UUID, role: str) -> Membership:
        """Give a member another role; the last admin stays an admin."""
        self.require_admin(acting)
        if role not in ROLES:
            raise InvalidRole()
        membership = self._membership(acting, user_id)
        if membership.role == role:
            return membership
        if membership.role == "admin" and self._admins(acting.organization_id) <= 1:
            raise LastAdmin()
        before = membership.role
        membership.role = role
        self._audit(acting, "member.role_changed", user_id, {"from": before, "to": role})
        return membership

    def remove(self, acting: Acting, user_id: uuid.UUID) -> None:
        """Remove a member; their tokens for this organization stop working (membership check)."""
        self.require_admin(acting)
        membership = self._membership(acting, user_id)
        if membership.role == "admin" and self._admins(acting.organization_id) <= 1:
            raise LastAdmin()
        self.session.delete(membership)
        self._audit(acting, "member.removed", user_id, {"role": membership.role})

    # -- links ------------------------------------------------------------------------------------
    def invite(self, acting: Acting, role: str, note: str | None = None) -> IssuedLink:
        """A link that lets someone create an account and join with `role`."""
        self.require_admin(acting)
        if role not in ROLES:
            raise InvalidRole()
        issued = self._issue(acting, INVITATION, role=role, user=None, note=note)
        self._audit(acting, "invitation.issued", None, {"role": role, "note": note})
        return issued

    def reset_link(self, acting: Acting, user_id: uuid.UUID) -> IssuedLink:
        """A link that lets a member of this organization (only) choose a new password."""
        self.require_admin(acting)
        self._membership(acting, user_id)
        elsewhere = self.session.scalar(
            select(func.count()).where(
                Membership.user_id == user_id, Membership.organization_id != acting.organization_id
            )
        )
        if elsewhere:
            raise SharedAccount()
        user = self.identity.get_user(user_id)
        issued = self._issue(acting, PASSWORD_RESET, role=None, user=user, note=None)
        self._audit(acting, "password_reset.issued", user_id, {})
        return issued

    def pending_links(self, acting: Acting) -> list[OneTimeLink]:
        """Unused, unexpired links of the organization (without their tokens), newest first."""
        self.require_admin(acting)
        return list(
            self.session.scalars(
                select(OneTimeLink)
                .where(
                    OneTimeLink.organization_id == acting.organization_id,
                    OneTimeLink.used_at.is_(None),
                    OneTimeLink.expires_at > self.clock.now(),
                )
                .order_by(desc(OneTimeLink.created_at))
            )
        )

    def withdraw(self, acting: Acting, link_hash: str) -> None:
        """Make an issued link unusable."""
        self.require_admin(acting)
        link = self.session.get(OneTimeLink, link_hash, with_for_update=True)
        if link is None or link.organization_id != acting.organization_id or link.used_at is not None:
            raise LinkInvalid()
        link.expires_at = self.clock.now()
        self._audit(acting, f"{link.purpose}.withdrawn", link.user_id, {})

    def open_link(self, token: str, purpose: str) -> OneTimeLink:
        """The usable link behind `token`, or `LinkInvalid`."""
        link = self.session.get(OneTimeLink, token_hash(token)) if token else None
        if (
            link is None
            or link.purpose != purpose
            or link.used_at is not None
            or link.expires_at <= self.clock.now()
        ):
            raise LinkInvalid()
        return link

    def accept_invitation(
        self, token: str, username: str, email: str, password: str, repeat: str | None = None
    ) -> User:
        """Create the invitee's account and membership; the link is used up."""
        link = self._use(token, INVITATION)
        if repeat is not None and password != repeat:
            raise PasswordsDiffer()
        assert link.organization_id is not None and link.role is not None
        user = self.identity.create_user(username, email, password)
        self.identity.add_member(self.identity.get_organization(link.organization_id), user, link.role)
        link.user_id = user.id
        self.identity.audit(
            "invitation.accepted",
            organization_id=link.organization_id,
            user_id=user.id,
            target=f"user:{user.id}",
            details={"role": link.role, "invitedBy": str(link.created_by) if link.created_by else None},
        )
        return user

    def reset_password(self, token: str, password: str, repeat: str | None = None) -> User:
        """Set the new password, sign the account out everywhere; the link is used up."""
        link = self._use(token, PASSWORD_RESET)
        if repeat is not None and password != repeat:
            raise PasswordsDiffer()
        if link.user_id is None:
            raise LinkInvalid()
        try:
            user = self.identity.get_user(link.user_id)
        except UserNotFound:
            raise LinkInvalid() from None
        self.identity.change_password(user, password)
        ConsoleSessions(self.session, self.clock, 0).end_all(user.id)
        self.identity.audit(
            "password_reset.used",
            organization_id=link.organization_id,
            user_id=user.id,
            target=f"user:{user.id}",
        )
        return user

    def _use(self, token: str, purpose: str) -> OneTimeLink:
        link = self.open_link(token, purpose)
        locked = self.session.get(OneTimeLink, link.token_hash, with_for_update=True)
        if locked is None or locked.used_at is not None:
            raise LinkInvalid()
        locked.used_at = self.clock.now()
        return locked

    def _issue(
        self, acting: Acting, purpose: str, *, role: str | None, user: User | None, note: str | None
    ) -> IssuedLink:
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        expires = now + LINK_LIFETIMES[purpose]
        self.session.add(
            OneTimeLink(
                token_hash=token_hash(token),
                purpose=purpose,
                user_id=user.id if user else None,
                organization_id=acting.organization_id,
                role=role,
                created_by=acting.user_id,
                created_at=now,
                expires_at=expires,
                used_at=None,
                note=(note or "").strip()[:500] or None,
            )
        )
        self.session.flush()
        return IssuedLink(token=token, purpose=purpose, expires_at=expires, role=role, user=user)

    def _audit(self, acting: Acting, action: str, user_id: uuid.UUID | None, details: dict[str, Any]) -> None:
        self.identity.audit(
            action,
            organization_id=acting.organization_id,
            user_id=acting.user_id,
            target=f"user:{user_id}" if user_id else None,
            details=details,
        )

    # -- audit log --------------------------------------------------------------------------------
    def audit_log(
        self,
        acting: Acting,
        *,
        action: str | None = None,
        username: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = AUDIT_PAGE,
    ) -> AuditPage:
        """The organization's audit log, newest first: `action` filters by prefix, `username` by
        the acting user, [since, until) by time; `before` continues after an event id."""
        self.require_admin(acting)
        query = select(AuditEvent).where(AuditEvent.organization_id == acting.organization_id)
        if action:
            query = query.where(AuditEvent.action.startswith(action.strip(), autoescape=True))
        if username:
            user = self.identity.find_user(username)
            query = query.where(AuditEvent.user_id == (user.id if user else uuid.UUID(int=0)))
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if until is not None:
            query = query.where(AuditEvent.at < until)
        if before is not None:
            query = query.where(AuditEvent.id < before)
        rows = list(self.session.scalars(query.order_by(desc(AuditEvent.id)).limit(limit + 1)))
        events = rows[:limit]
        ids = {e.user_id for e in events if e.user_id is not None}
        names = (
            dict(self.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
            if ids
            else {}
        )
        return AuditPage(events, names, events[-1].id if len(rows) > limit else None)

    def audit_actions(self, acting: Acting) -> list[str]:
        """The distinct actions the organization's log holds, for a filter's choices."""
        self.require_admin(acting)
        return list(
            self.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.organization_id == acting.organization_id)
                .distinct()
                .order_by(AuditEvent.action)
            )
        )
