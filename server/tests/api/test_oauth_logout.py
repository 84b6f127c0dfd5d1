"""Browser (RP-initiated) logout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.api.conftest import PROTOCOL, ApiClient, refresh
from tests.support import csrf_from

CALLBACK = "http://127.0.0.1:9/callback"


def test_logout_with_an_id_token_hint_ends_the_session_and_returns_with_state(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """A registered post_logout_redirect_uri, exactly; the grant session's tokens stop working."""
    client = make_client(redirect_uris=[CALLBACK])
    tokens = device_tokens(client, "openid device")
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": CALLBACK, "state": "s 1"}
    answer = http.get(f"{PROTOCOL}/logout", params=params)
    assert answer.status_code == 302
    assert answer.headers["location"] == CALLBACK + "?state=s+1"
    assert refresh(http, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_logout_refuses_unregistered_redirects_and_forged_hints(
    http: httpx.Client, make_client: Callable[..., ApiClient], device_tokens: Callable[..., dict[str, Any]]
) -> None:
    """400 page, no redirect, and the session survives."""
    client = make_client(redirect_uris=[CALLBACK])
    tokens = device_tokens(client, "openid device")
    elsewhere = http.get(
        f"{PROTOCOL}/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": CALLBACK + "/x"},
    )
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers
    forged = http.get(f"{PROTOCOL}/logout", params={"id_token_hint": tokens["access_token"][:-4] + "AAAA"})
    assert forged.status_code == 400
    assert refresh(http, client, tokens["refresh_token"]).status_code == 200


def test_logout_without_a_hint_asks_to_confirm_then_signs_the_browser_out(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """The confirmation form carries CSRF; afterwards the browser is sent to the client's URI."""
    client = make_client(redirect_uris=[CALLBACK])
    params = {"client_id": client.client_id, "post_logout_redirect_uri": CALLBACK, "state": "x"}
    page = http.get(f"{PROTOCOL}/logout", params=params)
    assert page.status_code == 200 and "Do you want to sign out?" in page.text
    confirmed = http.post(
        f"{PROTOCOL}/logout/logout-confirm", data={**params, "csrf_token": csrf_from(page.text)}
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == CALLBACK + "?state=x"
    forged = http.post(f"{PROTOCOL}/logout/logout-confirm", data=params)
    assert forged.status_code == 403


def test_a_browser_post_to_logout_continues_as_rp_initiated_logout(http: httpx.Client) -> None:
    """Without a refresh token or client credentials a POST is the browser's, not back-channel."""
    answer = http.post(f"{PROTOCOL}/logout", data={"state": "x"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/realms/zevvy/protocol/openid-connect/logout?state=x"
