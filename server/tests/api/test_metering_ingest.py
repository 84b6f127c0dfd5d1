"""Bulk import over real HTTP with real tokens: the hosted zevvy's examples, the gateway's
re-sends and conflicts, validation, limits, quotas, auto-creation and its scopes."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from tests.api.conftest import Caller
from tests.conftest import LiveServer, make_settings, unique
from zevvy_server.app import create_app
from zevvy_server.metering import rollup, rowstore
from zevvy_server.metering.models import Device, ImportBatch, MeasurementConflict, Register
from zevvy_server.storage.engine import Database


def path_url(device_ref: str, register_ref: str) -> str:
    """The path form's URL, each reference escaped as one segment."""
    return (
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create"
    )


def quarter_hours(start: datetime, count: int, first: int = 1000, step: int = 7) -> list[dict[str, Any]]:
    """`count` counter readings 15 minutes apart, as the gateway sends them."""
    return [
        {
            "readAt": (start + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "value": first + step * i,
        }
        for i in range(count)
    ]


def stored(db: Database, register_id: str) -> dict[str, Any]:
    """What the database holds for a register: readings, open conflicts and their counts."""
    with db.read() as session:
        key = session.scalar(select(Register.key).where(Register.id == uuid.UUID(register_id)))
        assert key is not None
        readings = zip(*rowstore.read_readings(session, key, None, None), strict=True)
        conflicts = session.execute(
            select(
                MeasurementConflict.read_at, MeasurementConflict.sent_value, MeasurementConflict.count
            ).where(MeasurementConflict.register_key == key)
        ).all()
    return {"readings": dict(readings), "conflicts": [tuple(c) for c in conflicts]}


def org_counts(db: Database, caller: Caller) -> tuple[int, int, int]:
    """Devices, registers and import batches of the caller's organization."""
    org = caller.account.organization.id
    with db.read() as session:
        devices = session.scalar(select(func.count()).where(Device.organization_id == org))
        registers = session.scalar(select(func.count()).where(Register.organization_id == org))
        batches = session.scalar(select(func.count()).where(ImportBatch.organization_id == org))
    return int(devices or 0), int(registers or 0), int(batches or 0)


def all_at_once(send: Callable[[int], None], indexes: Iterable[int]) -> None:
    """Call `send(index)` for every index, each in its own thread, all started before any is
    awaited."""
    threads = [threading.Thread(target=send, args=(index,)) for index in indexes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def exact(response: httpx.Response) -> Any:
    """The JSON body with numbers as exact Decimals."""
    return json.loads(response.text, parse_float=Decimal)


# -- the hosted zevvy's examples ----------------------------------------------------------------
def test_guide_charging_station_example_creates_device_and_register_and_reads_back_identical(
    connect: Callable[..., Caller],
) -> None:
    caller = connect()
    day = datetime(2024, 3, 31, tzinfo=UTC)
    measurements = [
        {
            "readAt": (day + timedelta(minutes=15 * i)).isoformat().replace("+00:00", "Z"),
            "value": round(9.6 * i, 1),
        }
        for i in range(96)
    ]
    body = {
        "deviceName": "zevvy Test Device Example Charging Station",
        "registerName": "zevvy Test Register Example Charging Station",
        "measurements": measurements,
    }
    response = caller.http.post("/measurements/_bulk_create", json=body)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["created"] == 96 and result["unchanged"] == 0 and result["conflicts"] == 0
    assert result["device"]["created"] is True and result["register"]["created"] is True
    assert result["device"]["name"] == "zevvy Test Device Example Charging Station"

    readings = caller.http.get(
        f"/registers/{result['register']['id']}/measurements", params={"limit": 1000}
    ).json()["items"]
    assert [r["readAt"] for r in readings] == [m["readAt"] for m in measurements]
    assert [Decimal(str(r["value"])) for r in readings] == [Decimal(str(m["value"])) for m in measurements]

    again = caller.http.post("/measurements/_bulk_create", json=body)
    assert again.status_code == 201
    assert again.json()["unchanged"] == 96 and again.json()["device"]["created"] is False


def test_gateway_requests_resend_and_conflict_as_the_real_gateway_sees_them(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device_ref, register_ref = f"eliona Zähler/{uuid.uuid4().hex[:6]}", "power in/out 1.8.0"
    url = path_url(device_ref, register_ref)
    assert "%2F" in url and "%20" in url and "%C3%A4" in url
    batch = quarter_hours(datetime(2024, 3, 31, tzinfo=UTC), 8)
    first = caller.http.post(url, json=batch)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["created"], body["unchanged"], body["conflicts"]) == (8, 0, 0)
    assert body["device"]["reference"] == device_ref and body["register"]["reference"] == register_ref
    assert body["device"]["name"] == device_ref  # a reference alone names what it creates
    register_id = body["register"]["id"]

    resend = caller.http.post(url, json=batch)
    assert resend.status_code == 201
    assert (resend.json()["created"], resend.json()["unchanged"]) == (0, 8)

    changed = [*batch[4:], *quarter_hours(datetime(2024, 3, 31, 2, tzinfo=UTC), 4, first=5000)]
    changed[0] = {**changed[0], "value": 999999}
    conflicting = caller.http.post(url, json=changed)
    assert conflicting.status_code == 409, conflicting.text
    result = conflicting.json()
    assert (result["created"], result["unchanged"], result["conflicts"]) == (4, 3, 1)
    assert result["conflictSamples"] == [
        {"readAt": "2024-03-31T01:00:00Z", "storedValue": batch[4]["value"], "sentValue": 999999}
    ]
    state = stored(live_server.db, register_id)
    assert len(state["readings"]) == 12  # the new rows of the 409 batch ARE stored
    assert Decimal(state["readings"][int(datetime(2024, 3, 31, 1, tzinfo=UTC).timestamp() * 1e6)]) == Decimal(
        batch[4]["value"] * 1_000_000
    )
    assert [c[2] for c in state["conflicts"]] == [1]

    again = caller.http.post(url, json=changed)
    assert again.status_code == 409
    assert (again.json()["created"], again.json()["conflicts"]) == (0, 1)
    state = stored(live_server.db, register_id)
    assert len(state["conflicts"]) == 1 and state["conflicts"][0][2] == 2  # no second conflict, count 2

    conflicts = caller.http.get(f"/registers/{register_id}/conflicts").json()["items"]
    assert len(conflicts) == 1 and conflicts[0]["count"] == 2 and conflicts[0]["sentValue"] == 999999


def test_values_and_instants_round_trip_exactly(connect: Callable[..., Caller]) -> None:
    caller = connect()
    raw = (
        b'[{"readAt":"2024-01-01T00:00:00+01:00","value":999999999999.999999},'
        b'{"readAt":"2024-01-01T00:15:00.123456Z","value":-0.000001},'
        b'{"readAt":"2024-01-01T00:30:00Z","value":1.50000000},'
        b'{"readAt":"2024-01-01T00:45:00Z","value":12e3}]'
    )
    url = path_url(unique("exact"), "r")
    assert caller.http.post(url, content=raw, headers={"Content-Type": "application/json"}).status_code == 201
    items = exact(caller.http.get(url.replace("/_bulk_create", "")))["items"]
    assert items == [
        {"readAt": "2023-12-31T23:00:00Z", "value": Decimal("999999999999.999999")},
        {"readAt": "2024-01-01T00:15:00.123456Z", "value": Decimal("-0.000001")},
        {"readAt": "2024-01-01T00:30:00Z", "value": Decimal("1.5")},
        {"readAt": "2024-01-01T00:45:00Z", "value": 12000},
    ]


# -- conflicts and revisions ----------------------------------------------------------------------
def test_overwrite_applies_the_value_and_keeps_the_old_one_as_a_revision(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    url = path_url(unique("ow"), "r")
    batch = quarter_hours(datetime(2024, 5, 1, tzinfo=UTC), 3)
    register_id = caller.http.post(url, json=batch).json()["register"]["id"]
    sent = [{**batch[2], "value": 4242}]
    assert caller.http.post(url, json=sent).status_code == 409  # an open conflict first
    response = caller.http.post(url, params={"onConflict": "overwrite"}, json=sent)
    assert response.status_code == 201, response.text
    assert (response.json()["overwritten"], response.json()["conflicts"]) == (1, 0)
    register = caller.http.get(f"/registers/{register_id}").json()
    assert register["lastValue"] == 4242 and register["lastReadAt"] == "2024-05-01T00:30:00Z"
    revisions = caller.http.get(f"/registers/{register_id}/revisions").json()["items"]
    assert [(r["oldValue"], r["newValue"], r["reason"]) for r in revisions] == [
        (batch[2]["value"], 4242, "overwrite")
    ]
    # The open conflict asking for exactly this value is settled by the overwrite.
    assert caller.http.get(f"/registers/{register_id}/conflicts").json()["items"] == []
    audit = caller.http.get("/audit", params={"action": "measurements.overwritten"}).json()["items"]
    assert audit and audit[0]["target"] == f"register:{register_id}"


def test_dry_run_classifies_without_writing(connect: Callable[..., Caller], live_server: LiveServer) -> None:
    caller = connect()
    before = org_counts(live_server.db, caller)
    url = path_url(unique("dry"), "r")
    response = caller.http.post(
        url, params={"dryRun": "true"}, json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 5)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["dryRun"] is True and body["created"] == 5 and body["importId"] is None
    assert body["device"] == {
        "id": None,
        "reference": body["device"]["reference"],
        "name": body["device"]["name"],
        "created": True,
    }
    assert org_counts(live_server.db, caller) == before


# -- auto-creation and scopes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("scope", "missing"), [("measurement", "device"), ("measurement device", "register")]
)
def test_creating_without_the_scope_is_403_naming_it_and_writes_nothing(
    connect: Callable[..., Caller], live_server: LiveServer, scope: str, missing: str
) -> None:
    caller = connect(scope)
    before = org_counts(live_server.db, caller)
    response = caller.http.post(
        path_url(unique("d"), "r"), json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 2)
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope" and response.json()["scope"] == missing
    assert f'scope="{missing}"' in response.headers["www-authenticate"]
    assert org_counts(live_server.db, caller) == before


def test_existing_register_needs_only_the_measurement_scope(connect: Callable[..., Caller]) -> None:
    owner = connect()
    url = path_url(unique("d"), "r")
    assert owner.http.post(url, json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 2)).status_code == 201
    gateway = connect("measurement", like=owner)
    assert (
        gateway.http.post(url, json=quarter_hours(datetime(2024, 1, 1, 1, tzinfo=UTC), 2)).status_code == 201
    )
    assert connect("device register", like=owner).http.post(url, json=[]).status_code == 403


def test_creation_only_options_apply_when_the_register_is_created(connect: Callable[..., Caller]) -> None:
    caller = connect()
    url = path_url(unique("opt"), "consumption")
    params = {"registerKind": "interval", "period": "PT1H", "unit": "kWh"}
    body = caller.http.post(url, params=params, json=[{"readAt": "2024-01-01T01:00:00Z", "value": 2}]).json()
    register = caller.http.get(f"/registers/{body['register']['id']}").json()
    assert (register["kind"], register["period"], register["unit"]) == ("interval", "PT1H", "kWh")
    params = {"registerKind": "counter", "period": "PT15M", "unit": "Wh"}
    caller.http.post(url, params=params, json=[{"readAt": "2024-01-01T02:00:00Z", "value": 3}])
    register = caller.http.get(f"/registers/{body['register']['id']}").json()
    assert (register["kind"], register["period"], register["unit"]) == ("interval", "PT1H", "kWh")


def test_a_reference_whose_name_is_taken_gets_a_numbered_name(connect: Callable[..., Caller]) -> None:
    caller = connect()
    name = unique("Zähler")
    assert caller.http.post("/devices", json={"name": name}).status_code == 201
    body = caller.http.post(path_url(name, "r"), json=[]).json()
    assert body["device"]["name"] == f"{name} (2)" and body["device"]["reference"] == name


def test_concurrent_auto_creation_creates_one_device_and_register(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    url = path_url(unique("race"), "r")
    start = datetime(2024, 2, 1, tzinfo=UTC)
    results: list[int] = []

    def send(index: int) -> None:
        response = caller.http.post(url, json=quarter_hours(start + timedelta(hours=index), 4))
        results.append(response.status_code)

    all_at_once(send, range(8))
    assert results == [201] * 8
    devices, registers, _ = org_counts(live_server.db, caller)
    assert (devices, registers) == (1, 1)
    body = caller.http.post(url, json=[]).json()
    assert len(stored(live_server.db, body["register"]["id"])["readings"]) == 32


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_concurrent_appends_to_one_register_keep_its_latest_reading_and_summaries_exact(
    connect: Callable[..., Caller], live_server: LiveServer, order: str
) -> None:
    # Each request reads the register's latest reading to choose the append path; two requests
    # that read it at once (no lock) would both append, leave the latest reading behind and
    # merge their days into stale summary rows. Started in ascending order most requests find
    # the others' readings before theirs (appends into the same day's row); in descending
    # order most come too late (the days are rebuilt from the readings).
    caller = connect()
    url = path_url(unique("appends"), "r")
    start = datetime(2024, 3, 1, tzinfo=UTC)
    first = caller.http.post(url, json=quarter_hours(start, 1))
    assert first.status_code == 201, first.text
    register_id = first.json()["register"]["id"]
    results: list[int] = []

    def send(index: int) -> None:
        hours = start + timedelta(hours=1 + index)
        response = caller.http.post(url, json=quarter_hours(hours, 4, first=2000 + 100 * index))
        results.append(response.status_code)

    all_at_once(send, range(16) if order == "ascending" else reversed(range(16)))
    assert results == [201] * 16
    readings = stored(live_server.db, register_id)["readings"]
    assert len(readings) == 1 + 16 * 4
    instants = sorted(readings)
    with live_server.db.read() as session:
        register = session.execute(
            select(Register.key, Register.last_read_at, Register.last_value).where(
                Register.id == uuid.UUID(register_id)
            )
        ).one()
        found = rollup.days_for(session, register.key, 0, 2**62)
    assert (register.last_read_at, register.last_value) == (instants[-1], readings[instants[-1]])
    assert found is not None and found[1] == rollup.summarize(instants, [readings[t] for t in instants])


def test_list_form_is_one_transaction_with_results_and_totals(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device = unique("list")
    series = [
        {
            "deviceReference": device,
            "registerReference": "a",
            "measurements": quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 3),
        },
        {
            "deviceReference": device,
            "registerName": "b",
            "measurements": quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 2),
        },
    ]
    response = caller.http.post("/measurements/_bulk_create", json=series)
    assert response.status_code == 201, response.text
    body = response.json()
    assert [r["created"] for r in body["results"]] == [3, 2]
    assert body["totals"] == {"created": 5, "unchanged": 0, "overwritten": 0, "conflicts": 0}
    assert body["results"][0]["device"]["id"] == body["results"][1]["device"]["id"]

    before = org_counts(live_server.db, caller)
    broken = [series[0], {**series[1], "registerName": "c", "measurements": [{"readAt": "soon", "value": 1}]}]
    failed = caller.http.post("/measurements/_bulk_create", json=broken)
    assert failed.status_code == 422
    assert failed.json()["details"] == [{"pointer": "/1/measurements/0/readAt", "problem": "invalid_instant"}]
    assert org_counts(live_server.db, caller) == before


def test_every_request_is_recorded_as_an_import_batch(connect: Callable[..., Caller]) -> None:
    caller = connect()
    url = path_url(unique("batch"), "r")
    first = caller.http.post(url, json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 3)).json()
    imports = caller.http.get("/imports").json()["items"]
    assert imports[0]["id"] == first["importId"]
    assert imports[0]["userId"] == str(caller.account.user.id) and imports[0]["clientId"]
    assert (imports[0]["created"], imports[0]["readings"], imports[0]["series"]) == (3, 3, 1)
    assert imports[0]["registerIds"] == [first["register"]["id"]]


