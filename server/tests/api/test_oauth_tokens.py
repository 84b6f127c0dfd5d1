"""Token responses and the tokens themselves, checked with a generic JOSE library."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.api.conftest import PROTOCOL, REALM, ApiClient, poll, start_device
from tests.conftest import Account, LiveServer

KEYCLOAK_ORDER = [
    "access_token",
    "expires_in",
    "refresh_expires_in",
    "refresh_token",
    "token_type",
    "not-before-policy",
    "session_state",
    "scope",
]


def _verified(http: httpx.Client, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    keys = KeySet.import_key_set(http.get(f"{PROTOCOL}/certs").json())
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


def test_token_response_has_keycloaks_members_in_keycloaks_order(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """No id_token without openid; no-store and no-cache headers."""
    client = make_client()
    started = start_device(http, client, "device offline_access")
    approve(started["user_code"], make_user())
    response = poll(http, client, started["device_code"])
    assert list(response.json()) == KEYCLOAK_ORDER
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["not-before-policy"] == 0
    assert body["expires_in"] == 300
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


def test_access_token_verifies_against_certs_and_carries_keycloaks_claims_and_org_id(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """RS256 with kid; typ Bearer; aud has zevvy-api; org_id, sid, azp, scope, names."""
    account = make_user()
    client = make_client()
    tokens = device_tokens(client, "device measurement", account)
    header, claims = _verified(http, tokens["access_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] in {k["kid"] for k in http.get(f"{PROTOCOL}/certs").json()["keys"]}
    assert claims["iss"] == live_server.issuer
    assert claims["typ"] == "Bearer"
    assert "zevvy-api" in claims["aud"]
    assert claims["sub"] == str(account.user.id)
    assert claims["org_id"] == str(account.organization.id)
    assert claims["azp"] == client.client_id
    assert claims["sid"] == tokens["session_state"]
    assert claims["scope"] == "device measurement"
    assert claims["preferred_username"] == account.username
    assert claims["email"] == "someone@example.org"
    assert claims["exp"] - claims["iat"] == 300
    assert len({claims["jti"], _verified(http, device_tokens(client)["access_token"])[1]["jti"]}) == 2


def test_openid_scope_adds_an_id_token_for_the_client(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """ID token: aud = client_id, typ ID, at_hash, placed before not-before-policy."""
    client = make_client()
    tokens = device_tokens(client, "openid profile email device")
    assert list(tokens).index("id_token") == list(tokens).index("token_type") + 1
    _, claims = _verified(http, tokens["id_token"])
    assert claims["aud"] == client.client_id
    assert claims["typ"] == "ID"
    assert claims["at_hash"]
    assert claims["sid"] == tokens["session_state"]


def test_refresh_expires_in_reports_the_real_deadline_never_zero(
    make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """Offline: 30 days idle; online: the session's 30 minutes idle."""
    client = make_client()
    offline = device_tokens(client, "device offline_access")
    online = device_tokens(client, "device")
    assert 30 * 24 * 3600 - 5 <= offline["refresh_expires_in"] <= 30 * 24 * 3600
    assert 1800 - 5 <= online["refresh_expires_in"] <= 1800


def test_client_without_the_refresh_grant_gets_no_refresh_token(
    make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """The refresh token is the client's to have or not."""
    client = make_client(grant_types=["urn:ietf:params:oauth:grant-type:device_code"])
    tokens = device_tokens(client, "device offline_access")
    assert "refresh_token" not in tokens and "refresh_expires_in" not in tokens


def test_unknown_realm_answers_404_realm_does_not_exist(http: httpx.Client) -> None:
    """Keycloak's exact body on every protocol endpoint."""
    for method, path in [
        ("GET", "/realms/other"),
        ("GET", "/realms/other/.well-known/openid-configuration"),
        ("POST", "/realms/other/protocol/openid-connect/token"),
        ("POST", "/realms/other/protocol/openid-connect/auth/device"),
        ("GET", "/realms/other/protocol/openid-connect/certs"),
    ]:
        response = http.request(method, path)
        assert (response.status_code, response.json()) == (404, {"error": "Realm does not exist"}), path


def test_realm_info_publishes_the_signing_key_as_base64_der(http: httpx.Client) -> None:
    """python-keycloak's public_key() reads `public_key`; it is the signing key published in certs."""
    info = http.get(REALM).json()
    assert list(info) == ["realm", "public_key", "token-service", "account-service", "tokens-not-before"]
    key = RSAKey.import_key(base64.b64decode(info["public_key"]))
    certs = http.get(f"{PROTOCOL}/certs").json()["keys"]
    assert key.as_dict()["n"] in {k["n"] for k in certs}
