"""The device flow over HTTP: authorization, client authentication, the poll clock, decisions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import DEVICE_GRANT, PROTOCOL, ApiClient, poll, start_device
from tests.conftest import Account, LiveServer
from zevvy_server.oauth.errors import UserCodeNotUsable

SIX_MEMBERS = [
    "device_code",
    "user_code",
    "verification_uri",
    "verification_uri_complete",
    "expires_in",
    "interval",
]


def test_device_authorization_answers_exactly_the_six_rfc_8628_members_and_no_secret(
    live_server: LiveServer, http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """Member names and order as Keycloak's; never the client secret; no-store."""
    client = make_client()
    response = http.post(f"{PROTOCOL}/auth/device", data=client.credentials())
    assert response.status_code == 200
    body = response.json()
    assert list(body) == SIX_MEMBERS
    assert client.secret and client.secret not in response.text
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["device_code"])
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", body["user_code"])
    assert body["verification_uri"] == f"{live_server.issuer}/device"
    assert body["verification_uri_complete"] == f"{live_server.issuer}/device?user_code={body['user_code']}"
    assert (body["expires_in"], body["interval"]) == (600, 5)
    assert response.headers["cache-control"] == "no-store"


def test_public_client_starts_with_client_id_alone_and_an_empty_scope(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """python-keycloak's `device()` sends `scope=` and no secret for a public client."""
    client = make_client(public=True)
    response = http.post(f"{PROTOCOL}/auth/device", data={"client_id": client.client_id, "scope": ""})
    assert response.status_code == 200, response.text


def test_confidential_client_may_authenticate_with_http_basic(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """client_secret_basic works as well as client_secret_post."""
    client = make_client()
    assert client.secret is not None
    response = http.post(f"{PROTOCOL}/auth/device", auth=(client.client_id, client.secret))
    assert response.status_code == 200, response.text


def test_wrong_secret_is_401_invalid_client_with_a_basic_challenge_only_when_basic_was_used(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """DESIGN: 401 invalid_client for unknown clients and bad secrets alike."""
    client = make_client()
    posted = http.post(
        f"{PROTOCOL}/auth/device", data={"client_id": client.client_id, "client_secret": "nope"}
    )
    assert posted.status_code == 401
    assert posted.json() == {
        "error": "invalid_client",
        "error_description": "Invalid client or Invalid client credentials",
    }
    assert "www-authenticate" not in posted.headers
    basic = http.post(f"{PROTOCOL}/auth/device", auth=(client.client_id, "nope"))
    assert basic.status_code == 401
    assert basic.headers["www-authenticate"] == 'Basic realm="zevvy"'
    unknown = http.post(f"{PROTOCOL}/token", data={"client_id": "no-such-client", "grant_type": DEVICE_GRANT})
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")


def test_missing_client_id_is_400_invalid_request(http: httpx.Client) -> None:
    """No client at all is a malformed request, not a failed authentication."""
    response = http.post(f"{PROTOCOL}/auth/device", data={"scope": "device"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_confidential_client_without_a_secret_is_refused(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """A confidential client cannot pose as a public one by leaving the secret out."""
    client = make_client()
    response = http.post(f"{PROTOCOL}/auth/device", data={"client_id": client.client_id})
    assert response.status_code == 401


def test_client_without_the_device_grant_cannot_start_a_device_flow(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """Keycloak's 400 unauthorized_client."""
    client = make_client(grant_types=["authorization_code", "refresh_token"])
    response = http.post(f"{PROTOCOL}/auth/device", data=client.credentials())
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_a_duplicated_form_parameter_is_400_duplicated_parameter(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """Checked after client authentication, on the form body."""
    client = make_client()
    content = httpx.QueryParams([*client.credentials().items(), ("scope", "device"), ("scope", "register")])
    response = http.post(
        f"{PROTOCOL}/auth/device",
        content=str(content),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "duplicated parameter"}


def test_poll_sequence_is_pending_then_slow_down_then_tokens_after_approval_and_replay_is_refused(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """RFC 8628 §3.5 with Keycloak's strings; slow_down raises the interval by 5 s."""
    client = make_client()
    started = start_device(http, client, "device measurement")
    first = poll(http, client, started["device_code"])
    assert (first.status_code, first.json()["error"]) == (400, "authorization_pending")
    assert first.headers["cache-control"] == "no-store" and first.headers["pragma"] == "no-cache"
    fast = poll(http, client, started["device_code"])
    assert fast.json() == {"error": "slow_down", "error_description": "Slow down"}
    live_server.clock.advance(6)  # enough for the old 5 s interval, not for the raised 10 s one
    assert poll(http, client, started["device_code"]).json()["error"] == "slow_down"
    live_server.clock.advance(15.5)  # the second slow_down raised it to 15 s
    assert poll(http, client, started["device_code"]).json()["error"] == "authorization_pending"
    approve(started["user_code"], make_user())
    live_server.clock.advance(15.5)
    granted = poll(http, client, started["device_code"])
    assert granted.status_code == 200, granted.text
    assert granted.json()["scope"] == "device measurement"
    replay = poll(http, client, started["device_code"])
    assert replay.json() == {"error": "invalid_grant", "error_description": "Device code not valid"}


def test_a_slow_down_answer_does_not_restamp_the_poll_clock(
    live_server: LiveServer, http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """Counted from the last counted poll: fast polls cannot push the window forever."""
    client = make_client()
    started = start_device(http, client)
    poll(http, client, started["device_code"])  # counted, t=0
    live_server.clock.advance(3)
    assert poll(http, client, started["device_code"]).json()["error"] == "slow_down"  # interval now 10
    live_server.clock.advance(7.2)  # 10.2 s after the counted poll, 7.2 s after the slow_down
    assert poll(http, client, started["device_code"]).json()["error"] == "authorization_pending"


def test_a_poll_half_a_second_early_still_counts_as_on_time(
    live_server: LiveServer, http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """0.5 s tolerance for network jitter."""
    client = make_client()
    started = start_device(http, client)
    poll(http, client, started["device_code"])
    live_server.clock.advance(4.7)
    assert poll(http, client, started["device_code"]).json()["error"] == "authorization_pending"


def test_a_denied_code_stays_denied_on_every_later_poll(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """access_denied repeatedly; a later approval attempt is refused."""
    client = make_client()
    account = make_user()
    started = start_device(http, client)
    approve(started["user_code"], account, deny=True)
    for _ in range(2):
        answer = poll(http, client, started["device_code"])
        assert answer.json() == {
            "error": "access_denied",
            "error_description": "The end user denied the authorization request",
        }
        live_server.clock.advance(5.5)
    with pytest.raises(UserCodeNotUsable):
        approve(started["user_code"], account)
    assert poll(http, client, started["device_code"]).json()["error"] == "access_denied"


def test_an_expired_code_answers_expired_token(
    live_server: LiveServer, http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """After expires_in the device is told to start again."""
    client = make_client()
    started = start_device(http, client)
    live_server.clock.advance(601)
    answer = poll(http, client, started["device_code"])
    assert answer.json() == {"error": "expired_token", "error_description": "Device code is expired"}


def test_another_clients_device_code_and_unknown_codes_are_invalid_grant(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """A code only works for the client it was issued to."""
    owner, other = make_client(), make_client()
    started = start_device(http, owner)
    stolen = poll(http, other, started["device_code"])
    assert stolen.json() == {"error": "invalid_grant", "error_description": "unauthorized client"}
    assert poll(http, owner, "not-a-code").json()["error_description"] == "Device code not valid"
    missing = http.post(f"{PROTOCOL}/token", data={**owner.credentials(), "grant_type": DEVICE_GRANT})
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "Missing parameter: device_code",
    }


def test_python_keycloak_extra_empty_fields_and_scope_on_the_poll_are_ignored(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """`username=&password=&code=&redirect_uri=&scope=openid` do not change the granted scopes."""
    client = make_client()
    started = start_device(http, client, "device")
    approve(started["user_code"], make_user())
    extra = {"username": "", "password": "", "code": "", "redirect_uri": "", "scope": "openid"}
    answer = poll(http, client, started["device_code"], **extra)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["scope"] == "device"
    assert "id_token" not in tokens


def test_scopes_are_requested_intersected_with_allowed_and_all_allowed_when_none_named(
    device_tokens: Callable[..., dict[str, Any]], make_client: Callable[..., ApiClient]
) -> None:
    """Unknown scopes are dropped; scopes the client may not have are dropped."""
    client = make_client(scopes=["device", "measurement", "offline_access"])
    assert device_tokens(client, "measurement register bogus")["scope"] == "measurement"
    assert device_tokens(client, None)["scope"] == "device measurement offline_access"
    assert device_tokens(client, "")["scope"] == "device measurement offline_access"


def test_unknown_grant_types_and_a_missing_grant_type_get_keycloaks_answers(http: httpx.Client) -> None:
    """Reported before client authentication, like Keycloak."""
    missing = http.post(f"{PROTOCOL}/token", data={"client_id": "x"})
    assert missing.json() == {
        "error": "invalid_request",
        "error_description": "Missing form parameter: grant_type",
    }
    password = http.post(f"{PROTOCOL}/token", data={"client_id": "x", "grant_type": "password"})
    assert password.json() == {
        "error": "unsupported_grant_type",
        "error_description": "Unsupported grant_type",
    }
