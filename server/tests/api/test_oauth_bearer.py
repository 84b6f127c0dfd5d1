"""Bearer verification for our own APIs, on a tiny app sharing the live server's database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import delete

from tests.api.conftest import PROTOCOL, ApiClient
from tests.conftest import Account, LiveServer
from zevvy_server.identity.models import Membership
from zevvy_server.oauth.service import ClientService
from zevvy_server.web.bearer import Principal, require_scopes
from zevvy_server.web.context import AppContext
from zevvy_server.web.errors import install_error_handlers


@pytest.fixture
def api(live_server: LiveServer) -> Callable[..., httpx.Response]:
    """GET /protected (scope device) on an inline app with the server's settings, database and clock."""
    app = FastAPI()
    app.state.ctx = AppContext(settings=live_server.settings, db=live_server.db, clock=live_server.clock)
    install_error_handlers(app)

    @app.get("/protected")
    async def protected(principal: Principal = Depends(require_scopes("device"))) -> dict[str, Any]:
        return {"user": str(principal.user_id), "org": str(principal.organization_id), "role": principal.role}

    def call(token: str | None = None, authorization: str | None = None) -> httpx.Response:
        headers = {"Authorization": authorization or f"Bearer {token}"} if (token or authorization) else {}

        async def run() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get("/protected", headers=headers)

        return asyncio.run(run())

    return call


def test_a_valid_token_gives_the_principal_with_the_current_role(
    api: Callable[..., httpx.Response],
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """User, organization and role come from the token and the membership."""
    account = make_user(role="editor")
    tokens = device_tokens(make_client(), "device", account)
    response = api(tokens["access_token"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user": str(account.user.id),
        "org": str(account.organization.id),
        "role": "editor",
    }
    assert api(authorization=f"bearer {tokens['access_token']}").status_code == 200


def test_missing_malformed_and_foreign_tokens_are_401_with_a_bearer_challenge(
    api: Callable[..., httpx.Response],
) -> None:
    """WWW-Authenticate: Bearer error="invalid_token"."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    forged = jwt.encode({"alg": "RS256", "kid": "stranger"}, {"sub": "x", "typ": "Bearer"}, stranger)
    for answer in (api(), api("garbage"), api(authorization="Basic abc"), api(forged)):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert answer.json()["error"] == "invalid_token"


def test_a_token_without_the_scope_is_403_naming_it(
    api: Callable[..., httpx.Response],
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """WWW-Authenticate: Bearer error="insufficient_scope", scope="device"."""
    tokens = device_tokens(make_client(), "measurement")
    answer = api(tokens["access_token"])
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="device"'


def test_id_tokens_and_expired_tokens_are_refused(
    live_server: LiveServer,
    api: Callable[..., httpx.Response],
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """typ must be Bearer; exp is checked (with a small leeway)."""
    tokens = device_tokens(make_client(), "openid device")
    assert api(tokens["id_token"]).status_code == 401
    assert api(tokens["access_token"]).status_code == 200
    live_server.clock.advance(300 + 31)
    assert api(tokens["access_token"]).status_code == 401


def test_revocations_reach_the_api_within_the_cache_window(
    live_server: LiveServer,
    http: httpx.Client,
    api: Callable[..., httpx.Response],
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """The revocation set is reloaded at most every revocation_cache_seconds."""
    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    assert api(tokens["access_token"]).status_code == 200
    http.post(f"{PROTOCOL}/revoke", data={**client.credentials(), "token": tokens["refresh_token"]})
    live_server.clock.advance(live_server.settings.revocation_cache_seconds + 0.1)
    assert api(tokens["access_token"]).status_code == 401


def test_disabled_clients_and_removed_members_are_refused_within_the_cache_window(
    live_server: LiveServer,
    api: Callable[..., httpx.Response],
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """Both take effect at the API without any token being revoked."""
    client = make_client()
    first = device_tokens(client, "device")
    assert api(first["access_token"]).status_code == 200
    with live_server.db.write() as session:
        ClientService(session, live_server.clock).disable(client.client_id)
    live_server.clock.advance(live_server.settings.revocation_cache_seconds + 0.1)
    assert api(first["access_token"]).status_code == 401
    with live_server.db.write() as session:
        ClientService(session, live_server.clock).enable(client.client_id)

    account = make_user()
    second = device_tokens(make_client(), "device", account)
    assert api(second["access_token"]).status_code == 200
    with live_server.db.write() as session:
        session.execute(delete(Membership).where(Membership.user_id == account.user.id))
    live_server.clock.advance(live_server.settings.revocation_cache_seconds + 0.1)
    assert api(second["access_token"]).status_code == 401


def test_a_token_seen_before_is_verified_in_memory_until_a_cache_is_stale(
    live_server: LiveServer,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """The event-loop path answers only from fresh caches and defers to the blocking check."""
    from zevvy_server.oauth.runtime import OAuthRuntime
    from zevvy_server.web.bearer import verify_access_token, verify_in_memory

    runtime = OAuthRuntime(live_server.settings, live_server.db, live_server.clock)
    token = device_tokens(make_client(), "device")["access_token"]
    assert verify_in_memory(runtime, token) is None  # never verified in this process
    principal = verify_access_token(runtime, token)
    assert verify_in_memory(runtime, token) == principal
    live_server.clock.advance(live_server.settings.revocation_cache_seconds + 0.1)
    assert verify_in_memory(runtime, token) is None  # revocations must be read again
    assert verify_access_token(runtime, token) == principal
    assert verify_in_memory(runtime, token) == principal
