from __future__ import annotations
import json
from typing import Any
import httpx
from tests.browser.test_console_data import sign_in, Words, hourly, device_flow, _structure
from tests.conftest import unique


def test_shots(page, live_server, make_user):
    account = make_user()
    tab = page.page
    tab.goto("/console/login")
    sign_in(tab, Words("en"), account)
    tab.wait_for_url("**/console/")
    with httpx.Client(base_url=live_server.url) as http:
        tokens = device_flow(http, tab, Words("en"), {"client_id": "zevvy-cli"})
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        r = http.post(
            "/measurements/_bulk_create",
            headers=bearer,
            json={
                "deviceReference": "gw-1",
                "registerReference": "1-0:1.8.0",
                "measurements": hourly(1711753200, 24 * 20, 1000, 10.25),
            },
        )
        rid = r.json()["register"]["id"]
        http.post(
            "/measurements/_bulk_create",
            headers=bearer,
            json={
                "deviceReference": "gw-1",
                "registerReference": "1-0:1.8.0",
                "measurements": [{"readAt": "2024-03-30T05:00:00Z", "value": 1}],
            },
        )
    ids = _structure(live_server, account)
    tab.set_viewport_size({"width": 1280, "height": 900})
    tab.goto(f"/console/registers/{rid}?view=consumption&interval=day&from=2024-03-30&until=2024-04-15")
    tab.wait_for_selector('[data-chart][data-state="ready"]')
    tab.locator("svg rect.bar").nth(1).hover()
    tab.screenshot(path="/tmp/shot_register.png", full_page=True)
    tab.goto(f"/console/registers/{rid}?view=readings&from=2024-03-30&until=2024-04-02")
    tab.wait_for_selector('[data-chart][data-state="ready"]')
    tab.screenshot(path="/tmp/shot_readings.png")
    tab.goto("/console/")
    tab.screenshot(path="/tmp/shot_home.png", full_page=True)
    tab.goto("/console/devices")
    tab.screenshot(path="/tmp/shot_devices.png", full_page=True)
    tab.goto(f"/console/points/{ids['point']}")
    tab.screenshot(path="/tmp/shot_point.png", full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(f"/console/registers/{rid}?view=consumption&interval=day&from=2024-03-30&until=2024-04-15")
    tab.wait_for_selector('[data-chart][data-state="ready"]')
    tab.locator("#chart").scroll_into_view_if_needed()
    tab.screenshot(path="/tmp/shot_phone.png", full_page=False)
    tab.goto("/console/settings/clients")
    tab.screenshot(path="/tmp/shot_clients_phone.png", full_page=True)
