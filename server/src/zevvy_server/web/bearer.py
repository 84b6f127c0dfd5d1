"""Bearer-token authentication for our own APIs: ``Depends(require_scopes("device"))``.

An access token is accepted when its RS256 signature verifies against our keys (by ``kid``), it
has not expired, it was issued by this server (``iss``) for the API (``aud`` has ``zevvy-api``),
its ``typ`` is ``Bearer``, and it names an organization the user still belongs to. Revoked grant
sessions and tokens, disabled clients and removed members are refused within
``settings.revocation_cache_seconds`` (a cached set shared through the database).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zevvy_server.errors import InsufficientScope, Unauthenticated
from zevvy_server.oauth.runtime import OAuthRuntime
from zevvy_server.oauth.tokens import InvalidToken, header_kid, verify_jwt
from zevvy_server.web.context import AppContext
from zevvy_server.web.deps import get_ctx

_RUNTIME_KEY = "oauth_runtime"
_runtime_lock = threading.Lock()


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid access token."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]
    role: str  # "admin" | "editor" | "viewer": the user's current role in the organization
    token_id: str  # jti
    session_id: str  # sid
    username: str


def oauth_runtime(ctx: AppContext) -> OAuthRuntime:
    """The app's OAuth runtime (key ring, revocation cache), created on first use."""
    runtime = ctx.extras.get(_RUNTIME_KEY)
    if runtime is None:
        with _runtime_lock:
            runtime = ctx.extras.get(_RUNTIME_KEY)
            if runtime is None:
                runtime = OAuthRuntime(ctx.settings, ctx.db, ctx.clock)
                ctx.extras[_RUNTIME_KEY] = runtime
    assert isinstance(runtime, OAuthRuntime)
    return runtime


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def verify_access_token(runtime: OAuthRuntime, token: str) -> Principal:
    """The principal of a valid access token; raises `Unauthenticated` otherwise (blocking I/O)."""
    principal = _verify(runtime, token, blocking=True)
    assert principal is not None
    return principal


def verify_in_memory(runtime: OAuthRuntime, token: str) -> Principal | None:
    """Like `verify_access_token` when everything it needs is cached in this process (the token
    verified before, the revocation set and the role fresh), without touching the database, so
    it may run on the event loop; None when a database read is needed."""
    return _verify(runtime, token, blocking=False)


def _verify(runtime: OAuthRuntime, token: str, *, blocking: bool) -> Principal | None:
    settings, clock = runtime.settings, runtime.clock
    now = int(clock.time())
    try:
        claims = runtime.verified.get(token, now)
        if claims is None:
            if not blocking:
                return None
            keys = runtime.keys.for_kid(header_kid(token))
            claims = verify_jwt(keys, token, issuer=settings.issuer, now=now)
            runtime.verified.put(token, claims)
        user_id = uuid.UUID(str(claims["sub"]))
        organization_id = uuid.UUID(str(claims["org_id"]))
        client_id, token_id, session_id = str(claims["azp"]), str(claims["jti"]), str(claims["sid"])
        scopes = frozenset(str(claims.get("scope", "")).split())
    except (InvalidToken, KeyError, ValueError) as exc:
        raise Unauthenticated() from exc
    revocations = runtime.revocations.current() if blocking else runtime.revocations.fresh()
    if revocations is None:
        return None
    if revocations.refuses(session_id=session_id, token_id=token_id, client_id=client_id):
        raise Unauthenticated("The access token has been revoked.")
    if blocking:
        role = runtime.revocations.role(user_id, organization_id)
    else:
        known, role = runtime.revocations.cached_role(user_id, organization_id)
        if not known:
            return None
    if role is None:
        raise Unauthenticated("The user is no longer a member of the token's organization.")
    return Principal(
        user_id=user_id,
        organization_id=organization_id,
        client_id=client_id,
        scopes=scopes,
        role=role,
        token_id=token_id,
        session_id=session_id,
        username=str(claims.get("preferred_username", "")),
    )


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: the caller's `Principal`, which must hold every one of `scopes`."""

    async def dependency(request: Request) -> Principal:
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise Unauthenticated()
        runtime = oauth_runtime(get_ctx(request))
        # Most requests carry a token seen moments ago: no thread hop for those.
        principal = verify_in_memory(runtime, token)
        if principal is None:
            principal = await run_in_threadpool(verify_access_token, runtime, token)
        for scope in scopes:
            if scope not in principal.scopes:
                raise InsufficientScope(scope)
        request.state.principal = principal
        return principal

    return dependency
