"""Text with NUL characters: PostgreSQL's text cannot hold one and SQLite's can, so without a
check at the edge the same request was a 500 on one backend and stored data on the other. Every
way in (path, query string, cursor, JSON body, OAuth form, console form) answers a 4xx in its
error shape, on both backends, and changes nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest

from tests.api.conftest import PROTOCOL, ApiClient
from tests.conftest import Account, LiveServer
from tests.support import console_login, csrf_from

NUL = "\x00"


@pytest.fixture
def api(live_server: LiveServer, api_token: Callable[..., str]) -> Iterator[httpx.Client]:
    token = api_token()
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        created = client.post(
            "/deviceRef/nul-meter/registerRef/1.8.0/measurements/_bulk_create",
            json=[{"readAt": "2024-01-01T00:00:00Z", "value": 1}],
        )
        assert created.status_code == 201, created.text
        yield client


def _refused(response: httpx.Response, *pointers: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    assert [d["pointer"] for d in body["details"]] == list(pointers)
    assert {d["problem"] for d in body["details"]} == {"nul_character"}


def _state(api: httpx.Client) -> tuple[object, object]:
    devices = api.get("/devices")
    readings = api.get("/deviceRef/nul-meter/registerRef/1.8.0/measurements")
    assert devices.status_code == readings.status_code == 200
    return devices.json(), readings.json()


def test_query_and_path_text_with_a_nul_is_422_naming_the_parameter(api: httpx.Client) -> None:
    before = _state(api)
    _refused(api.get("/devices", params={"search": f"met{NUL}er"}), "/search")
    _refused(api.get("/devices", params={"name": NUL, "reference": f"a{NUL}"}), "/name", "/reference")
    _refused(api.get("/devices?limit=5&search=%00"), "/search")
    _refused(api.get("/deviceRef/nul%00meter"), "/reference")
    _refused(
        api.get("/deviceRef/nul-meter%00/registerRef/1.8.0/measurements"),
        "/deviceRef",
    )
    _refused(
        api.post(
            "/deviceRef/nul-meter/registerRef/1.8.0%00/measurements/_bulk_create",
            json=[{"readAt": "2024-01-02T00:00:00Z", "value": 2}],
        ),
        "/registerRef",
    )
    # An escaped "%2500" is the text "%00", not a NUL.
    assert api.get("/devices", params={"search": "%00"}).json()["items"] == []
    assert _state(api) == before


def test_a_cursor_whose_key_holds_a_nul_is_a_tampered_cursor(api: httpx.Client) -> None:
    raw = orjson.dumps(["devices", f"nul{NUL}", "00000000-0000-0000-0000-000000000000"])
    cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    response = api.get("/devices", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["problem"] == "invalid_cursor"


def test_json_text_with_a_nul_is_422_and_stores_nothing(api: httpx.Client) -> None:
    before = _state(api)
    created = api.post("/devices", json={"name": f"Meter{NUL}", "reference": "nul-2"})
    assert created.status_code == 422, created.text
    bulk = api.post(
        "/measurements/_bulk_create",
        json={
            "deviceReference": f"nul{NUL}3",
            "registerReference": "1.8.0",
            "measurements": [{"readAt": "2024-01-01T00:00:00Z", "value": 1}],
        },
    )
    assert bulk.status_code == 422, bulk.text
    assert _state(api) == before


def test_oauth_forms_with_a_nul_are_invalid_request(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    client = make_client()
    device = http.post(f"{PROTOCOL}/auth/device", data={**client.credentials(), "nonce": f"n{NUL}"})
    assert device.status_code == 400, device.text
    assert device.json()["error"] == "invalid_request"
    assert "nonce" in device.json()["error_description"]
    # A field name an OAuth error description cannot carry (RFC 6749 section 5.2) is not named.
    odd_name = http.post(f"{PROTOCOL}/revoke", data={**client.credentials(), f"y{NUL}\u00e9": "1"})
    assert odd_name.status_code == 400, odd_name.text
    assert odd_name.json()["error_description"].startswith("form fields:")
    token = http.post(
        f"{PROTOCOL}/token",
        data={"client_id": f"{client.client_id}{NUL}", "grant_type": "refresh_token", "refresh_token": "x"},
    )
    assert token.status_code == 400, token.text
    assert token.json()["error"] == "invalid_request"
    query = http.get(f"{PROTOCOL}/auth", params={"client_id": NUL, "response_type": "code"})
    assert query.status_code == 422, query.text


def test_console_forms_with_a_nul_are_refused_and_sign_nobody_in(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    account = make_user()
    with httpx.Client(base_url=live_server.url, timeout=30) as browser:
        refused = console_login(browser, f"{account.username}{NUL}", account.password)
        assert refused.status_code == 422, refused.text
        assert browser.get("/console/").status_code == 303  # still signed out
        assert console_login(browser, account.username, account.password).status_code == 303
        device_page = f"/realms/{live_server.settings.realm}/device"
        page = browser.get(device_page)
        code = browser.post(
            device_page, data={"csrf_token": csrf_from(page.text), "user_code": f"ABCD{NUL}EFGH"}
        )
        assert code.status_code == 422, code.text
