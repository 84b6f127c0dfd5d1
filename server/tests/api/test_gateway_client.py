"""The zevvy gateway's exact requests (eliona zevvy-app, Go): built on the auth root, no discovery.

Go's `url.Values.Encode` sorts the form keys; `url.PathEscape` escapes each reference as one
path segment. The gateway shows the user `verification_uri_complete` only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from tests.api.conftest import ApiClient
from tests.conftest import Account, LiveServer, unique

GO_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Go-http-client/1.1"}


def _go_form(http: httpx.Client, url: str, fields: dict[str, str]) -> httpx.Response:
    return http.post(url, content=urlencode(sorted(fields.items())), headers=GO_HEADERS)


def test_the_gateway_connects_refreshes_with_its_stale_device_code_and_uploads(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    approve: Callable[..., None],
) -> None:
    """Device authorization, polling, refresh and a bulk upload exactly as the gateway sends them."""
    auth_root = live_server.issuer
    account = make_user()
    client = make_client(org=account.organization)
    assert client.secret is not None
    credentials = {"client_id": client.client_id, "client_secret": client.secret}

    verification = _go_form(
        http,
        f"{auth_root}/protocol/openid-connect/auth/device",
        {**credentials, "scope": "offline_access measurement register device"},
    )
    assert verification.status_code == 200
    started: dict[str, Any] = verification.json()
    assert started["verification_uri_complete"].endswith(f"?user_code={started['user_code']}")

    poll_fields = {**credentials, "device_code": started["device_code"], "grant_type": DEVICE}
    pending = _go_form(http, f"{auth_root}/protocol/openid-connect/token", poll_fields)
    assert (pending.status_code, pending.json()["error"]) == (400, "authorization_pending")
    approve(started["user_code"], account)
    live_server.clock.advance(started["interval"])
    granted = _go_form(http, f"{auth_root}/protocol/openid-connect/token", poll_fields)
    assert granted.status_code == 200, granted.text
    tokens = granted.json()
    assert tokens["scope"].split() == ["device", "register", "measurement", "offline_access"]

    refreshed = _go_form(
        http,
        f"{auth_root}/protocol/openid-connect/token",
        {
            **credentials,
            "device_code": started["device_code"],
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    access_token = refreshed.json()["access_token"]

    device_ref, register_ref = unique("eliona Zähler/7"), "power in/out"
    upload = http.post(
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create",
        json=[{"readAt": "2024-03-31T00:15:00Z", "value": 101.5}],
        headers={"Authorization": f"Bearer {access_token}", "User-Agent": "Go-http-client/1.1"},
    )
    assert upload.status_code in {201, 409}, upload.text


DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
