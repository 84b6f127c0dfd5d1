"""Grant sessions and their refresh-token families: start, refresh with rotation, revoke.

A grant session is one approval (a device code or a sign-in through ``auth``). Online sessions
live 30 minutes idle and 10 hours at most; with ``offline_access`` the refresh tokens outlive that,
30 days idle, renewed on every use. Refresh tokens rotate: the token just replaced stays usable for
a short grace period (a lost response, two refreshes racing); any later reuse revokes the family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.models import Membership, User
from zevvy_server.oauth.errors import InvalidGrantError, InvalidRequestError
from zevvy_server.oauth.models import Client, GrantSession, RefreshToken, RevokedAccessToken
from zevvy_server.oauth.scopes import OFFLINE_ACCESS
from zevvy_server.oauth.tokens import TokenSubject, lookup_hash, new_secret
from zevvy_server.settings import Settings


@dataclass
class GrantContext:
    """What a token is issued from: the session, its user and client, and the token's scopes."""

    grant: GrantSession
    user: User
    client: Client
    scopes: list[str]
    offline: bool
    # The generation of the refresh token to issue (0 at approval, +1 per rotation).
    generation: int = 0

    def subject(self) -> TokenSubject:
        """The claims' subject."""
        return TokenSubject(
            user_id=self.user.id,
            username=self.user.username,
            email=self.user.email,
            organization_id=self.grant.organization_id,
            session_id=self.grant.id,
            auth_time=int(self.grant.auth_time.timestamp()),
        )


@dataclass(frozen=True)
class PresentedRefreshToken:
    """A refresh token found by its value, with its session."""

    token: RefreshToken
    grant: GrantSession
    client: Client


