"""Devices and registers over real HTTP: fields, uniqueness, filters, paging, merge patches,
deletion rules, references as single path segments, the unit lock."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from tests.api.conftest import Caller
from tests.conftest import LiveServer, unique
from zevvy_server.identity.models import AuditEvent
from zevvy_server.metering import rowstore
from zevvy_server.metering.models import Device, Register
from zevvy_server.storage.engine import Database


def counts(db: Database, caller: Caller) -> tuple[int, int, int]:
    """Devices, registers and readings of the caller's organization."""
    org = caller.account.organization.id
    with db.read() as session:
        devices = session.scalar(select(func.count()).where(Device.organization_id == org)) or 0
        keys = session.scalars(select(Register.key).where(Register.organization_id == org)).all()
        readings = rowstore.count_readings(session, keys)
    return int(devices), len(keys), readings


def put_readings(caller: Caller, device_ref: str, register_ref: str, count: int = 3) -> dict[str, object]:
    """Import a few readings through the path form."""
    url = (
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create"
    )
    body = [{"readAt": f"2024-01-01T0{i}:00:00Z", "value": i} for i in range(count)]
    response = caller.http.post(url, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


# -- devices --------------------------------------------------------------------------------------
def test_create_device_with_aliases_answers_201_with_every_field(connect: Callable[..., Caller]) -> None:
    caller = connect()
    response = caller.http.post("/devices", json={"Name": "Wallbox", "Reference": "WB/1 Zähler"})
    assert response.status_code == 201, response.text
    device = response.json()
    assert set(device) == {"id", "name", "reference", "status", "lastReadAt", "createdAt", "updatedAt"}
    assert (device["name"], device["reference"], device["status"], device["lastReadAt"]) == (
        "Wallbox",
        "WB/1 Zähler",
        "unassigned",
        None,
    )
    uuid.UUID(device["id"])
    assert device["createdAt"].endswith("Z")
    by_ref = caller.http.get("/deviceRef/" + quote("WB/1 Zähler", safe=""))
    assert by_ref.status_code == 200 and by_ref.json()["id"] == device["id"]
    assert caller.http.get(f"/devices/{device['id']}").json() == device


def test_taken_reference_and_nfc_equal_name_are_409_with_the_existing_id(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    first = caller.http.post("/devices", json={"name": "Zähler Nord", "reference": "Z-1"}).json()
    before = counts(live_server.db, caller)
    taken = caller.http.post("/devices", json={"name": "other", "reference": "Z-1"})
    assert taken.status_code == 409
    assert taken.json()["error"] == "reference_taken" and taken.json()["existingId"] == first["id"]
    decomposed = unicodedata.normalize("NFD", "Zähler Nord")
    assert decomposed != "Zähler Nord"
    same_name = caller.http.post("/devices", json={"name": decomposed})
    assert same_name.status_code == 409
    assert same_name.json()["error"] == "name_taken" and same_name.json()["existingId"] == first["id"]
    assert counts(live_server.db, caller) == before


@pytest.mark.parametrize(
    ("body", "pointer", "problem"),
    [
        ({}, "/name", "required"),
        ({"name": ""}, "/name", "empty"),
        ({"name": 5}, "/name", "invalid"),
        ({"name": "x", "referance": "typo"}, "/referance", "unknown_member"),
        ({"name": "x" * 201}, "/name", "too_long"),
        ({"name": "a\u0000b"}, "/name", "control_character"),
    ],
)
def test_invalid_device_bodies_are_422_and_write_nothing(
    connect: Callable[..., Caller],
    live_server: LiveServer,
    body: dict[str, object],
    pointer: str,
    problem: str,
) -> None:
    caller = connect()
    before = counts(live_server.db, caller)
    response = caller.http.post("/devices", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_failed"
    assert (response.json()["details"][0]["pointer"], response.json()["details"][0]["problem"]) == (
        pointer,
        problem,
    )
    assert counts(live_server.db, caller) == before


def test_malformed_json_is_422(connect: Callable[..., Caller]) -> None:
    response = connect().http.post("/devices", content=b"{nope")
    assert response.status_code == 422 and response.json()["details"][0]["problem"] == "malformed_json"


def test_list_devices_filters_and_pages(connect: Callable[..., Caller]) -> None:
    caller = connect()
    for index in range(5):
        caller.http.post("/devices", json={"name": f"Meter {index}", "reference": f"m-{index}"})
    page = caller.http.get("/devices", params={"limit": 2}).json()
    assert [d["name"] for d in page["items"]] == ["Meter 0", "Meter 1"] and page["nextCursor"]
    rest = caller.http.get("/devices", params={"limit": 10, "cursor": page["nextCursor"]}).json()
    assert [d["name"] for d in rest["items"]] == ["Meter 2", "Meter 3", "Meter 4"] and rest[
        "nextCursor"
    ] is None
    assert [d["name"] for d in caller.http.get("/devices", params={"reference": "m-3"}).json()["items"]] == [
        "Meter 3"
    ]
    assert [d["name"] for d in caller.http.get("/devices", params={"name": "Meter 4"}).json()["items"]] == [
        "Meter 4"
    ]
    assert len(caller.http.get("/devices", params={"search": "METER"}).json()["items"]) == 5
    assert len(caller.http.get("/devices", params={"status": "unassigned"}).json()["items"]) == 5
    assert caller.http.get("/devices", params={"status": "assigned"}).json()["items"] == []
    bad = caller.http.get("/devices", params={"cursor": "garbage"})
    assert bad.status_code == 422 and bad.json()["details"][0]["pointer"] == "/cursor"
    assert caller.http.get("/devices", params={"limit": 1001}).status_code == 422
    assert caller.http.get("/devices", params={"status": "lost"}).status_code == 422


def test_patch_is_a_merge_patch(connect: Callable[..., Caller]) -> None:
    caller = connect()
    device = caller.http.post("/devices", json={"name": "A", "reference": "ref-a"}).json()
    renamed = caller.http.patch(f"/devices/{device['id']}", json={"name": "B"})
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["reference"]) == (
        "B",
        "ref-a",
    )
    cleared = caller.http.patch(
        f"/devices/{device['id']}",
        content=b'{"reference": null}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert cleared.json()["reference"] is None and cleared.json()["name"] == "B"
    other = caller.http.post("/devices", json={"name": "C"}).json()
    clash = caller.http.patch(f"/devices/{other['id']}", json={"name": "B"})
    assert clash.status_code == 409 and clash.json()["existingId"] == device["id"]
    assert caller.http.get(f"/devices/{other['id']}").json()["name"] == "C"


def test_deleting_a_device_with_data_needs_confirm(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device_ref = unique("del")
    result = put_readings(caller, device_ref, "r1", 3)
    put_readings(caller, device_ref, "r2", 2)
    device_id = result["device"]["id"]  # type: ignore[index]
    before = counts(live_server.db, caller)
    refused = caller.http.delete(f"/devices/{device_id}")
    assert refused.status_code == 409
    assert refused.json()["error"] == "device_has_data"
    assert (refused.json()["registers"], refused.json()["measurements"]) == (2, 5)
    assert counts(live_server.db, caller) == before
    assert caller.http.delete(f"/devices/{device_id}", params={"confirm": "true"}).status_code == 204
    assert counts(live_server.db, caller) == (0, 0, 0)
    assert caller.http.get(f"/devices/{device_id}").status_code == 404
    with live_server.db.read() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.organization_id == caller.account.organization.id)
        ).all()
    assert "device.deleted" in actions


def test_a_device_without_data_deletes_without_confirm(connect: Callable[..., Caller]) -> None:
    caller = connect()
    device = caller.http.post("/devices", json={"name": "empty"}).json()
    caller.http.post(f"/devices/{device['id']}/registers", json={"name": "r"})
    assert caller.http.delete(f"/devices/{device['id']}").status_code == 204


def test_unknown_and_malformed_ids_are_404(connect: Callable[..., Caller]) -> None:
    caller = connect()
    for path in (
        f"/devices/{uuid.uuid4()}",
        "/devices/not-a-uuid",
        "/deviceRef/nothing",
        f"/registers/{uuid.uuid4()}",
    ):
        response = caller.http.get(path)
        assert response.status_code == 404 and response.json()["error"] == "not_found", path


def test_device_routes_need_the_device_scope(connect: Callable[..., Caller]) -> None:
    caller = connect("measurement")
    response = caller.http.get("/devices")
    assert response.status_code == 403 and response.json()["scope"] == "device"


def test_viewers_read_but_cannot_write_devices(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    editor = connect()
    device = editor.http.post("/devices", json={"name": "seen"}).json()
    viewer = connect(role="viewer", like=editor)
    assert viewer.http.get(f"/devices/{device['id']}").status_code == 200
    before = counts(live_server.db, editor)
    for response in (
        viewer.http.post("/devices", json={"name": "nope"}),
        viewer.http.patch(f"/devices/{device['id']}", json={"name": "nope"}),
        viewer.http.delete(f"/devices/{device['id']}"),
        viewer.http.post(f"/devices/{device['id']}/registers", json={"name": "nope"}),
    ):
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert counts(live_server.db, editor) == before
    assert editor.http.get(f"/devices/{device['id']}").json()["name"] == "seen"


# -- registers ------------------------------------------------------------------------------------
def test_register_fields_defaults_and_uniqueness(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device = caller.http.post("/devices", json={"name": unique("d")}).json()
    created = caller.http.post(
        f"/devices/{device['id']}/registers",
        json={"name": "Import", "reference": "1.8.0", "obisCode": "1-0:1.8.0"},
    )
    assert created.status_code == 201, created.text
    register = created.json()
    assert set(register) == {
        "id", "deviceId", "name", "reference", "kind", "period", "unit", "obisCode",
        "lastReadAt", "lastValue", "createdAt", "updatedAt",
    }  # fmt: skip
    assert (register["kind"], register["period"], register["unit"]) == ("counter", "PT15M", "Wh")
    assert register["deviceId"] == device["id"] and register["obisCode"] == "1-0:1.8.0"
    before = counts(live_server.db, caller)
    dup = caller.http.post(f"/devices/{device['id']}/registers", json={"name": "Other", "reference": "1.8.0"})
    assert dup.status_code == 409 and dup.json()["error"] == "reference_taken"
    assert dup.json()["existingId"] == register["id"]
    same = caller.http.post(f"/devices/{device['id']}/registers", json={"name": "Import"})
    assert same.status_code == 409 and same.json()["error"] == "name_taken"
    for body, problem in (
        ({"name": "x", "kind": "gauge"}, "invalid"),
        ({"name": "x", "period": "PT7M"}, "invalid_period"),
        ({"name": "x", "period": "P1W"}, "invalid_period"),
    ):
        bad = caller.http.post(f"/devices/{device['id']}/registers", json=body)
        assert bad.status_code == 422 and bad.json()["details"][0]["problem"] == problem, bad.text
    assert counts(live_server.db, caller) == before
    other = caller.http.post(
        f"/devices/{device['id']}/registers", json={"name": "hourly", "period": "PT60M"}
    ).json()
    assert other["period"] == "PT1H"  # stored in canonical form
    listed = caller.http.get(f"/devices/{device['id']}/registers").json()
    assert [r["name"] for r in listed["items"]] == ["hourly", "Import"] or [
        r["name"] for r in listed["items"]
    ] == [
        "Import",
        "hourly",
    ]


def test_register_shows_its_latest_reading(connect: Callable[..., Caller]) -> None:
    caller = connect()
    result = put_readings(caller, unique("d"), "r", 3)
    register = caller.http.get(f"/registers/{result['register']['id']}").json()  # type: ignore[index]
    assert (register["lastReadAt"], register["lastValue"]) == ("2024-01-01T02:00:00Z", 2)
    device = caller.http.get(f"/devices/{result['device']['id']}").json()  # type: ignore[index]
    assert device["lastReadAt"] == "2024-01-01T02:00:00Z"


def test_unit_is_locked_once_data_exists_and_changes_are_audited(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    device = caller.http.post("/devices", json={"name": unique("d"), "reference": unique("ref")}).json()
    register = caller.http.post(
        f"/devices/{device['id']}/registers", json={"name": "r", "reference": "r"}
    ).json()
    changed = caller.http.patch(f"/registers/{register['id']}", json={"unit": "kWh", "kind": "interval"})
    assert changed.status_code == 200 and (changed.json()["unit"], changed.json()["kind"]) == (
        "kWh",
        "interval",
    )
    put_readings(caller, device["reference"], "r", 1)
    locked = caller.http.patch(f"/registers/{register['id']}", json={"unit": "Wh", "name": "renamed"})
    assert locked.status_code == 409
    assert locked.json()["error"] == "unit_locked" and locked.json()["measurements"] == 1
    after = caller.http.get(f"/registers/{register['id']}").json()
    assert (after["unit"], after["name"]) == ("kWh", "r")  # nothing of the refused patch applied
    same_unit = caller.http.patch(f"/registers/{register['id']}", json={"unit": "kWh", "name": "renamed"})
    assert same_unit.status_code == 200 and same_unit.json()["name"] == "renamed"
    audit = caller.http.get("/audit", params={"action": "register.changed"}).json()["items"]
    assert audit[0]["details"] == {
        "unit": {"from": "Wh", "to": "kWh"},
        "kind": {"from": "counter", "to": "interval"},
    }


def test_deleting_a_register_with_data_needs_confirm(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    result = put_readings(caller, unique("d"), "r", 2)
    register_id = result["register"]["id"]  # type: ignore[index]
    refused = caller.http.delete(f"/registers/{register_id}")
    assert refused.status_code == 409 and refused.json()["error"] == "device_has_data"
    assert refused.json()["measurements"] == 2
    assert counts(live_server.db, caller)[2] == 2
    assert caller.http.delete(f"/registers/{register_id}", params={"confirm": "true"}).status_code == 204
    assert counts(live_server.db, caller) == (1, 0, 0)


def test_references_with_spaces_umlauts_slashes_and_percent_are_one_segment(
    connect: Callable[..., Caller],
) -> None:
    caller = connect()
    device_ref, register_ref = "Haus 50%/50 Zähler", "in/out%2F"
    result = put_readings(caller, device_ref, register_ref, 1)
    assert result["device"]["reference"] == device_ref  # type: ignore[index]
    assert result["register"]["reference"] == register_ref  # type: ignore[index]
    url = f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}/measurements"
    assert len(caller.http.get(url).json()["items"]) == 1
    assert caller.http.get("/deviceRef/" + quote(device_ref, safe="")).json()["reference"] == device_ref


def test_readings_timestamps_survive_utc_conversion(connect: Callable[..., Caller]) -> None:
    caller = connect()
    result = put_readings(caller, unique("d"), "r", 1)
    items = caller.http.get(f"/registers/{result['register']['id']}/measurements").json()["items"]  # type: ignore[index]
    assert datetime.fromisoformat(items[0]["readAt"]) == datetime(2024, 1, 1, tzinfo=UTC)
