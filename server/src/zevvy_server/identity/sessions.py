"""Console sign-in sessions: a random cookie value, stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.models import ConsoleSession, Membership, User


def token_hash(token: str) -> str:
    """The lookup hash of a high-entropy token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignedIn:
    """The user behind a console cookie, and the organization they are working in."""

    user: User
    organization_id: uuid.UUID | None
    role: str | None
    token_hash: str


class ConsoleSessions:
    """Create, resolve and end console sessions."""

    def __init__(self, session: Session, clock: Clock, idle_seconds: int) -> None:
        self.session = session
        self.clock = clock
        self.idle = timedelta(seconds=idle_seconds)

    def start(self, user: User, organization_id: uuid.UUID | None) -> str:
        """A new session for `user`; returns the cookie value (a fresh one at every login)."""
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        self.session.add(
            ConsoleSession(
                token_hash=token_hash(token),
                user_id=user.id,
                organization_id=organization_id,
                csrf_token=secrets.token_urlsafe(24),
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.idle,
            )
        )
        return token

    def resolve(self, token: str | None) -> SignedIn | None:
        """The signed-in user for a cookie value, sliding its idle deadline; None when invalid."""
        if not token:
            return None
        row = self.session.get(ConsoleSession, token_hash(token))
        now = self.clock.now()
        if row is None or row.expires_at <= now:
            return None
        user = self.session.get(User, row.user_id)
        if user is None or not user.enabled:
            return None
        role = None
        if row.organization_id is not None:
            membership = self.session.get(Membership, (user.id, row.organization_id))
            role = membership.role if membership else None
        if now - row.last_seen_at > timedelta(seconds=60):
            row.last_seen_at = now
            row.expires_at = now + self.idle
        return SignedIn(
            user=user,
            organization_id=row.organization_id if role else None,
            role=role,
            token_hash=row.token_hash,
        )

    def switch_organization(self, hashed: str, organization_id: uuid.UUID) -> None:
        """Work in another organization the user belongs to."""
        row = self.session.get(ConsoleSession, hashed)
        if row is not None:
            row.organization_id = organization_id

    def end(self, token: str | None) -> None:
        """Sign out: the cookie value stops working."""
        if token:
            self.session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))

    def end_all(self, user_id: uuid.UUID) -> None:
        """Sign the user out everywhere (after a password change by an admin, say)."""
        self.session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))
