"""API clients: create, look up, rotate secrets, disable, enable, delete.

Client secrets are 256-bit random values shown once at creation (or rotation) and stored only as
their SHA-256, compared in constant time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.oauth.errors import ClientIdTaken, ClientNotFound, InvalidClientSettings
from zevvy_server.oauth.models import Client, GrantSession
from zevvy_server.oauth.scopes import ALL_SCOPES, ordered
from zevvy_server.oauth.tokens import lookup_hash, new_secret, same_secret
from zevvy_server.settings import is_loopback

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name, not a secret
GRANT_TYPES: tuple[str, ...] = (DEVICE_CODE, AUTHORIZATION_CODE, REFRESH_TOKEN)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "client"


def check_redirect_uri(uri: str) -> str:
    """A redirect URI a client may register: absolute, no fragment, https unless loopback."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment or not parts.hostname:
        raise InvalidClientSettings(f"The redirect URI {uri!r} must be absolute and have no fragment.")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname)):
        return uri
    raise InvalidClientSettings(f"The redirect URI {uri!r} must use https (http only on loopback).")


class ClientService:
    """API clients within one session (transaction)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    def create(
        self,
        name: str,
        organization_id: uuid.UUID,
        *,
        client_id: str | None = None,
        public: bool = False,
        grant_types: Sequence[str] | None = None,
        redirect_uris: Iterable[str] = (),
        scopes: Sequence[str] | None = None,
    ) -> tuple[Client, str | None]:
        """Create a client; returns it and its plaintext secret (None for public clients), shown once."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidClientSettings("The client needs a name of 1 to 200 characters.")
        if client_id is None:
            client_id = f"{_slug(name)}-{uuid.uuid4().hex[:8]}"
        elif not _CLIENT_ID.match(client_id):
            raise InvalidClientSettings("A client_id has letters, digits, '.', '_' and '-' only.")
        if self.session.scalar(select(Client.id).where(Client.client_id == client_id)) is not None:
            raise ClientIdTaken()
        grants = list(GRANT_TYPES if grant_types is None else grant_types)
        if unknown := [g for g in grants if g not in GRANT_TYPES]:
            raise InvalidClientSettings(f"Unsupported grant types: {', '.join(unknown)}.")
        allowed = list(ALL_SCOPES if scopes is None else scopes)
        if unknown := [s for s in allowed if s not in ALL_SCOPES]:
            raise InvalidClientSettings(f"Unknown scopes: {', '.join(unknown)}.")
        uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        secret = None if public else new_secret()
        client = Client(
            id=uuid.uuid4(),
            client_id=client_id,
            name=name,
            organization_id=organization_id,
            public=public,
            secret_hash=lookup_hash(secret) if secret else None,
            enabled=True,
            grant_types=[g for g in GRANT_TYPES if g in grants],
            redirect_uris=uris,
            scopes=ordered(allowed),
            created_at=self.clock.now(),
            secret_rotated_at=None,
            deleted_at=None,
        )
        self.session.add(client)
        self.session.flush()
        return client, secret

    def get(self, client_id: str) -> Client:
        """The client with this client_id (deleted ones are not found)."""
        client = self.find(client_id)
        if client is None:
            raise ClientNotFound()
        return client

    def find(self, client_id: str) -> Client | None:
        """The client with this client_id, or None (also for deleted ones)."""
        return self.session.scalar(
            select(Client).where(Client.client_id == client_id, Client.deleted_at.is_(None))
        )

    def list_for(self, organization_id: uuid.UUID) -> list[Client]:
        """The organization's clients, by name."""
        return list(
            self.session.scalars(
                select(Client)
                .where(Client.organization_id == organization_id, Client.deleted_at.is_(None))
                .order_by(Client.name, Client.client_id)
            )
        )

    def check_secret(self, client: Client, secret: str) -> bool:
        """True when `secret` is the client's current secret (constant-time comparison)."""
        return not client.public and same_secret(client.secret_hash, secret)

    def rotate_secret(self, client_id: str) -> str:
        """Give a confidential client a new secret (the old one stops working); returns it once."""
        client = self.get(client_id)
        if client.public:
            raise InvalidClientSettings("A public client has no secret.")
        secret = new_secret()
        client.secret_hash = lookup_hash(secret)
        client.secret_rotated_at = self.clock.now()
        return secret

    def update(
        self,
        client_id: str,
        *,
        name: str | None = None,
        redirect_uris: Iterable[str] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Client:
        """Change a client's name, redirect URIs or allowed scopes."""
        client = self.get(client_id)
        if name is not None:
            if not name.strip() or len(name.strip()) > 200:
                raise InvalidClientSettings("The client needs a name of 1 to 200 characters.")
            client.name = name.strip()
        if redirect_uris is not None:
            client.redirect_uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        if scopes is not None:
            if unknown := [s for s in scopes if s not in ALL_SCOPES]:
                raise InvalidClientSettings(f"Unknown scopes: {', '.join(unknown)}.")
            client.scopes = ordered(scopes)
        return client

    def disable(self, client_id: str) -> Client:
        """Stop the client: no new tokens, and its access tokens are refused within seconds."""
        client = self.get(client_id)
        client.enabled = False
        return client

    def enable(self, client_id: str) -> Client:
        """Let a disabled client work again (its unexpired tokens work again too)."""
        client = self.get(client_id)
        client.enabled = True
        return client

    def delete(self, client_id: str) -> None:
        """Delete the client and revoke every grant given to it; its client_id stays reserved."""
        client = self.get(client_id)
        now = self.clock.now()
        client.deleted_at = now
        client.enabled = False
        client.secret_hash = None
        for grant in self.session.scalars(
            select(GrantSession).where(GrantSession.client_pk == client.id, GrantSession.revoked_at.is_(None))
        ):
            grant.revoked_at = now
            grant.revoked_reason = "client_deleted"
