"""Forged and misused bearer tokens: every one is refused by the metering API with 401.

The forgeries start from a real access token and change one thing each: the algorithm, the key,
the key id, a claim. Those that need our signature are signed with the server's own key, so the
claim check (not the signature) is what must refuse them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.api.conftest import ApiClient
from tests.conftest import LiveServer
from zevvy_server.oauth.keys import load_keys


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(
        base64.urlsafe_b64decode(pad(payload))
    )


@pytest.fixture
def real(
    make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """A real token set (access, refresh, ID token) for the metering scopes."""
    return device_tokens(make_client(), "openid device register measurement offline_access")


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    # By hand: JOSE libraries (rightly) refuse a public key as an HMAC secret.
    signing_input = f"{_b64({**header, 'alg': 'HS256'})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _server_signed(live_server: LiveServer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    with live_server.db.read() as session:
        keys = load_keys(session, live_server.clock, timedelta(hours=1))
    return jwt.encode({**header, "alg": "RS256", "kid": keys.signing.kid}, claims, keys.signing)


def _forgeries(live_server: LiveServer, tokens: dict[str, Any]) -> dict[str, str]:
    header, claims = _parts(tokens["access_token"])
    now = int(live_server.clock.time())
    public_pem = httpx.get(f"{live_server.issuer}").json()["public_key"]
    other_key = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    forged = {
        "alg none": f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}.",
        "alg none without a dot": f"{_b64({'alg': 'none'})}.{_b64(claims)}",
        "HS256 keyed with the public key": _hs256(header, claims, public_pem.encode()),
        "HS256 keyed with the PEM of the public key": _hs256(
            header, claims, f"-----BEGIN PUBLIC KEY-----\n{public_pem}\n-----END PUBLIC KEY-----\n".encode()
        ),
        "our kid, another key": jwt.encode({**header, "alg": "RS256"}, claims, other_key),
        "unknown kid": jwt.encode(
            {**header, "alg": "RS256", "kid": "unknown"},
            claims,
            RSAKey.generate_key(2048, parameters={"kid": "unknown"}),
        ),
        "payload swapped after signing": ".".join(
            [
                tokens["access_token"].split(".")[0],
                _b64({**claims, "org_id": "00000000-0000-0000-0000-000000000000"}),
                tokens["access_token"].split(".")[2],
            ]
        ),
        "wrong issuer": _server_signed(
            live_server, header, {**claims, "iss": "http://evil.example/realms/zevvy"}
        ),
        "wrong audience": _server_signed(live_server, header, {**claims, "aud": "account"}),
        "no audience": _server_signed(live_server, header, {k: v for k, v in claims.items() if k != "aud"}),
        "typ ID": _server_signed(live_server, header, {**claims, "typ": "ID"}),
        "typ Refresh": _server_signed(live_server, header, {**claims, "typ": "Refresh"}),
        "expired": _server_signed(live_server, header, {**claims, "iat": now - 4000, "exp": now - 3600}),
        "not yet valid": _server_signed(live_server, header, {**claims, "nbf": now + 3600}),
        "no expiry": _server_signed(live_server, header, {k: v for k, v in claims.items() if k != "exp"}),
        "ID token": tokens["id_token"],
        "refresh token": tokens["refresh_token"],
        "one space": " ",
        "garbage": "a.b.c",
    }
    return forged


def test_every_forged_or_misused_token_is_refused_with_401_and_a_bearer_challenge(
    live_server: LiveServer, real: dict[str, Any]
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        genuine = http.get("/devices", headers={"Authorization": f"Bearer {real['access_token']}"})
        assert genuine.status_code == 200, genuine.text
        accepted = {}
        for name, token in _forgeries(live_server, real).items():
            for path in ("/devices", "/imports"):
                answer = http.get(path, headers={"Authorization": f"Bearer {token}".strip()})
                if answer.status_code != 401 or not answer.headers.get("www-authenticate", "").startswith(
                    "Bearer"
                ):
                    accepted[f"{name} {path}"] = answer.status_code
        # A refresh token is no access token at the identity server's userinfo either.
        answer = http.get(
            f"{live_server.issuer}/protocol/openid-connect/userinfo",
            headers={"Authorization": f"Bearer {real['refresh_token']}"},
        )
        assert answer.status_code == 401
    assert accepted == {}
