"""Discovery documents: consistent with the routes, and only what is implemented."""

from __future__ import annotations

import httpx

from tests.api.conftest import REALM
from tests.conftest import LiveServer

GET_ENDPOINTS = {"jwks_uri"}
BROWSER_ENDPOINTS = {"authorization_endpoint", "end_session_endpoint"}


def test_openid_configuration_names_our_issuer_and_only_implemented_features(
    live_server: LiveServer, http: httpx.Client
) -> None:
    """S256 only, three grants, code only, absolute URLs under the issuer."""
    doc = http.get(f"{REALM}/.well-known/openid-configuration").json()
    assert doc["issuer"] == live_server.issuer
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    }
    assert doc["response_types_supported"] == ["code"]
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {"device", "register", "measurement", "offline_access", "openid"} <= set(doc["scopes_supported"])
    for name, value in doc.items():
        if name.endswith("_endpoint") or name == "jwks_uri":
            assert value.startswith(live_server.issuer + "/protocol/openid-connect/"), name


def test_every_advertised_endpoint_answers(live_server: LiveServer, http: httpx.Client) -> None:
    """No advertised URL is a 404 or 405; POST endpoints answer an empty POST with an OAuth error."""
    doc = http.get(f"{REALM}/.well-known/openid-configuration").json()
    for name, url in doc.items():
        if not (name.endswith("_endpoint") or name == "jwks_uri"):
            continue
        path = url.removeprefix(live_server.url)
        if name in GET_ENDPOINTS:
            assert http.get(path).status_code == 200, name
        elif name in BROWSER_ENDPOINTS:
            assert http.get(path).status_code not in {404, 405}, name
        else:
            answer = http.post(path, data={})
            assert answer.status_code in {400, 401}, (name, answer.status_code)
            assert "error" in answer.json(), name


def test_rfc_8414_metadata_is_served_appended_and_inserted_with_the_same_issuer(
    live_server: LiveServer, http: httpx.Client
) -> None:
    """Both well-known forms; the issuer equals the one the client derived the URL from."""
    appended = http.get(f"{REALM}/.well-known/oauth-authorization-server")
    inserted = http.get("/.well-known/oauth-authorization-server/realms/zevvy")
    assert appended.status_code == inserted.status_code == 200
    assert appended.json() == inserted.json()
    assert appended.json()["issuer"] == live_server.issuer
    assert "userinfo_endpoint" not in appended.json()
    assert http.get("/.well-known/oauth-authorization-server/realms/other").status_code == 404


def test_certs_publish_rsa_signing_keys_only(http: httpx.Client) -> None:
    """Every entry is a JWK jwcrypto accepts (python-keycloak imports them all)."""
    from jwcrypto import jwk

    keys = http.get(f"{REALM}/protocol/openid-connect/certs").json()["keys"]
    assert keys
    for entry in keys:
        assert (entry["kty"], entry["alg"], entry["use"]) == ("RSA", "RS256", "sig")
        assert not {"d", "p", "q"} & set(entry)
        jwk.JWK(**entry)
