"""Minting and verifying JWTs (joserfc), and the random secrets the server hands out.

Access tokens carry Keycloak's claims plus ``org_id`` (the organization the grant acts for) and
``aud`` containing ``zevvy-api``; ID tokens follow OIDC Core. Refresh tokens are not JWTs: clients
treat them as opaque, and a random value stored as a lookup hash is simpler to rotate and revoke.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from authlib.oidc.core.util import create_half_hash
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from zevvy_server.identity.sessions import token_hash
from zevvy_server.oauth.keys import ALGORITHM, Keys

API_AUDIENCE = "zevvy-api"
# Seconds of clock skew tolerated between hosts when checking exp, nbf and iat.
LEEWAY = 30

__all__ = [
    "API_AUDIENCE",
    "InvalidToken",
    "TokenSubject",
    "header_kid",
    "lookup_hash",
    "mint_access_token",
    "mint_id_token",
    "new_secret",
    "same_secret",
    "verify_jwt",
]


def new_secret(nbytes: int = 32) -> str:
    """A fresh random value from the CSPRNG, base64url without padding (43 chars for 32 bytes)."""
    return secrets.token_urlsafe(nbytes)


def lookup_hash(value: str) -> str:
    """The SHA-256 under which a secret value is stored and looked up."""
    return token_hash(value)


def same_secret(stored_hash: str | None, presented: str) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    return stored_hash is not None and hmac.compare_digest(stored_hash, lookup_hash(presented))


class InvalidToken(Exception):
    """A JWT that is malformed, badly signed, expired, or not meant for us."""


@dataclass(frozen=True)
class TokenSubject:
    """Who a token speaks for: the user, their organization and the session of the grant."""

    user_id: uuid.UUID
    username: str
    email: str
    organization_id: uuid.UUID
    session_id: str
    auth_time: int


def _sign(keys: Keys, claims: dict[str, Any]) -> str:
    header = {"alg": ALGORITHM, "typ": "JWT", "kid": keys.signing.kid}
    return jwt.encode(header, claims, keys.signing, algorithms=[ALGORITHM])


def mint_access_token(
    keys: Keys,
    *,
    issuer: str,
    client_id: str,
    subject: TokenSubject,
    scopes: Iterable[str],
    now: int,
    lifetime: int,
) -> tuple[str, dict[str, Any]]:
    """A signed access token and its claims."""
    claims: dict[str, Any] = {
        "exp": now + lifetime,
        "iat": now,
        "auth_time": subject.auth_time,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "aud": [API_AUDIENCE],
        "sub": str(subject.user_id),
        "typ": "Bearer",
        "azp": client_id,
        "sid": subject.session_id,
        "acr": "1",
        "scope": " ".join(scopes),
        "org_id": str(subject.organization_id),
        "preferred_username": subject.username,
        "email": subject.email,
    }
    return _sign(keys, claims), claims


def mint_id_token(
    keys: Keys,
    *,
    issuer: str,
    client_id: str,
    subject: TokenSubject,
    scopes: Iterable[str],
    nonce: str | None,
    access_token: str,
    now: int,
    lifetime: int,
) -> str:
    """A signed OIDC ID token for `client_id`."""
    granted = set(scopes)
    claims: dict[str, Any] = {
        "exp": now + lifetime,
        "iat": now,
        "auth_time": subject.auth_time,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "aud": client_id,
        "sub": str(subject.user_id),
        "typ": "ID",
        "azp": client_id,
        "sid": subject.session_id,
        "at_hash": create_half_hash(access_token, ALGORITHM).decode(),
        "acr": "1",
    }
    if nonce:
        claims["nonce"] = nonce
    if "profile" in granted:
        claims["preferred_username"] = subject.username
    if "email" in granted:
        claims["email"] = subject.email
        claims["email_verified"] = False
    return _sign(keys, claims)


def header_kid(token: str) -> str | None:
    """The ``kid`` a JWT's header names (unverified: only to pick the key), or None."""
    try:
        kid = jws.extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError, TypeError):
        return None
    return kid if isinstance(kid, str) else None


def verify_jwt(
    keys: Keys,
    token: str,
    *,
    issuer: str,
    now: int,
    typ: str = "Bearer",
    audience: str | None = API_AUDIENCE,
    check_expiry: bool = True,
) -> dict[str, Any]:
    """The claims of a token we signed, after checking signature, issuer, type and times."""
    try:
        decoded = jwt.decode(token, keys.verifying, algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "typ": {"essential": True, "value": typ},
        "sub": {"essential": True},
        "iat": {"essential": True},
    }
    if check_expiry:
        options["exp"] = {"essential": True}
    if audience is not None:
        options["aud"] = {"essential": True, "value": audience}
    registry = JWTClaimsRegistry(now=now, leeway=LEEWAY, **options)
    claims = dict(decoded.claims)
    if not check_expiry:
        claims.pop("exp", None)
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise InvalidToken(str(exc)) from exc
    return dict(decoded.claims)


class VerifiedTokens:
    """Access tokens whose signature and claims were verified, remembered until they expire.

    An API client sends the same access token with every request for minutes; checking its RS256
    signature and claims each time costs far more than looking it up. Only tokens that passed
    `verify_jwt` are stored, keyed by their exact text; expiry is checked again on every use, and
    revocation is the caller's business as before. Bounded: the oldest entries go first.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._claims: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: int) -> dict[str, Any] | None:
        """The claims of `token` if it was verified before and has not expired since."""
        claims = self._claims.get(token)
        if claims is None:
            return None
        if int(claims["exp"]) < now - LEEWAY:  # the same test as the first verification
            with self._lock:
                self._claims.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any]) -> None:
        """Remember a token that `verify_jwt` accepted (with an expiry)."""
        if not isinstance(claims.get("exp"), int):
            return
        with self._lock:
            while len(self._claims) >= self.capacity:
                del self._claims[next(iter(self._claims))]
            self._claims[token] = claims
