"""python-keycloak's `KeycloakOpenID`, unchanged, against our identity server."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from tests.api.conftest import ApiClient, pkce_pair
from tests.conftest import Account, LiveServer
from tests.support import csrf_from

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CALLBACK = "http://127.0.0.1:9/callback"


@pytest.fixture
def keycloak(
    live_server: LiveServer, make_client: Callable[..., ApiClient]
) -> tuple[KeycloakOpenID, ApiClient]:
    """A confidential client and python-keycloak configured for it (server_url is the host root)."""
    client = make_client(redirect_uris=[CALLBACK])
    openid = KeycloakOpenID(
        server_url=live_server.url + "/",
        realm_name="zevvy",
        client_id=client.client_id,
        client_secret_key=client.secret,
    )
    return openid, client


def test_well_known_certs_and_public_key(
    live_server: LiveServer, keycloak: tuple[KeycloakOpenID, ApiClient]
) -> None:
    """Discovery, JWKS and the realm's public key as python-keycloak reads them."""
    openid, _ = keycloak
    assert openid.well_known()["issuer"] == live_server.issuer
    assert openid.certs()["keys"]
    assert openid.public_key().startswith("MII")


def test_device_flow_token_refresh_userinfo_introspect_decode_and_logout(
    live_server: LiveServer,
    keycloak: tuple[KeycloakOpenID, ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """The whole life of a device login through python-keycloak's own calls."""
    openid, _ = keycloak
    account = make_user()
    started = openid.device(scope="openid profile device offline_access")
    with pytest.raises(KeycloakPostError) as pending:
        openid.token(grant_type=DEVICE_GRANT, device_code=started["device_code"])
    assert pending.value.response_code == 400
    assert b"authorization_pending" in (pending.value.response_body or b"")
    approve(started["user_code"], account)
    live_server.clock.advance(5)
    tokens = openid.token(grant_type=DEVICE_GRANT, device_code=started["device_code"])
    assert set(tokens["scope"].split()) == {"openid", "profile", "device", "offline_access"}

    claims = openid.decode_token(tokens["access_token"])
    assert claims["sub"] == str(account.user.id) and claims["typ"] == "Bearer"
    info = openid.userinfo(tokens["access_token"])
    assert isinstance(info, dict) and info["preferred_username"] == account.username
    introspected = openid.introspect(tokens["access_token"])
    assert introspected["active"] is True and introspected["username"] == account.username

    renewed = openid.refresh_token(tokens["refresh_token"])
    assert renewed["refresh_token"] != tokens["refresh_token"]
    assert openid.logout(renewed["refresh_token"]) == {}
    assert openid.introspect(renewed["access_token"]) == {"active": False}


def test_authorization_code_with_pkce_through_auth_url_and_token(
    live_server: LiveServer,
    keycloak: tuple[KeycloakOpenID, ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """auth_url() builds an unencoded URL; our endpoint reads it; token() exchanges the code."""
    openid, _ = keycloak
    account = make_user()
    verifier, challenge = pkce_pair()
    url = openid.auth_url(
        CALLBACK, scope="openid email", state="abc", code_challenge=challenge, code_challenge_method="S256"
    )
    browser = browser_session(account)
    page = browser.get(url.removeprefix(live_server.url))
    assert page.status_code == 200, page.text
    decided = browser.post(
        urlsplit(url).path,
        data={
            "csrf_token": csrf_from(page.text),
            "authorization_request": urlsplit(url).query,
            "decision": "approve",
            "organization_id": str(account.organization.id),
        },
    )
    returned = parse_qs(urlsplit(decided.headers["location"]).query)
    tokens = openid.token(
        grant_type="authorization_code",
        code=returned["code"][0],
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert "id_token" in tokens
    assert openid.decode_token(tokens["id_token"])["aud"] == openid.client_id


def test_a_wrong_secret_is_an_authentication_error(
    live_server: LiveServer, keycloak: tuple[KeycloakOpenID, ApiClient]
) -> None:
    """python-keycloak turns our 401 into KeycloakAuthenticationError."""
    _, client = keycloak
    wrong = KeycloakOpenID(
        server_url=live_server.url + "/",
        realm_name="zevvy",
        client_id=client.client_id,
        client_secret_key="x",
    )
    with pytest.raises(KeycloakAuthenticationError):
        wrong.device()
