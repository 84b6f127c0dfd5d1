"""Refresh tokens: rotation, the grace period, reuse detection, idle deadlines, scope narrowing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import PROTOCOL, ApiClient, refresh
from tests.conftest import LiveServer


def _introspect(http: httpx.Client, client: ApiClient, token: str) -> dict[str, Any]:
    body: dict[str, Any] = http.post(
        f"{PROTOCOL}/token/introspect", data={**client.credentials(), "token": token}
    ).json()
    return body


def test_refresh_rotates_the_token_and_keeps_session_and_scopes(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """A new refresh token each time, same session_state, same scopes."""
    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    renewed = refresh(http, client, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert body["refresh_token"] != tokens["refresh_token"]
    assert body["access_token"] != tokens["access_token"]
    assert body["session_state"] == tokens["session_state"]
    assert body["scope"] == "device offline_access"
    assert renewed.headers["cache-control"] == "no-store"


def test_the_gateways_stale_device_code_on_refresh_is_ignored(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """The Go client sends the old device_code along with the refresh token."""
    client = make_client()
    tokens = device_tokens(client, "offline_access measurement register device")
    renewed = refresh(http, client, tokens["refresh_token"], device_code="an-old-device-code")
    assert renewed.status_code == 200, renewed.text


def test_the_just_replaced_token_works_for_30_seconds_then_its_reuse_revokes_the_family(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """Grace for lost responses; later reuse kills every token descending from the approval."""
    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    first = refresh(http, client, tokens["refresh_token"]).json()
    live_server.clock.advance(10)
    again = refresh(http, client, tokens["refresh_token"])
    assert again.status_code == 200, again.text
    live_server.clock.advance(25)
    reused = refresh(http, client, tokens["refresh_token"])
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Maximum allowed refresh token reuse exceeded",
    }
    for descendant in (first["refresh_token"], again.json()["refresh_token"]):
        assert refresh(http, client, descendant).json()["error_description"] == "Offline session not active"
    assert _introspect(http, client, first["access_token"]) == {"active": False}


def test_an_older_generation_is_not_in_grace_even_within_30_seconds(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """Only the token just replaced has a grace period, not its ancestors."""
    client = make_client()
    tokens = device_tokens(client, "device")
    second = refresh(http, client, tokens["refresh_token"]).json()
    refresh(http, client, second["refresh_token"])
    reused = refresh(http, client, tokens["refresh_token"])
    assert reused.json()["error_description"] == "Maximum allowed refresh token reuse exceeded"


def test_a_refresh_token_only_works_for_its_own_client(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """Keycloak's description for a token of another client."""
    owner, other = make_client(), make_client()
    tokens = device_tokens(owner, "device")
    stolen = refresh(http, other, tokens["refresh_token"])
    assert stolen.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid refresh token. Token client and authorized client don't match",
    }
    assert refresh(http, owner, "garbage").json()["error_description"] == "Invalid refresh token"
    missing = http.post(f"{PROTOCOL}/token", data={**owner.credentials(), "grant_type": "refresh_token"})
    assert missing.json() == {"error": "invalid_request", "error_description": "No refresh token"}


def test_offline_tokens_expire_after_30_idle_days_and_each_use_renews_the_deadline(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """Sliding idle window; the answer after it is Keycloak's "Token is not active"."""
    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    live_server.clock.advance(29 * 24 * 3600)
    renewed = refresh(http, client, tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_expires_in"] >= 30 * 24 * 3600 - 5
    live_server.clock.advance(29 * 24 * 3600)
    again = refresh(http, client, renewed.json()["refresh_token"])
    assert again.status_code == 200, again.text
    live_server.clock.advance(30 * 24 * 3600 + 1)
    late = refresh(http, client, again.json()["refresh_token"])
    assert late.json() == {"error": "invalid_grant", "error_description": "Token is not active"}


def test_online_sessions_end_after_30_idle_minutes(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """Without offline_access the refresh token dies with the grant session."""
    client = make_client()
    tokens = device_tokens(client, "device")
    live_server.clock.advance(1801)
    assert refresh(http, client, tokens["refresh_token"]).json()["error_description"] == "Token is not active"


def test_online_sessions_end_after_10_hours_even_when_used(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
) -> None:
    """The maximum session length caps the idle renewal."""
    client = make_client()
    token = device_tokens(client, "device")["refresh_token"]
    for _ in range(21):  # 21 x 29 minutes > 10 hours
        live_server.clock.advance(29 * 60)
        answer = refresh(http, client, token)
        if answer.status_code != 200:
            break
        token = answer.json()["refresh_token"]
        assert answer.json()["refresh_expires_in"] > 0
    assert answer.json()["error_description"] == "Token is not active"


def test_a_refresh_may_narrow_the_scopes_but_not_widen_them(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """Narrowed access token; the refresh token keeps the approval's scopes."""
    client = make_client()
    tokens = device_tokens(client, "device measurement offline_access")
    narrow = refresh(http, client, tokens["refresh_token"], scope="measurement")
    assert narrow.json()["scope"] == "measurement"
    wide = refresh(http, client, narrow.json()["refresh_token"], scope="measurement register")
    assert wide.json()["error"] == "invalid_scope"


def test_two_refreshes_racing_with_one_token_both_succeed_and_keep_the_family(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """A gateway whose first request timed out retries at once: the grace period covers it."""
    from concurrent.futures import ThreadPoolExecutor

    client = make_client()
    tokens = device_tokens(client, "device offline_access")
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: refresh(http, client, tokens["refresh_token"]), range(2)))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    for answer in answers:
        assert refresh(http, client, answer.json()["refresh_token"]).status_code == 200
