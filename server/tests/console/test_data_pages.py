"""Console data pages over HTTP: home, devices, registers (chart data, CSV, conflicts, settings),
properties → usage units → measurement points, assignments and the CSV upload, roles and CSRF."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, LiveServer, unique
from tests.support import console_login, csrf_from
from zevvy_server.identity.models import Organization
from zevvy_server.metering import bulk
from zevvy_server.metering.common import Actor
from zevvy_server.metering.consumption import ConsumptionService
from zevvy_server.metering.devices import DeviceService
from zevvy_server.metering.ingest import IngestOptions
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.schemas import DeviceIn, RegisterIn, encode
from zevvy_server.metering.values import value_to_json_text

SCOPES = frozenset({"device", "register", "measurement"})
# Around the spring DST change in Zurich (2024-03-31 has 23 hours), hourly counter readings.
START = "2024-03-29T23:00:00Z"


def actor_of(account: Account) -> Actor:
    """The account as a metering caller with every scope."""
    return Actor(
        organization_id=account.organization.id, user_id=account.user.id, scopes=SCOPES, role=account.role
    )


def hourly(hours: int, start_value: int = 1000, step: int = 10) -> list[dict[str, Any]]:
    """Counter readings every hour from START."""
    base = 1711753200  # START as epoch seconds
    return [{"readAt": _iso(base + 3600 * i), "value": start_value + step * i} for i in range(hours)]


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def send(live_server: LiveServer, account: Account, body: Any, *, overwrite: bool = False) -> dict[str, Any]:
    """Import readings through the bulk-import service (what POST /measurements/_bulk_create does)."""
    result, _ = bulk.import_body_form(
        live_server.db,
        live_server.clock,
        live_server.settings,
        actor_of(account),
        json.dumps(body).encode(),
        IngestOptions(overwrite=overwrite),
    )
    data: dict[str, Any] = json.loads(encode(result))
    return data


@pytest.fixture
def signed_in(live_server: LiveServer) -> Iterator[Callable[[Account], httpx.Client]]:
    """An HTTP client signed in to the console as an account."""
    opened: list[httpx.Client] = []

    def open_as(account: Account) -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=30)
        opened.append(client)
        assert console_login(client, account.username, account.password).status_code == 303
        return client

    yield open_as
    for client in opened:
        client.close()


def post_form(client: httpx.Client, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """Open `page`, then post `data` with its CSRF token to `action`."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **data})


@pytest.fixture
def metered(live_server: LiveServer, make_user: Callable[..., Account]) -> dict[str, Any]:
    """An admin with one device of one counter register holding 72 hourly readings."""
    account = make_user()
    device_ref = unique("meter")
    result = send(
        live_server,
        account,
        {"deviceReference": device_ref, "registerReference": "1-0:1.8.0", "measurements": hourly(72)},
    )
    return {
        "account": account,
        "device_id": result["device"]["id"],
        "register_id": result["register"]["id"],
        "device_ref": device_ref,
    }


