"""The console's data pages in headless Chromium, in English and German: from an import to an
assigned, charted, exported register; CSV assignment with a preview; an API client used in a
device flow; labels, headings and keyboard use on every page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, BrowserPage, LiveServer, unique
from zevvy_server.console.i18n import TRANSLATIONS
from zevvy_server.metering import bulk
from zevvy_server.metering.common import Actor
from zevvy_server.metering.devices import DeviceService
from zevvy_server.metering.ingest import IngestOptions
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import (
    DeviceIn,
    MeasurementPointIn,
    PropertyIn,
    RegisterIn,
    UsageUnitIn,
    encode,
)
from zevvy_server.metering.structure import StructureService

pytestmark = pytest.mark.browser

PROTOCOL = "/realms/zevvy/protocol/openid-connect"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GERMAN: dict[str, str] = json.loads((TRANSLATIONS / "de.json").read_text(encoding="utf-8"))


class Words:
    """The console's words in one language (English is the source text)."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, text: str) -> str:
        return GERMAN.get(text, text) if self.language == "de" else text


def hourly(start_epoch: int, hours: int, start_value: float, step: float) -> list[dict[str, Any]]:
    """Counter readings every hour."""
    return [
        {
            "readAt": dt.datetime.fromtimestamp(start_epoch + 3600 * i, dt.UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "value": round(start_value + step * i, 3),
        }
        for i in range(hours)
    ]


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client playing the gateway."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def sign_in(tab: Any, words: Words, account: Account) -> None:
    """Fill the sign-in form."""
    tab.get_by_label(words("Username")).fill(account.username)
    tab.get_by_label(words("Password"), exact=True).fill(account.password)
    tab.get_by_role("button", name=words("Sign in")).click()


def approve_in_browser(tab: Any, words: Words, verification_uri_complete: str) -> None:
    """Open the device link (already signed in) and approve."""
    tab.goto(verification_uri_complete)
    tab.get_by_role("button", name=words("Approve")).click()
    tab.wait_for_load_state()


def device_flow(http: httpx.Client, tab: Any, words: Words, credentials: dict[str, str]) -> dict[str, Any]:
    """Start a device authorization, approve it in the browser, and fetch the tokens."""
    started = http.post(f"{PROTOCOL}/auth/device", data=credentials)
    assert started.status_code == 200, started.text
    approve_in_browser(tab, words, started.json()["verification_uri_complete"])
    answer = http.post(
        f"{PROTOCOL}/token",
        data={**credentials, "grant_type": DEVICE_GRANT, "device_code": started.json()["device_code"]},
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def wait_for_chart(tab: Any, view: str, interval: str) -> None:
    """Until the chart shows this view and interval."""
    tab.wait_for_selector(f'[data-chart][data-state="ready"][data-view="{view}"][data-interval="{interval}"]')


@pytest.mark.parametrize("language", ["en", "de"])
def test_from_an_import_to_an_assigned_charted_and_exported_register(
    page: BrowserPage,
    live_server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Account],
    language: str,
    tmp_path: Path,
) -> None:
    """Sign in, approve a device code, see the imported device unassigned, chart its daily
    consumption (equal to the API's), download it as CSV, assign it, upload an assignment CSV
    with one bad row, and use a new API client's secret in a device flow."""
    words = Words(language)
    account = make_user()
    tab = page.page
    tab.context.add_cookies([{"name": "zevvy_lang", "value": language, "url": live_server.url}])

    # Sign in, and connect the command-line client with a device code.
    tab.goto("/console/")
    sign_in(tab, words, account)
    tab.wait_for_url("**/console/")
    assert tab.locator("h1").count() == 1
    tokens = device_flow(http, tab, words, {"client_id": "zevvy-cli"})
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    # The gateway imports readings of two devices around the spring DST change.
    device_ref, other_ref = unique("gateway"), unique("heat-meter")
    imported = http.post(
        "/measurements/_bulk_create",
        headers=bearer,
        json=[
            {
                "deviceReference": device_ref,
                "registerReference": "1-0:1.8.0",
                "measurements": hourly(1711753200, 72, 1000.5, 10.25),
            },
            {
                "deviceReference": other_ref,
                "registerReference": "heat",
                "measurements": hourly(1711753200, 3, 5, 1),
            },
        ],
    )
    assert imported.status_code == 201, imported.text
    register_id = imported.json()["results"][0]["register"]["id"]

    # The device shows up as unassigned.
    tab.get_by_role("link", name=words("Devices"), exact=True).click()
    tab.get_by_label(words("Status")).select_option("unassigned")
    tab.get_by_role("button", name=words("Show"), exact=True).click()
    row = tab.locator(f'tr[data-status="unassigned"]:has-text("{device_ref}")')
    row.wait_for()
    row.get_by_role("link").click()
    tab.get_by_role("link", name="1-0:1.8.0", exact=True).click()

    # Its register: switch the chart to daily consumption over four local days.
    wait_for_chart(tab, "readings", "day")
    tab.get_by_label(words("Show"), exact=True).select_option("consumption")
    wait_for_chart(tab, "consumption", "day")
    tab.get_by_label(words("From"), exact=True).fill("2024-03-30")
    tab.get_by_label(words("Until (inclusive)")).fill("2024-04-02")
    tab.locator("form.chart-controls").get_by_role("button", name=words("Show")).click()
    tab.wait_for_selector('[data-chart][data-state="ready"] svg[data-points="4"]')
    drawn = [
        (bar.get_attribute("data-label"), bar.get_attribute("data-value"))
        for bar in tab.locator("svg rect.bar").all()
    ]
    api = http.get(
        f"/registers/{register_id}/consumption",
        headers=bearer,
        params={"from": "2024-03-30", "to": "2024-04-03", "interval": "day"},
    ).json()
    api_values = [Decimal(str(b["value"])) for b in api["buckets"] if b["value"] is not None]
    assert [Decimal(v) for _, v in drawn if v] == api_values
    assert [label for label, _ in drawn][:2] == ["2024-03-30", "2024-03-31"]
    assert Decimal(drawn[1][1] or "0") == Decimal("235.75")  # 23 hours of 10.25 Wh
    table = [r.get_attribute("data-value") for r in tab.locator("[data-table] tbody tr").all()]
    assert [Decimal(v) for v in table if v] == api_values

    # Hovering a bar reads out its local day and value.
    tab.locator("svg rect.bar").nth(1).hover()
    assert "2024-03-31: 235.75 Wh" in tab.locator("[data-readout]").inner_text()

    # The CSV holds exactly what is shown, with UTC and local columns.
    with tab.expect_download() as download_info:
        tab.get_by_role("link", name=words("semicolon-separated")).click()
    saved = tmp_path / "chart.csv"
    download_info.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8")), delimiter=";"))
    assert rows[0][:5] == ["from", "to", "localFrom", "localTo", "value"]
    assert [Decimal(r[4]) for r in rows[1:] if r[4]] == api_values
    assert rows[2][0] == "2024-03-30T23:00:00Z" and rows[2][2] == "2024-03-31T00:00:00+01:00"

    # Property, usage unit and measurement point, then assign the register from its page.
    unit_reference = unique("W")
    tab.get_by_role("link", name=words("Properties"), exact=True).click()
    tab.get_by_label(words("Name"), exact=True).fill(unique("Haus"))
    tab.get_by_label(words("Address")).fill("Bahnhofstrasse 1, 8001 Zürich")
    tab.get_by_role("button", name=words("Create property")).click()
    tab.get_by_label(words("Name"), exact=True).first.fill("Wohnung 1")
    tab.locator("#unit-reference").fill(unit_reference)
    tab.get_by_role("button", name=words("Create usage unit")).click()
    tab.get_by_label(words("Name"), exact=True).first.fill(words("electricity"))
    tab.get_by_role("button", name=words("Create measurement point")).click()
    tab.wait_for_selector('[data-chart][data-state="ready"]')
    tab.goto(f"/console/registers/{register_id}")
    tab.get_by_label(words("Valid from")).fill("2024-03-01")
    tab.get_by_role("button", name=words("Assign"), exact=True).click()
    assert tab.locator("[data-assignment]").count() == 1
    tab.goto("/console/devices?status=assigned")
    assert tab.locator(f'tr[data-status="assigned"]:has-text("{device_ref}")').count() == 1

    # An assignment CSV with one bad row: the preview refuses only that row.
    tab.goto("/console/assignments/upload")
    tab.get_by_label(words("or paste the rows")).fill(
        "device reference;register reference;usage-unit reference;cost type;valid from\n"
        f"{other_ref};heat;{unit_reference};heat;2024-03-01\n"
        f"no-such-device;heat;{unit_reference};heat;2024-03-01\n"
    )
    tab.get_by_role("button", name=words("Preview")).click()
    outcomes = [r.get_attribute("data-outcome") for r in tab.locator("tr[data-outcome]").all()]
    assert outcomes == ["ok", "refused"]
    tab.get_by_role("button", name=words("Save the {count} accepted rows").format(count=1)).click()
    tab.wait_for_selector("text=" + words("{count} rows were assigned.").format(count=1))

    # A new API client's secret works in a device-flow login.
    tab.get_by_role("link", name=words("Settings"), exact=True).click()
    tab.get_by_role("link", name=words("API clients")).click()
    tab.get_by_label(words("Name"), exact=True).fill(unique("Gateway"))
    tab.get_by_role("button", name=words("Create API client")).click()
    client_id = tab.locator("#client-id").input_value()
    secret = tab.locator("#client-secret").input_value()
    assert secret
    tokens = device_flow(http, tab, words, {"client_id": client_id, "client_secret": secret})
    assert tokens["access_token"]
    tab.goto(f"/console/settings/clients/{client_id}")
    assert tab.locator("[data-grant]").count() == 1
    assert secret not in tab.content()


# -- accessibility ------------------------------------------------------------------------------------
def _structure(live_server: LiveServer, account: Account) -> dict[str, str]:
    """A device with a register and a property with a usage unit and a point, made by services."""
    actor = Actor(
        organization_id=account.organization.id,
        user_id=account.user.id,
        scopes=frozenset({"device", "register", "measurement"}),
        role="admin",
    )
    with live_server.db.write() as session:
        device = DeviceService(session, live_server.clock).create(actor, DeviceIn(name=unique("Meter")))
        register = RegisterService(session, live_server.clock).create(
            actor, device.id, RegisterIn(name="Import")
        )
        structure = StructureService(session, live_server.clock)
        prop = structure.create_property(actor, PropertyIn(name=unique("House")))
        unit = structure.create_usage_unit(
            actor, UsageUnitIn(property_id=prop.id, name="Flat", reference=unique("U"))
        )
        point = structure.create_point(
            actor, MeasurementPointIn(usage_unit_id=unit.id, name="Power", cost_type="electricity")
        )
    return {
        "device": str(device.id),
        "register": str(register.id),
        "property": str(prop.id),
        "unit": str(unit.id),
        "point": str(point.id),
    }


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((c) => c.type !== 'hidden' && !c.hidden && c.offsetParent !== null)
  .filter((c) => !(c.labels && c.labels.length))
  .filter((c) => !c.getAttribute('aria-label') && !c.getAttribute('aria-labelledby'))
  .map((c) => c.outerHTML)"""
DUPLICATE_IDS = """() => {
  const seen = {};
  for (const e of document.querySelectorAll('[id]')) seen[e.id] = (seen[e.id] || 0) + 1;
  return Object.keys(seen).filter((k) => seen[k] > 1);
}"""


def test_every_console_page_has_one_heading_and_labelled_controls(
    page: BrowserPage, live_server: LiveServer, make_user: Callable[..., Account], http: httpx.Client
) -> None:
    """Accessibility smoke test over every data page, including the two pages links open."""
    account = make_user()
    ids = _structure(live_server, account)
    tab = page.page
    tab.goto("/console/login")
    sign_in(tab, Words("en"), account)
    tab.wait_for_url("**/console/")
    tab.goto("/console/settings/clients")
    tab.get_by_label("Name", exact=True).fill("Accessible gateway")
    tab.get_by_role("button", name="Create API client").click()
    client_id = tab.locator("#client-id").input_value()
    tab.goto("/console/settings/members")
    tab.get_by_role("button", name="Create invitation link").click()
    invitation = tab.locator("#issued-link").input_value()
    pages = [
        "/console/",
        "/console/devices",
        f"/console/devices/{ids['device']}",
        f"/console/devices/{ids['device']}/delete",
        f"/console/registers/{ids['register']}",
        f"/console/registers/{ids['register']}/delete",
        "/console/properties",
        f"/console/properties/{ids['property']}",
        f"/console/usage-units/{ids['unit']}",
        f"/console/points/{ids['point']}",
        f"/console/points/{ids['point']}/delete",
        "/console/assignments/upload",
        "/console/settings",
        "/console/settings/clients",
        f"/console/settings/clients/{client_id}",
        f"/console/settings/clients/{client_id}/delete",
        "/console/settings/members",
        f"/console/settings/members/{account.user.id}/remove",
        "/console/settings/audit",
        invitation,
    ]
    for path in pages:
        tab.goto(path)
        assert tab.locator("h1").count() == 1, path
        assert tab.evaluate(UNLABELLED) == [], path
        assert tab.evaluate(DUPLICATE_IDS) == [], path
        assert tab.locator("[style]").count() == 0, path


def _tab_to(tab: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    target = tab.locator(selector).first
    for _ in range(limit):
        if target.evaluate("(e) => e === document.activeElement"):
            return
        tab.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_the_main_flows_work_by_keyboard_alone(
    page: BrowserPage, live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """Create a property, a usage unit and a point, assign a register and read the chart, all by
    Tab, typing, arrows and Enter."""
    account = make_user()
    ids = _structure(live_server, account)
    tab = page.page
    tab.goto("/console/login")
    _tab_to(tab, "#username")
    tab.keyboard.type(account.username)
    tab.keyboard.press("Tab")
    tab.keyboard.type(account.password)
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/console/")
    _tab_to(tab, 'nav a[href="/console/properties"]')
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/console/properties")
    _tab_to(tab, "#property-name")
    tab.keyboard.type("Keyboard house")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r".*/console/properties/[0-9a-f-]+\?notice=created"))
    _tab_to(tab, "#unit-name")
    tab.keyboard.type("Keyboard flat")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r".*/console/usage-units/[0-9a-f-]+\?notice=created"))
    _tab_to(tab, "#point-name")
    tab.keyboard.type("Keyboard power")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r".*/console/points/[0-9a-f-]+\?notice=created"))
    _tab_to(tab, "#assign-registers")
    tab.keyboard.press("ArrowDown")
    assert tab.locator("#assign-registers").evaluate("(s) => s.selectedOptions.length") == 1
    _tab_to(tab, "#assign-from")
    tab.keyboard.type("03012024")
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r".*notice=assigned.*"))
    assert tab.locator("[data-assignment]").count() == 1
    # The chart takes the focus and reads values out as the arrows move.
    tab.goto(f"/console/points/{tab.url.split('/points/')[1].split('?')[0]}?interval=day")
    tab.wait_for_selector('[data-chart][data-state="ready"]')
    _tab_to(tab, ".chart-box svg")
    first = tab.locator("[data-readout]").inner_text()
    tab.keyboard.press("ArrowLeft")
    assert tab.locator("[data-readout]").inner_text() != first
    assert uuid.UUID(ids["point"])  # the services' point stays untouched by this flow


def test_dragging_across_the_chart_zooms_in_and_back_returns(
    page: BrowserPage, live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """A drag over three daily bars shows those three local days; the URL follows; Back undoes."""
    account = make_user()
    actor = Actor(
        organization_id=account.organization.id,
        user_id=account.user.id,
        scopes=frozenset({"device", "register", "measurement"}),
        role="admin",
    )
    body = {
        "deviceReference": unique("zoom"),
        "registerReference": "r",
        "measurements": hourly(1711753200, 24 * 8, 0, 1),
    }
    result, _ = bulk.import_body_form(
        live_server.db,
        live_server.clock,
        live_server.settings,
        actor,
        json.dumps(body).encode(),
        IngestOptions(),
    )
    register_id = json.loads(encode(result))["register"]["id"]
    tab = page.page
    tab.goto("/console/login")
    sign_in(tab, Words("en"), account)
    tab.wait_for_url("**/console/")
    tab.goto(
        f"/console/registers/{register_id}?view=consumption&interval=day&from=2024-03-30&until=2024-04-05"
    )
    tab.wait_for_selector('[data-chart][data-state="ready"] svg[data-points="7"]')
    bars = tab.locator("svg rect.bar")
    tab.locator(".chart-box svg").scroll_into_view_if_needed()
    start, end = bars.nth(1).bounding_box(), bars.nth(3).bounding_box()
    assert start and end
    y = start["y"] + start["height"] / 2
    tab.mouse.move(start["x"] + start["width"] / 2, y)
    tab.mouse.down()
    tab.mouse.move(end["x"] + end["width"] / 2, y, steps=6)
    tab.mouse.up()
    tab.wait_for_selector('[data-chart][data-state="ready"] svg[data-points="3"]')
    assert "from=2024-03-31" in tab.url and "to=2024-04-03" in tab.url
    assert [b.get_attribute("data-label") for b in bars.all()] == ["2024-03-31", "2024-04-01", "2024-04-02"]
    assert tab.locator("#chart-until").input_value() == "2024-04-02"
    tab.go_back()
    tab.wait_for_selector('[data-chart][data-state="ready"] svg[data-points="7"]')