class GrantSessions:
    """Grant sessions and refresh tokens within one database session (transaction)."""

    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings

    # -- sessions -------------------------------------------------------------------------------
    def start(
        self,
        client: Client,
        user_id: uuid.UUID,
        organization_id: uuid.UUID,
        scopes: list[str],
        *,
        nonce: str | None = None,
    ) -> GrantSession:
        """Open a grant session for an approval."""
        now = self.clock.now()
        grant = GrantSession(
            id=str(uuid.uuid4()),
            client_pk=client.id,
            user_id=user_id,
            organization_id=organization_id,
            scopes=list(scopes),
            nonce=nonce,
            auth_time=now,
            created_at=now,
            last_used_at=now,
            generation=0,
            revoked_at=None,
            revoked_reason=None,
        )
        self.session.add(grant)
        self.session.flush()
        return grant

    def is_offline(self, grant: GrantSession) -> bool:
        """True when the session's refresh tokens are offline tokens."""
        return OFFLINE_ACCESS in grant.scopes

    def deadline(self, grant: GrantSession) -> datetime:
        """When the session's refresh tokens stop working unless used before."""
        if self.is_offline(grant):
            return grant.last_used_at + timedelta(seconds=self.settings.offline_idle)
        return min(
            grant.last_used_at + timedelta(seconds=self.settings.session_idle),
            grant.created_at + timedelta(seconds=self.settings.session_max),
        )

    def refresh_expires_in(self, grant: GrantSession) -> int:
        """Seconds until `deadline` (at least 1: 0 would read as "never expires")."""
        return max(1, int((self.deadline(grant) - self.clock.now()).total_seconds()))

    def touch(self, grant: GrantSession) -> None:
        """Record a use: renews the idle deadline."""
        grant.last_used_at = self.clock.now()

    def revoke(self, grant: GrantSession, reason: str) -> None:
        """Revoke the session: its refresh tokens and its access tokens stop working."""
        if grant.revoked_at is None:
            grant.revoked_at = self.clock.now()
            grant.revoked_reason = reason

    def context(self, grant: GrantSession, client: Client, scopes: list[str] | None = None) -> GrantContext:
        """The issuing context of a session; raises invalid_grant when it may no longer issue tokens."""
        user = self.session.get(User, grant.user_id)
        if user is None:
            raise InvalidGrantError("User not found")
        if not user.enabled:
            raise InvalidGrantError("User disabled")
        if self.session.get(Membership, (grant.user_id, grant.organization_id)) is None:
            self.revoke(grant, "member_removed")
            raise InvalidGrantError("Session not active")
        return GrantContext(
            grant=grant,
            user=user,
            client=client,
            scopes=list(grant.scopes if scopes is None else scopes),
            offline=self.is_offline(grant),
        )

    def is_active(self, grant: GrantSession) -> bool:
        """Not revoked, and used recently enough."""
        return grant.revoked_at is None and self.clock.now() < self.deadline(grant)

    # -- refresh tokens -------------------------------------------------------------------------
    def issue_refresh_token(self, grant: GrantSession, generation: int) -> str:
        """A new refresh token of `generation` in the session's family; returns its value."""
        value = new_secret()
        self.session.add(
            RefreshToken(
                token_hash=lookup_hash(value),
                session_id=grant.id,
                generation=generation,
                offline=self.is_offline(grant),
                scopes=list(grant.scopes),
                created_at=self.clock.now(),
                replaced_at=None,
            )
        )
        grant.generation = max(grant.generation, generation)
        return value

    def find_refresh_token(self, value: str, *, lock: bool = False) -> PresentedRefreshToken | None:
        """The refresh token with this value, with its session and client, or None."""
        query = (
            select(RefreshToken, GrantSession, Client)
            .join(GrantSession, GrantSession.id == RefreshToken.session_id)
            .join(Client, Client.id == GrantSession.client_pk)
            .where(RefreshToken.token_hash == lookup_hash(value))
        )
        if lock:
            # Two refreshes of one token on PostgreSQL: the second waits and then sees the rotation.
            query = query.with_for_update(of=[RefreshToken, GrantSession])
        row = self.session.execute(query).first()
        if row is None:
            return None
        return PresentedRefreshToken(token=row[0], grant=row[1], client=row[2])

    def use_refresh_token(self, value: str | None, client: Client) -> tuple[PresentedRefreshToken, int]:
        """Check a presented refresh token and rotate it; returns it and the new token's generation.

        Raises invalid_grant with Keycloak's descriptions. Reuse after the grace period revokes the
        whole family (the raise does not undo that: errors are answered, not rolled back).
        """
        if not value:
            raise InvalidRequestError("No refresh token")
        presented = self.find_refresh_token(value, lock=True)
        if presented is None:
            raise InvalidGrantError("Invalid refresh token")
        token, grant = presented.token, presented.grant
        if presented.client.id != client.id:
            raise InvalidGrantError("Invalid refresh token. Token client and authorized client don't match")
        if grant.revoked_at is not None:
            raise InvalidGrantError("Offline session not active" if token.offline else "Session not active")
        now = self.clock.now()
        if token.replaced_at is not None:
            in_grace = (
                now - token.replaced_at <= timedelta(seconds=self.settings.refresh_grace)
                and token.generation + 1 == grant.generation
            )
            if not in_grace:
                self.revoke(grant, "refresh_token_reused")
                raise InvalidGrantError("Maximum allowed refresh token reuse exceeded")
        if now >= self.deadline(grant):
            raise InvalidGrantError("Token is not active")
        if token.replaced_at is None:
            token.replaced_at = now
        return presented, token.generation + 1

    # -- revocation -----------------------------------------------------------------------------
    def revoke_access_token(self, token_id: str, expires_at: datetime) -> None:
        """Refuse one access token until it would have expired anyway."""
        if self.session.get(RevokedAccessToken, token_id) is None:
            self.session.add(RevokedAccessToken(jti=token_id, expires_at=expires_at))

    def is_access_token_revoked(self, token_id: str) -> bool:
        """True when the access token was revoked on its own."""
        return self.session.get(RevokedAccessToken, token_id) is not None

    def get(self, session_id: str) -> GrantSession | None:
        """The grant session with this id."""
        return self.session.get(GrantSession, session_id)