# -- home and devices -------------------------------------------------------------------------------
def test_the_home_page_points_at_unassigned_devices_silent_registers_and_conflicts(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """A new device is unassigned, its register silent (old readings), a changed value a conflict."""
    account = metered["account"]
    send(
        live_server,
        account,
        {
            "deviceReference": metered["device_ref"],
            "registerReference": "1-0:1.8.0",
            "measurements": [{"readAt": START, "value": 999}],
        },
    )
    client = signed_in(account)
    home = client.get("/console/")
    assert home.status_code == 200
    assert re.search(r'data-count="unassigned">1<', home.text)
    assert re.search(r'data-count="silent">1<', home.text)
    assert re.search(r'data-count="conflicts">1<', home.text)
    assert f"/console/devices/{metered['device_id']}" in home.text
    assert f"/console/registers/{metered['register_id']}#conflicts" in home.text


def test_the_device_list_searches_filters_by_status_and_pages(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Search matches name or reference; status filters; 50 a page with a next link."""
    account = make_user()
    with live_server.db.write() as session:
        devices = DeviceService(session, live_server.clock)
        for i in range(52):
            devices.create(actor_of(account), DeviceIn(name=f"Meter {i:02d}", reference=f"ref-{i:02d}"))
    client = signed_in(account)
    first = client.get("/console/devices")
    assert first.text.count("data-device=") == 50
    next_link = re.search(r'href="(/console/devices\?cursor=[^"]+)"', first.text)
    assert next_link
    second = client.get(next_link.group(1).replace("&amp;", "&"))
    assert second.text.count("data-device=") == 2
    found = client.get("/console/devices", params={"q": "REF-07"})
    assert found.text.count("data-device=") == 1 and "Meter 07" in found.text
    assert client.get("/console/devices", params={"status": "assigned"}).text.count("data-device=") == 0
    assert client.get("/console/devices", params={"status": "unassigned"}).text.count("data-device=") == 50


def test_a_device_page_lists_registers_and_renaming_to_a_taken_name_says_so(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The register shows with its reading count and locked unit; a taken name is refused."""
    account = metered["account"]
    with live_server.db.write() as session:
        DeviceService(session, live_server.clock).create(actor_of(account), DeviceIn(name="Taken name"))
    client = signed_in(account)
    url = f"/console/devices/{metered['device_id']}"
    page = client.get(url)
    assert f'data-register="{metered["register_id"]}"' in page.text
    assert ">72<" in page.text and "locked" in page.text
    refused = post_form(client, url, url, {"name": "Taken name", "reference": metered["device_ref"]})
    assert refused.status_code == 409
    assert "Another device has this name." in refused.text
    renamed = post_form(client, url, url, {"name": "Basement meter", "reference": metered["device_ref"]})
    assert renamed.status_code == 303
    assert "Basement meter" in client.get(url).text


def test_deleting_a_device_asks_first_with_its_counts(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The confirmation names registers and readings; confirming deletes everything."""
    client = signed_in(metered["account"])
    url = f"/console/devices/{metered['device_id']}/delete"
    confirm = client.get(url)
    assert "1 registers and 72 readings" in confirm.text
    done = client.post(url, data={"csrf_token": csrf_from(confirm.text), "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"].startswith("/console/devices?notice=deleted")
    assert client.get(f"/console/devices/{metered['device_id']}").status_code == 404


# -- registers --------------------------------------------------------------------------------------
def test_daily_consumption_data_equals_the_service_and_days_follow_zurich_dst(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The chart's JSON is the consumption service's answer; 31 March is 23 hours long."""
    client = signed_in(metered["account"])
    register_id = metered["register_id"]
    params = {"view": "consumption", "interval": "day", "from": "2024-03-30", "until": "2024-04-01"}
    data = client.get(f"/console/registers/{register_id}/series.json", params=params).json()
    with live_server.db.read() as session:
        expected = ConsumptionService(session, live_server.clock).register(
            actor_of(metered["account"]),
            uuid.UUID(register_id),
            from_text="2024-03-30",
            to_text="2024-04-02",
            interval="day",
            time_zone="Europe/Zurich",
        )
    assert [p["value"] for p in data["points"]] == [
        None if b.value is None else value_to_json_text(b.value) for b in expected.buckets
    ]
    dst_day = data["points"][1]
    assert dst_day["label"] == "2024-03-31"
    assert (dst_day["e"] - dst_day["t"]) == 23 * 3600 * 1000
    assert dst_day["value"] == "230"  # 23 hours of 10 Wh


def test_the_register_page_renders_the_table_and_the_csv_holds_exactly_it(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Table rows and CSV rows carry the same values; the CSV has UTC and local columns, `;`."""
    client = signed_in(metered["account"])
    base = f"/console/registers/{metered['register_id']}"
    query = {"view": "consumption", "interval": "hour", "from": "2024-03-31", "to": "2024-04-01"}
    page = client.get(base, params=query)
    assert page.status_code == 200
    table_values = re.findall(r'<tr data-t="\d+" data-value="([^"]*)">', page.text)
    assert len(table_values) == 23
    download = client.get(f"{base}/export.csv", params={**query, "delimiter": ";"})
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(download.text), delimiter=";"))
    assert rows[0][:5] == ["from", "to", "localFrom", "localTo", "value"]
    assert [r[4] for r in rows[1:]] == table_values
    assert rows[1][0] == "2024-03-30T23:00:00Z" and rows[1][2] == "2024-03-31T00:00:00+01:00"
    assert rows[-1][2] == "2024-03-31T23:00:00+02:00"


def test_raw_readings_download_as_csv_with_both_times(
    metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The readings view exports readAt, localTime and value, comma-separated."""
    client = signed_in(metered["account"])
    base = f"/console/registers/{metered['register_id']}"
    text = client.get(
        f"{base}/export.csv", params={"view": "readings", "from": "2024-03-30", "to": "2024-03-31"}
    ).text
    lines = text.strip().splitlines()
    assert lines[0] == "readAt,localTime,value"
    assert lines[1] == "2024-03-29T23:00:00Z,2024-03-30T00:00:00+01:00,1000"
    assert len(lines) == 25


def test_a_conflict_can_be_accepted_and_the_old_value_stays_as_a_revision(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Accept applies the sent value and records the stored one; reject keeps the stored one."""
    account = metered["account"]
    series = {"deviceReference": metered["device_ref"], "registerReference": "1-0:1.8.0"}
    send(live_server, account, {**series, "measurements": [{"readAt": START, "value": 1001}]})
    send(live_server, account, {**series, "measurements": [{"readAt": "2024-03-30T00:00:00Z", "value": 5}]})
    client = signed_in(account)
    url = f"/console/registers/{metered['register_id']}"
    page = client.get(url)
    conflicts = re.findall(r'data-conflict="([0-9a-f-]+)"', page.text)
    assert len(conflicts) == 2
    token = csrf_from(page.text)
    accepted = client.post(
        f"{url}/conflicts/{conflicts[0]}", data={"csrf_token": token, "decision": "accept"}
    )
    assert accepted.status_code == 303
    rejected = client.post(
        f"{url}/conflicts/{conflicts[1]}", data={"csrf_token": token, "decision": "reject"}
    )
    assert rejected.status_code == 303
    after = client.get(url).text
    assert "data-conflict=" not in after
    revisions = after[after.index('id="revisions"') : after.index('id="imports"')]
    assert "1000" in revisions and "1001" in revisions and "conflict_accepted" in revisions
    readings = client.get(
        f"{url}/export.csv", params={"view": "readings", "from": "2024-03-30", "to": "2024-03-31"}
    )
    assert "2024-03-29T23:00:00Z,2024-03-30T00:00:00+01:00,1001" in readings.text
    assert "2024-03-30T00:00:00Z,2024-03-30T01:00:00+01:00,1010" in readings.text


def test_kind_and_period_change_and_the_unit_is_locked_once_readings_exist(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Kind and period save; a unit change on a register with readings answers unit_locked."""
    account = metered["account"]
    client = signed_in(account)
    url = f"/console/registers/{metered['register_id']}"
    page = client.get(url)
    assert re.search(r'id="register-unit"[^>]*disabled', page.text)
    base = {"name": "Import", "reference": "1-0:1.8.0", "kind": "counter", "period": "PT1H", "obis_code": ""}
    assert post_form(client, url, url, base).status_code == 303
    assert "<dd>PT1H</dd>" in client.get(url).text
    locked = post_form(client, url, url, {**base, "unit": "kWh"})
    assert locked.status_code == 409
    assert "The unit cannot change while the register has readings." in locked.text
    with live_server.db.write() as session:
        empty = RegisterService(session, live_server.clock).create(
            actor_of(account), uuid.UUID(metered["device_id"]), RegisterIn(name="Spare")
        )
    spare = f"/console/registers/{empty.id}"
    changed = post_form(client, spare, spare, {**base, "name": "Spare", "reference": "", "unit": "kWh"})
    assert changed.status_code == 303
    assert ">kWh" in client.get(spare).text


# -- structure and assignments ----------------------------------------------------------------------
def _create_structure(client: httpx.Client, unit_reference: str) -> dict[str, str]:
    made = post_form(
        client,
        "/console/properties",
        "/console/properties",
        {"name": unique("House"), "reference": "", "address": "Bahnhofstrasse 1, Zürich"},
    )
    assert made.status_code == 303, made.text
    property_url = made.headers["location"].split("?")[0]
    unit = post_form(
        client,
        property_url,
        f"{property_url}/usage-units",
        {"unit_name": "Flat 1", "unit_reference": unit_reference},
    )
    assert unit.status_code == 303, unit.text
    unit_url = unit.headers["location"].split("?")[0]
    point = post_form(
        client,
        unit_url,
        f"{unit_url}/points",
        {"point_name": "Electricity", "cost_type": "electricity", "point_unit": "kWh"},
    )
    assert point.status_code == 303, point.text
    return {"property": property_url, "unit": unit_url, "point": point.headers["location"].split("?")[0]}


def test_assigning_a_register_makes_the_device_assigned_and_an_overlap_is_refused_clearly(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Assign from the register page; the same register again for an overlapping period names
    the point it is assigned to; the point's chart sums in its unit."""
    client = signed_in(metered["account"])
    urls = _create_structure(client, unique("W"))
    point_id = urls["point"].rsplit("/", 1)[1]
    register_url = f"/console/registers/{metered['register_id']}"
    assigned = post_form(
        client, register_url, f"{register_url}/assign", {"point_id": point_id, "valid_from": "2024-03-01"}
    )
    assert assigned.status_code == 303, assigned.text
    devices = client.get("/console/devices", params={"status": "assigned"}).text
    assert f'data-device="{metered["device_id"]}"' in devices
    other = _create_structure(client, unique("W"))
    refused = post_form(
        client,
        register_url,
        f"{register_url}/assign",
        {"point_id": other["point"].rsplit("/", 1)[1], "valid_from": "2024-04-01"},
    )
    assert refused.status_code == 409
    assert (
        "already assigned to Electricity (Flat 1," in refused.text
        and "from 2024-03-01 until open end" in refused.text
    )
    data = client.get(
        f"{urls['point']}/series.json",
        params={"interval": "day", "from": "2024-03-30", "until": "2024-04-01"},
    ).json()
    assert data["unit"] == "kWh"
    assert [p["value"] for p in data["points"]] == ["0.24", "0.23", "0.24"]


def test_a_point_takes_several_registers_at_once_and_can_be_deleted(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """High and low tariff registers assigned in one form; deleting the point asks first."""
    account = metered["account"]
    low = send(
        live_server,
        account,
        {
            "deviceReference": metered["device_ref"],
            "registerReference": "1-0:1.8.2",
            "measurements": hourly(72, 0, 1),
        },
    )["register"]["id"]
    client = signed_in(account)
    urls = _create_structure(client, unique("W"))
    point = urls["point"]
    both = {"register_id": [metered["register_id"], low], "valid_from": "2024-03-29", "valid_to": ""}
    token = csrf_from(client.get(point).text)
    assigned = client.post(f"{point}/assign", data={"csrf_token": token, **both})
    assert assigned.status_code == 303, assigned.text
    page = client.get(point).text
    assert page.count("data-assignment=") == 2
    data = client.get(
        f"{point}/series.json", params={"interval": "day", "from": "2024-03-31", "until": "2024-03-31"}
    ).json()
    assert [p["value"] for p in data["points"]] == ["0.253"]
    confirm = client.get(f"{point}/delete")
    assert "Delete Electricity?" in confirm.text
    gone = client.post(f"{point}/delete", data={"csrf_token": csrf_from(confirm.text)})
    assert gone.status_code == 303 and gone.headers["location"].startswith(urls["unit"])
    assert client.get(point).status_code == 404


def test_a_usage_unit_with_points_cannot_be_deleted(
    metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The service's in_use refusal shows on the confirmation page."""
    client = signed_in(metered["account"])
    urls = _create_structure(client, unique("W"))
    confirm = client.get(f"{urls['unit']}/delete")
    refused = client.post(f"{urls['unit']}/delete", data={"csrf_token": csrf_from(confirm.text)})
    assert refused.status_code == 409
    assert "measurement point(s); delete them first" in refused.text


def test_the_csv_upload_previews_every_row_and_saves_only_the_accepted_ones(
    live_server: LiveServer, metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """A row with an unknown device is refused in the preview; nothing is saved until Save."""
    account = metered["account"]
    second = send(
        live_server,
        account,
        {
            "deviceReference": metered["device_ref"],
            "registerReference": "1-0:2.8.0",
            "measurements": hourly(2),
        },
    )["register"]["id"]
    client = signed_in(account)
    unit_reference = unique("W")
    _create_structure(client, unit_reference)
    text = (
        "Device reference;Register reference;Usage-unit reference;Cost type;Valid from\n"
        f"{metered['device_ref']};1-0:1.8.0;{unit_reference};electricity;01.01.2024\n"
        f"no-such-device;1-0:1.8.0;{unit_reference};electricity;2024-01-01\n"
        f"{metered['device_ref']};1-0:2.8.0;{unit_reference};solar_production;2024-01-01\n"
    )
    page = client.get("/console/assignments/upload")
    token = csrf_from(page.text)
    preview = client.post(
        "/console/assignments/upload",
        data={"csrf_token": token, "action": "preview"},
        files={"file": ("links.csv", text.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    outcomes = re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', preview.text)
    assert outcomes == [("2", "ok"), ("3", "refused"), ("4", "ok")]
    assert "No device with this reference." in preview.text
    assert "new measurement point" in preview.text
    assert client.get("/console/devices", params={"status": "assigned"}).text.count("data-device=") == 0
    saved = client.post(
        "/console/assignments/upload", data={"csrf_token": token, "action": "save", "csv_text": text}
    )
    assert saved.status_code == 303
    assert "saved=2" in saved.headers["location"]
    device = client.get(f"/console/devices/{metered['device_id']}").text
    assert "status-assigned" in device
    assert f"/console/registers/{second}" in device


# -- who may do what --------------------------------------------------------------------------------
def test_a_viewer_sees_no_edit_controls_and_the_server_refuses_their_writes(
    live_server: LiveServer,
    metered: dict[str, Any],
    make_user: Callable[..., Account],
    signed_in: Callable[[Account], httpx.Client],
) -> None:
    """No rename, settings or assign forms; posting anyway answers 403 and changes nothing."""
    org: Organization = metered["account"].organization
    viewer = make_user(org=org, role="viewer")
    client = signed_in(viewer)
    device_url = f"/console/devices/{metered['device_id']}"
    register_url = f"/console/registers/{metered['register_id']}"
    assert 'id="device-name"' not in client.get(device_url).text
    register_page = client.get(register_url).text
    assert 'id="register-kind"' not in register_page and 'id="assign-point"' not in register_page
    assert 'id="property-name"' not in client.get("/console/properties").text
    token = csrf_from(client.get("/console/").text)
    assert client.post(device_url, data={"csrf_token": token, "name": "Hacked"}).status_code == 403
    assert client.post("/console/properties", data={"csrf_token": token, "name": "X"}).status_code == 403
    assert (
        client.post(f"{device_url}/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    )
    assert "Hacked" not in client.get(device_url).text


def test_posts_without_the_csrf_token_are_refused(
    metered: dict[str, Any], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Every form POST checks the token."""
    client = signed_in(metered["account"])
    for url in (
        f"/console/devices/{metered['device_id']}",
        f"/console/registers/{metered['register_id']}",
        "/console/properties",
        "/console/settings/clients",
    ):
        assert client.post(url, data={"name": "x"}).status_code == 403, url


def test_another_organizations_device_is_not_found(
    metered: dict[str, Any], make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Ids of other organizations answer 404, as in the API."""
    client = signed_in(make_user())
    assert client.get(f"/console/devices/{metered['device_id']}").status_code == 404
    assert client.get(f"/console/registers/{metered['register_id']}/series.json").status_code == 404
    assert client.get("/console/devices/not-a-uuid").status_code == 404


def test_chart_data_needs_a_session(live_server: LiveServer, metered: dict[str, Any]) -> None:
    """Without a console session the JSON endpoint answers 401, not a login page."""
    with httpx.Client(base_url=live_server.url) as client:
        answer = client.get(f"/console/registers/{metered['register_id']}/series.json")
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_session"
