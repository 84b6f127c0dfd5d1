"""Tables of the OAuth domain: signing keys, clients, grant sessions, tokens and codes.

Every secret the server hands out (client secrets, refresh tokens, device, user and authorization
codes) is a high-entropy random value stored only as its SHA-256 lookup hash.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zevvy_server.oauth.scopes import granted, parse
from zevvy_server.storage.base import Base


class SigningKey(Base):
    """An RSA key that signs access and ID tokens; the newest one signs, older ones still verify."""

    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10), default="RS256")
    # The private key as JWK JSON text: every worker and host signs with the same key.
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # When a newer key took over; the public key stays published until its tokens have expired.
    retired_at: Mapped[datetime | None]


class Client(Base):
    """An API client (Keycloak's "client") owned by an organization."""

    __tablename__ = "oauth_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    grant_types: Mapped[list[str]]
    redirect_uris: Mapped[list[str]]
    scopes: Mapped[list[str]]
    created_at: Mapped[datetime]
    secret_rotated_at: Mapped[datetime | None]
    # Deleted clients keep their row so their client_id is never reused and their tokens stay refused.
    deleted_at: Mapped[datetime | None]

    @property
    def active(self) -> bool:
        """Enabled and not deleted."""
        return self.enabled and self.deleted_at is None

    # What Authlib's grants ask of a client (its ClientMixin protocol).
    def get_client_id(self) -> str:
        """The public identifier."""
        return self.client_id

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match against a registered URI (RFC 9700 §2.1)."""
        return redirect_uri in self.redirect_uris

    def get_default_redirect_uri(self) -> None:
        """None: the redirect URI must always be sent, as Keycloak requires."""
        return

    def check_response_type(self, response_type: str) -> bool:
        """Only ``code``, for clients with the authorization-code grant."""
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        """True when the client may use this grant type."""
        return grant_type in self.grant_types

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Client authentication is decided by the server itself (Keycloak's rules)."""
        return True

    def get_allowed_scope(self, scope: str | None) -> str:
        """Requested ∩ allowed, unknown scopes dropped; every allowed scope when none was named."""
        return " ".join(granted(parse(scope) or None, self.scopes))


class GrantSession(Base):
    """One approval of a client by a user for an organization: Keycloak's user session (``sid``).

    It is also the refresh-token family: every token descending from the approval belongs to it,
    and revoking it revokes them all, with the access tokens that carry its ``sid``.
    """

    __tablename__ = "oauth_grant_sessions"
    __table_args__ = (Index("ix_oauth_grant_sessions_revoked_at", "revoked_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]]
    nonce: Mapped[str | None] = mapped_column(String(255))
    auth_time: Mapped[datetime]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    # The newest refresh-token generation; a token one generation older is in its grace period.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class RefreshToken(Base):
    """A refresh token of a grant session; rotated on every use."""

    __tablename__ = "oauth_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("oauth_grant_sessions.id", ondelete="CASCADE"), index=True
    )
    generation: Mapped[int] = mapped_column(Integer)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[list[str]]
    created_at: Mapped[datetime]
    replaced_at: Mapped[datetime | None]


class RevokedAccessToken(Base):
    """An access token revoked on its own (by ``revoke``), refused until it would have expired."""

    __tablename__ = "oauth_revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeviceCode(Base):
    """A device authorization request (RFC 8628), its poll clock and the user's decision."""

    __tablename__ = "oauth_device_codes"

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]]
    nonce: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    interval: Mapped[int] = mapped_column(Integer)
    last_poll_at: Mapped[datetime | None]
    # pending -> approved | denied; approved -> used once the tokens were issued.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    session_id: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None]


class AuthorizationCode(Base):
    """An authorization code (RFC 6749 §4.1) with its PKCE challenge; single use."""

    __tablename__ = "oauth_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(ForeignKey("oauth_grant_sessions.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scopes: Mapped[list[str]]
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