# -- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "code", "details"),
    [
        (
            b'[{"readAt":"2024-01-01T00:00:00","value":1}]',
            "validation_failed",
            [("/0/readAt", "invalid_instant")],
        ),
        (
            b'[{"readAt":"1999-12-31T23:59:59Z","value":1}]',
            "validation_failed",
            [("/0/readAt", "instant_too_early")],
        ),
        (
            b'[{"readAt":"2024-01-01T00:00:00Z","value":"1"}]',
            "validation_failed",
            [("/0/value", "not_a_number")],
        ),
        (
            b'[{"readAt":"2024-01-01T00:00:00Z","value":true}]',
            "validation_failed",
            [("/0/value", "not_a_number")],
        ),
        (b'[{"readAt":"2024-01-01T00:00:00Z","value":NaN}]', "validation_failed", [("", "invalid_json")]),
        (
            b'[{"readAt":"2024-01-01T00:00:00Z","value":0.0000001}]',
            "validation_failed",
            [("/0/value", "too_many_decimals")],
        ),
        (
            b'[{"readAt":"2024-01-01T00:00:00Z","value":1e12}]',
            "validation_failed",
            [("/0/value", "out_of_range")],
        ),
        (
            b'[{"readAt":"2024-01-01T00:00:00Z","value":1},{"readAt":"2024-01-01T01:00:00+01:00","value":2}]',
            "duplicate_instant",
            [("/1/readAt", "duplicate_instant")],
        ),
        (
            b'[{"readAt":"x","value":1},{"value":"y"}]',
            "validation_failed",
            [("/0/readAt", "invalid_instant"), ("/1/readAt", "required"), ("/1/value", "not_a_number")],
        ),
    ],
)
def test_invalid_requests_are_422_with_pointers_and_write_nothing(
    connect: Callable[..., Caller],
    live_server: LiveServer,
    body: bytes,
    code: str,
    details: list[tuple[str, str]],
) -> None:
    caller = connect()
    before = org_counts(live_server.db, caller)
    response = caller.http.post(path_url(unique("bad"), "r"), content=body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == code
    assert [(d["pointer"], d["problem"]) for d in answer["details"]] == details
    assert answer["total"] == len(details)
    assert org_counts(live_server.db, caller) == before


def test_readings_too_far_ahead_are_refused(connect: Callable[..., Caller], live_server: LiveServer) -> None:
    caller = connect()
    ahead = datetime.fromtimestamp(live_server.clock.time(), UTC) + timedelta(hours=25)
    response = caller.http.post(path_url(unique("f"), "r"), json=[{"readAt": ahead.isoformat(), "value": 1}])
    assert response.status_code == 422 and response.json()["details"][0]["problem"] == "instant_too_late"


def test_interval_readings_must_sit_on_the_period_grid(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    url = path_url(unique("grid"), "r")
    params = {"registerKind": "interval", "period": "PT15M"}
    before = org_counts(live_server.db, caller)
    response = caller.http.post(
        url,
        params=params,
        json=[{"readAt": "2024-01-01T00:15:00Z", "value": 1}, {"readAt": "2024-01-01T00:20:00Z", "value": 1}],
    )
    assert response.status_code == 422
    assert response.json()["details"] == [
        {"pointer": "", "problem": "off_grid", "readAt": "2024-01-01T00:20:00Z"}
    ]
    assert org_counts(live_server.db, caller) == before


def test_the_same_instant_with_two_values_across_series_is_duplicate_instant(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device = unique("dup")
    one = {"readAt": "2024-01-01T00:00:00Z", "value": 1}
    series = [
        {"deviceReference": device, "registerReference": "a", "measurements": [one]},
        {"deviceReference": device, "registerReference": "a", "measurements": [{**one, "value": 2}]},
    ]
    before = org_counts(live_server.db, caller)
    response = caller.http.post("/measurements/_bulk_create", json=series)
    assert response.status_code == 422 and response.json()["error"] == "duplicate_instant"
    assert org_counts(live_server.db, caller) == before


def test_viewers_cannot_import(connect: Callable[..., Caller], live_server: LiveServer) -> None:
    viewer = connect(role="viewer")
    before = org_counts(live_server.db, viewer)
    response = viewer.http.post(
        path_url(unique("v"), "r"), json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 1)
    )
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert org_counts(live_server.db, viewer) == before


def test_without_a_token_it_is_401(live_server: LiveServer) -> None:
    response = httpx.post(live_server.url + path_url("a", "b"), json=[])
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_gzip_bodies_are_accepted(connect: Callable[..., Caller]) -> None:
    caller = connect()
    body = json.dumps(quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 96)).encode()
    response = caller.http.post(
        path_url(unique("gz"), "r"), content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 201 and response.json()["created"] == 96
    bad = caller.http.post(
        path_url(unique("gz"), "r"), content=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert bad.status_code == 422 and bad.json()["details"][0]["problem"] == "malformed_gzip"
    other = caller.http.post(path_url(unique("br"), "r"), content=b"[]", headers={"Content-Encoding": "br"})
    assert other.status_code == 415


# -- limits and quotas: a second server on the same database with small limits ------------------
@dataclass
class SmallServer:
    """A server on the live server's database with tight limits."""

    url: str
    max_readings: int
    max_bytes: int
    per_minute: int


@pytest.fixture(scope="module")
def small_server(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallServer]:
    """Limits of 10 readings, 4 KiB and 3 imports per client per minute; tokens of the live
    server verify because it shares the database, its keys and the public URL (issuer)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    settings = make_settings(
        live_server.settings.database_url,
        Path(tmp_path_factory.mktemp("small")),
        port=port,
        public_url=live_server.url,
        max_readings_per_request=10,
        max_body_bytes=4096,
        client_requests_per_minute=3,
    )
    app = create_app(settings, clock=live_server.clock, metrics=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the small server did not start"
        time.sleep(0.02)
    yield SmallServer(f"http://127.0.0.1:{port}", 10, 4096, 3)
    server.should_exit = True
    thread.join(timeout=10)


def test_too_many_readings_is_413_stating_the_limits(
    connect: Callable[..., Caller], small_server: SmallServer, live_server: LiveServer
) -> None:
    caller = connect(url=small_server.url)
    before = org_counts(live_server.db, caller)
    response = caller.http.post(
        path_url(unique("big"), "r"), json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 11)
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert (response.json()["maxReadings"], response.json()["maxBytes"]) == (10, 4096)
    assert org_counts(live_server.db, caller) == before


def test_too_many_bytes_and_gzip_bombs_are_413(
    connect: Callable[..., Caller], small_server: SmallServer, live_server: LiveServer
) -> None:
    caller = connect(url=small_server.url)
    before = org_counts(live_server.db, caller)
    padding = b"[" + b" " * 5000 + b"]"
    assert caller.http.post(path_url(unique("b"), "r"), content=padding).status_code == 413
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")
    started = time.monotonic()
    response = caller.http.post(
        path_url(unique("b"), "r"), content=bomb, headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    assert time.monotonic() - started < 2
    assert org_counts(live_server.db, caller) == before


def test_the_per_client_quota_answers_429_with_retry_after(
    connect: Callable[..., Caller], small_server: SmallServer, live_server: LiveServer
) -> None:
    caller = connect(url=small_server.url)
    url = path_url(unique("q"), "r")
    minute = int(live_server.clock.time()) // 60
    statuses = [caller.http.post(url, json=[]).status_code for _ in range(small_server.per_minute + 1)]
    if int(live_server.clock.time()) // 60 != minute:  # the window turned mid-test: try once more
        statuses = [caller.http.post(url, json=[]).status_code for _ in range(small_server.per_minute + 1)]
    assert statuses[-1] == 429, statuses
    before = org_counts(live_server.db, caller)
    refused = caller.http.post(url, json=quarter_hours(datetime(2024, 1, 1, tzinfo=UTC), 1))
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert org_counts(live_server.db, caller) == before
