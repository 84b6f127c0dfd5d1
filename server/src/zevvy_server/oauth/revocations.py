"""What makes a still-unexpired access token unusable, cached per process for a few seconds.

Access tokens are verified locally, without a database round trip per request. What can withdraw
one before it expires (a revoked grant session or token, a disabled or deleted client, a removed
member or disabled account) is read from the database at most every ``revocation_cache_seconds``,
so every worker and host refuses such tokens within that window.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.models import Membership, User
from zevvy_server.oauth.models import Client, GrantSession, RevokedAccessToken
from zevvy_server.storage.engine import Database


@dataclass(frozen=True)
class RevocationSet:
    """Revoked grant sessions and access tokens, and clients that may no longer act."""

    sessions: frozenset[str]
    token_ids: frozenset[str]
    clients: frozenset[str]
    loaded_at: float

    def refuses(self, *, session_id: str, token_id: str, client_id: str) -> bool:
        """True when a token with these claims must be refused."""
        return session_id in self.sessions or token_id in self.token_ids or client_id in self.clients


def load_revocations(session: Session, clock: Clock, horizon: timedelta) -> RevocationSet:
    """Read the revocations that can still matter: those younger than the longest token life."""
    now = clock.now()
    sessions = session.scalars(
        select(GrantSession.id).where(
            GrantSession.revoked_at.is_not(None), GrantSession.revoked_at > now - horizon
        )
    )
    tokens = session.scalars(select(RevokedAccessToken.jti).where(RevokedAccessToken.expires_at > now))
    clients = session.scalars(
        select(Client.client_id).where(or_(Client.enabled.is_(False), Client.deleted_at.is_not(None)))
    )
    return RevocationSet(frozenset(sessions), frozenset(tokens), frozenset(clients), clock.time())


class RevocationCache:
    """The process-wide revocation set, reloaded when older than `max_age` seconds."""

    def __init__(self, db: Database, clock: Clock, *, max_age: float, horizon: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.max_age = max_age
        self.horizon = horizon
        self._current: RevocationSet | None = None
        self._roles: dict[tuple[uuid.UUID, uuid.UUID], tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def current(self) -> RevocationSet:
        """The revocation set, at most `max_age` seconds old."""
        snapshot = self._current
        if snapshot is None or self.clock.time() - snapshot.loaded_at >= self.max_age:
            with self._lock:
                snapshot = self._current
                if snapshot is None or self.clock.time() - snapshot.loaded_at >= self.max_age:
                    with self.db.read() as session:
                        snapshot = load_revocations(session, self.clock, self.horizon)
                    self._current = snapshot
        return snapshot

    def fresh(self) -> RevocationSet | None:
        """The revocation set if it is recent enough to use without reloading; else None."""
        snapshot = self._current
        if snapshot is None or self.clock.time() - snapshot.loaded_at >= self.max_age:
            return None
        return snapshot

    def cached_role(self, user_id: uuid.UUID, organization_id: uuid.UUID) -> tuple[bool, str | None]:
        """(True, role) when the role is known recently enough to use without a query."""
        cached = self._roles.get((user_id, organization_id))
        if cached is None or self.clock.time() - cached[1] >= self.max_age:
            return False, None
        return True, cached[0]

    def role(self, user_id: uuid.UUID, organization_id: uuid.UUID) -> str | None:
        """The user's current role in the organization (None: not a member, or account disabled)."""
        key = (user_id, organization_id)
        cached = self._roles.get(key)
        now = self.clock.time()
        if cached is not None and now - cached[1] < self.max_age:
            return cached[0]
        with self.db.read() as session:
            role = session.scalar(
                select(Membership.role)
                .join(User, User.id == Membership.user_id)
                .where(
                    Membership.user_id == user_id,
                    Membership.organization_id == organization_id,
                    User.enabled.is_(True),
                )
            )
        if len(self._roles) > 10_000:  # bound the memory of a long-running worker
            self._roles.clear()
        self._roles[key] = (role, now)
        return role

    def invalidate(self) -> None:
        """Forget everything (this process's own revocations apply at once)."""
        with self._lock:
            self._current = None
            self._roles.clear()
