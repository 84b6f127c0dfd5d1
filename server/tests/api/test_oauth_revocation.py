"""Introspection, revocation, back-channel logout and userinfo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import PROTOCOL, ApiClient, refresh
from tests.conftest import Account


def _introspect(http: httpx.Client, client: ApiClient, token: str, **extra: str) -> httpx.Response:
    return http.post(f"{PROTOCOL}/token/introspect", data={**client.credentials(), "token": token, **extra})


def test_introspection_describes_an_active_access_token_for_a_confidential_client(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """All claims plus client_id, username and active."""
    account = make_user()
    client = make_client()
    tokens = device_tokens(client, "device", account)
    body = _introspect(http, client, tokens["access_token"]).json()
    assert body["active"] is True
    assert body["client_id"] == client.client_id
    assert body["username"] == account.username
    assert body["sub"] == str(account.user.id)
    assert body["scope"] == "device"
    refresh_body = _introspect(http, client, tokens["refresh_token"], token_type_hint="refresh_token").json()
    assert refresh_body["active"] is True and refresh_body["typ"] == "Refresh"


def test_introspection_refuses_public_clients_and_answers_inactive_for_garbage(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """Keycloak: 403 "Client not allowed." for public clients; 200 active:false otherwise."""
    public = make_client(public=True)
    tokens = device_tokens(public, "device")
    refused = _introspect(http, public, tokens["access_token"])
    assert refused.status_code == 403
    assert refused.json() == {"error": "invalid_request", "error_description": "Client not allowed."}
    confidential = make_client()
    assert _introspect(http, confidential, "garbage").json() == {"active": False}
    missing = http.post(f"{PROTOCOL}/token/introspect", data=confidential.credentials())
    assert missing.json() == {"error": "invalid_request", "error_description": "Token not provided."}
    bad = http.post(
        f"{PROTOCOL}/token/introspect",
        data={"client_id": confidential.client_id, "client_secret": "x", "token": "t"},
    )
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")


def test_revoking_a_refresh_token_revokes_its_family_and_access_tokens_but_not_other_gateways(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """One gateway's revocation leaves the same user's other gateway connected."""
    account = make_user()
    client = make_client()
    gateway_a = device_tokens(client, "device offline_access", account)
    gateway_b = device_tokens(client, "device offline_access", account)
    rotated = refresh(http, client, gateway_a["refresh_token"]).json()
    response = http.post(
        f"{PROTOCOL}/revoke", data={**client.credentials(), "token": rotated["refresh_token"]}
    )
    assert (response.status_code, response.text) == (200, "")
    assert refresh(http, client, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert _introspect(http, client, gateway_a["access_token"]).json() == {"active": False}
    assert _introspect(http, client, rotated["access_token"]).json() == {"active": False}
    assert _introspect(http, client, gateway_b["access_token"]).json()["active"] is True
    assert refresh(http, client, gateway_b["refresh_token"]).status_code == 200


def test_revoking_an_access_token_refuses_that_token_only(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """The refresh token keeps working and mints new access tokens."""
    client = make_client()
    tokens = device_tokens(client, "device")
    revoked = http.post(
        f"{PROTOCOL}/revoke",
        data={**client.credentials(), "token": tokens["access_token"], "token_type_hint": "access_token"},
    )
    assert revoked.status_code == 200
    assert _introspect(http, client, tokens["access_token"]).json() == {"active": False}
    renewed = refresh(http, client, tokens["refresh_token"]).json()
    assert _introspect(http, client, renewed["access_token"]).json()["active"] is True


def test_revocation_answers_200_for_unknown_tokens_and_refuses_other_clients_tokens(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """RFC 7009 §2.2 for garbage (Keycloak's body); "Unmatching clients" for another client's token."""
    owner, other = make_client(), make_client()
    tokens = device_tokens(owner, "device")
    garbage = http.post(f"{PROTOCOL}/revoke", data={**owner.credentials(), "token": "garbage"})
    assert garbage.status_code == 200
    foreign = http.post(f"{PROTOCOL}/revoke", data={**other.credentials(), "token": tokens["refresh_token"]})
    assert foreign.json() == {"error": "invalid_request", "error_description": "Unmatching clients"}
    assert refresh(http, owner, tokens["refresh_token"]).status_code == 200
    missing = http.post(f"{PROTOCOL}/revoke", data=owner.credentials())
    assert missing.json() == {"error": "invalid_request", "error_description": "Token not provided"}


def test_back_channel_logout_answers_204_and_ends_the_grant_session(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """python-keycloak's logout() accepts only 204."""
    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    response = http.post(
        f"{PROTOCOL}/logout", data={**client.credentials(), "refresh_token": tokens["refresh_token"]}
    )
    assert (response.status_code, response.content) == (204, b"")
    assert refresh(http, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert _introspect(http, client, tokens["access_token"]).json() == {"active": False}


def test_back_channel_logout_refuses_garbage_and_another_clients_token(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """400 invalid_grant; the owner's session survives."""
    owner, other = make_client(), make_client()
    tokens = device_tokens(owner, "device")
    foreign = http.post(
        f"{PROTOCOL}/logout", data={**other.credentials(), "refresh_token": tokens["refresh_token"]}
    )
    assert foreign.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    garbage = http.post(f"{PROTOCOL}/logout", data={**owner.credentials(), "refresh_token": "garbage"})
    assert garbage.status_code == 400
    assert refresh(http, owner, tokens["refresh_token"]).status_code == 200


def test_userinfo_needs_openid_in_the_token_scope(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """Keycloak ≥ 19: 403 insufficient_scope "Missing openid scope"; 200 with the claims otherwise."""
    account = make_user()
    client = make_client()
    without = device_tokens(client, "device", account)
    refused = http.get(f"{PROTOCOL}/userinfo", headers={"Authorization": f"Bearer {without['access_token']}"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "insufficient_scope", "error_description": "Missing openid scope"}
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    with_openid = device_tokens(client, "openid profile email", account)
    info = http.get(
        f"{PROTOCOL}/userinfo", headers={"Authorization": f"Bearer {with_openid['access_token']}"}
    )
    assert info.status_code == 200
    assert info.json()["sub"] == str(account.user.id)
    assert info.json()["preferred_username"] == account.username
    posted = http.post(f"{PROTOCOL}/userinfo", data={"access_token": with_openid["access_token"]})
    assert posted.json() == info.json()


def test_userinfo_refuses_missing_and_invalid_tokens_with_a_bearer_challenge(http: httpx.Client) -> None:
    """401 invalid_token with Keycloak's WWW-Authenticate."""
    for headers in ({}, {"Authorization": "Bearer garbage"}):
        response = http.get(f"{PROTOCOL}/userinfo", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith('Bearer realm="zevvy", error="invalid_token"')
