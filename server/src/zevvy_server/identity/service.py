"""Use cases of the identity domain: accounts, organizations, members, login, audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity import throttle
from zevvy_server.identity.errors import (
    InvalidCredentials,
    InvalidRole,
    OrganizationNameTaken,
    OrganizationNotFound,
    TooManyAttempts,
    UsernameTaken,
    UserNotFound,
    WeakPassword,
)
from zevvy_server.identity.models import ROLES, AuditEvent, Membership, Organization, User
from zevvy_server.identity.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

LOGIN_WINDOW = 600  # seconds; failed logins are counted per account and per IP in this window


def normalize_username(username: str) -> str:
    """Usernames compare case-insensitively and without surrounding spaces."""
    return username.strip().casefold()


@dataclass(frozen=True)
class MembershipInfo:
    """A user's role in one organization."""

    organization_id: uuid.UUID
    organization_name: str
    role: str


class IdentityService:
    """Accounts, organizations and memberships, within one session (transaction)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    # -- accounts -------------------------------------------------------------------------------
    def create_user(
        self, username: str, email: str, password: str, *, must_change_password: bool = False
    ) -> User:
        """Create an account; the username must be free and the password long enough."""
        name = normalize_username(username)
        if not name or len(name) > 150:
            raise UsernameTaken("The username must have 1 to 150 characters.")
        if len(password) < MIN_LENGTH:
            raise WeakPassword()
        if self.session.scalar(select(User.id).where(User.username == name)) is not None:
            raise UsernameTaken()
        now = self.clock.now()
        user = User(
            id=uuid.uuid4(),
            username=name,
            email=email.strip(),
            password_hash=hash_password(password),
            must_change_password=must_change_password,
            enabled=True,
            created_at=now,
            password_changed_at=now,
        )
        self.session.add(user)
        self.session.flush()
        return user

    def get_user(self, user_id: uuid.UUID) -> User:
        """The account with this id."""
        user = self.session.get(User, user_id)
        if user is None:
            raise UserNotFound()
        return user

    def find_user(self, username: str) -> User | None:
        """The account with this username, if any."""
        return self.session.scalar(select(User).where(User.username == normalize_username(username)))

    def authenticate(
        self, username: str, password: str, *, ip: str | None, settings_limits: tuple[int, int]
    ) -> User:
        """Check a login; counts failures per account and per IP and refuses when over the limit."""
        per_account, per_ip = settings_limits
        now = self.clock.time()
        name = normalize_username(username)
        account_key = f"login:user:{name}"
        ip_key = f"login:ip:{ip}" if ip else None
        if throttle.attempts(
            self.session, account_key, now=now, window_seconds=LOGIN_WINDOW
        ) >= per_account or (
            ip_key
            and throttle.attempts(self.session, ip_key, now=now, window_seconds=LOGIN_WINDOW * 6) >= per_ip
        ):
            raise TooManyAttempts(retry_after=LOGIN_WINDOW)
        user = self.find_user(name)
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None or not user.enabled:
            throttle.record_attempt(self.session, account_key, now=now, window_seconds=LOGIN_WINDOW)
            if ip_key:
                throttle.record_attempt(self.session, ip_key, now=now, window_seconds=LOGIN_WINDOW * 6)
            raise InvalidCredentials()
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return user

    def change_password(self, user: User, new_password: str) -> None:
        """Set a new password and clear the must-change flag."""
        if len(new_password) < MIN_LENGTH:
            raise WeakPassword()
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_changed_at = self.clock.now()

    # -- organizations and members --------------------------------------------------------------
    def create_organization(self, name: str) -> Organization:
        """Create an organization with a unique name."""
        name = name.strip()
        if not name:
            raise OrganizationNameTaken("The organization needs a name.")
        if self.session.scalar(select(Organization.id).where(Organization.name == name)):
            raise OrganizationNameTaken()
        org = Organization(id=uuid.uuid4(), name=name, created_at=self.clock.now())
        self.session.add(org)
        self.session.flush()
        return org

    def find_organization(self, name: str) -> Organization | None:
        """The organization with this name, if any."""
        return self.session.scalar(select(Organization).where(Organization.name == name.strip()))

    def get_organization(self, org_id: uuid.UUID) -> Organization:
        """The organization with this id."""
        org = self.session.get(Organization, org_id)
        if org is None:
            raise OrganizationNotFound()
        return org

    def add_member(self, org: Organization, user: User, role: str) -> Membership:
        """Give `user` a role in `org` (or change it)."""
        if role not in ROLES:
            raise InvalidRole()
        membership = self.session.get(Membership, (user.id, org.id))
        if membership is None:
            membership = Membership(
                user_id=user.id, organization_id=org.id, role=role, created_at=self.clock.now()
            )
            self.session.add(membership)
        else:
            membership.role = role
        self.session.flush()
        return membership

    def memberships(self, user_id: uuid.UUID) -> list[MembershipInfo]:
        """The organizations of a user with the role in each, by name."""
        rows = self.session.execute(
            select(Membership.organization_id, Organization.name, Membership.role)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Membership.user_id == user_id)
            .order_by(Organization.name)
        ).all()
        return [MembershipInfo(r[0], r[1], r[2]) for r in rows]

    def role_in(self, user_id: uuid.UUID, org_id: uuid.UUID) -> str | None:
        """The user's role in the organization, or None when not a member."""
        return self.session.scalar(
            select(Membership.role).where(Membership.user_id == user_id, Membership.organization_id == org_id)
        )

    # -- audit ----------------------------------------------------------------------------------
    def audit(
        self,
        action: str,
        *,
        organization_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        client_id: str | None = None,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        ip: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Append one event to the audit log."""
        self.session.add(
            AuditEvent(
                at=at or self.clock.now(),
                organization_id=organization_id,
                user_id=user_id,
                client_id=client_id,
                action=action,
                target=target,
                details=details or {},
                ip=ip,
            )
        )
