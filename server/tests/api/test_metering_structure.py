"""Properties, usage units, measurement points and assignments over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select

from tests.api.conftest import Caller
from tests.conftest import LiveServer, unique
from zevvy_server.metering.models import Assignment, MeasurementPoint, Property, UsageUnit


def structure_counts(live_server: LiveServer, caller: Caller) -> tuple[int, int, int, int]:
    """Properties, usage units, points and assignments of the caller's organization."""
    org = caller.account.organization.id
    with live_server.db.read() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).where(model.organization_id == org)) or 0)
            for model in (Property, UsageUnit, MeasurementPoint, Assignment)
        )


def registers(caller: Caller, device_ref: str, *names: str) -> list[str]:
    """Registers of a device created through imports; returns their ids."""
    ids = []
    for name in names:
        url = (
            f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(name, safe='')}"
            "/measurements/_bulk_create"
        )
        ids.append(caller.http.post(url, json=[]).json()["register"]["id"])
    return ids


def tree(caller: Caller) -> dict[str, Any]:
    """A property with a usage unit and an electricity point."""
    prop = caller.http.post("/properties", json={"name": "Sonnenhof", "reference": unique("P")})
    assert prop.status_code == 201, prop.text
    unit = caller.http.post(
        "/usage-units", json={"propertyId": prop.json()["id"], "name": "Whg 3.2", "reference": unique("U")}
    )
    assert unit.status_code == 201, unit.text
    point = caller.http.post(
        "/measurement-points",
        json={"usageUnitId": unit.json()["id"], "name": "Strom", "costType": "electricity"},
    )
    assert point.status_code == 201, point.text
    return {"property": prop.json(), "unit": unit.json(), "point": point.json()}


def test_crud_of_properties_usage_units_and_points(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    made = tree(caller)
    assert made["point"]["unit"] == "kWh" and made["point"]["costType"] == "electricity"
    assert caller.http.get(f"/properties/{made['property']['id']}").json() == made["property"]
    assert caller.http.get("/usage-units", params={"propertyId": made["property"]["id"]}).json()["items"] == [
        made["unit"]
    ]
    listed = caller.http.get("/measurement-points", params={"usageUnitId": made["unit"]["id"]}).json()[
        "items"
    ]
    assert listed == [made["point"]]
    patched = caller.http.patch(f"/properties/{made['property']['id']}", json={"address": "Hauptstrasse 1"})
    assert patched.json()["address"] == "Hauptstrasse 1" and patched.json()["name"] == "Sonnenhof"

    before = structure_counts(live_server, caller)
    in_use = caller.http.delete(f"/properties/{made['property']['id']}")
    assert in_use.status_code == 409 and in_use.json()["error"] == "in_use"
    assert caller.http.delete(f"/usage-units/{made['unit']['id']}").status_code == 409
    taken = caller.http.post("/properties", json={"name": "x", "reference": made["property"]["reference"]})
    assert taken.status_code == 409 and taken.json()["error"] == "reference_taken"
    bad_cost = caller.http.post(
        "/measurement-points", json={"usageUnitId": made["unit"]["id"], "name": "x", "costType": "beer"}
    )
    assert bad_cost.status_code == 422 and bad_cost.json()["details"][0]["pointer"] == "/costType"
    orphan = caller.http.post("/usage-units", json={"propertyId": str(uuid.uuid4()), "name": "x"})
    assert orphan.status_code == 404
    assert structure_counts(live_server, caller) == before

    assert caller.http.delete(f"/measurement-points/{made['point']['id']}").status_code == 204
    assert caller.http.delete(f"/usage-units/{made['unit']['id']}").status_code == 204
    assert caller.http.delete(f"/properties/{made['property']['id']}").status_code == 204
    assert structure_counts(live_server, caller) == (0, 0, 0, 0)


def test_assignments_never_overlap_for_one_register_but_a_point_takes_several(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    made = tree(caller)
    point = made["point"]["id"]
    high, low = registers(caller, unique("dev"), "HT", "NT")
    both = caller.http.post(
        f"/measurement-points/{point}/assignments",
        json=[
            {"registerId": high, "validFrom": "2025-01-01"},
            {"registerId": low, "validFrom": "2025-01-01"},
        ],
    )
    assert both.status_code == 201, both.text
    assert [a["registerId"] for a in both.json()] == [high, low]
    assert both.json()[0]["validFrom"] == "2024-12-31T23:00:00Z" and both.json()[0]["validTo"] is None

    other_point = caller.http.post(
        "/measurement-points",
        json={"usageUnitId": made["unit"]["id"], "name": "Strom 2", "costType": "electricity"},
    ).json()["id"]
    before = structure_counts(live_server, caller)
    overlap = caller.http.post(
        f"/measurement-points/{other_point}/assignments", json={"registerId": high, "validFrom": "2025-06-01"}
    )
    assert overlap.status_code == 409 and overlap.json()["error"] == "assignment_overlap"
    assert overlap.json()["assignmentId"] == both.json()[0]["id"]
    partly = caller.http.post(
        f"/measurement-points/{other_point}/assignments",
        json=[
            {"registerId": registers(caller, unique("dev"), "x")[0], "validFrom": "2025-01-01"},
            {"registerId": low, "validFrom": "2024-01-01", "validTo": "2025-01-02"},
        ],
    )
    assert partly.status_code == 409  # all or nothing: the first row is not kept either
    empty = caller.http.post(
        f"/measurement-points/{other_point}/assignments",
        json={"registerId": high, "validFrom": "2025-01-01", "validTo": "2024-01-01"},
    )
    assert empty.status_code == 422 and empty.json()["details"][0]["pointer"] == "/validTo"
    assert structure_counts(live_server, caller) == before

    # Ending the first period lets the register move to another point from then on.
    ended = caller.http.patch(f"/assignments/{both.json()[0]['id']}", json={"validTo": "2025-06-01"})
    assert ended.status_code == 200 and ended.json()["validTo"] == "2025-05-31T22:00:00Z"
    moved = caller.http.post(
        f"/measurement-points/{other_point}/assignments", json={"registerId": high, "validFrom": "2025-06-01"}
    )
    assert moved.status_code == 201
    history = caller.http.get(f"/measurement-points/{point}/assignments").json()["items"]
    assert {a["registerId"] for a in history} == {high, low}
    actions = {
        e["action"] for e in caller.http.get("/audit", params={"action": "assignment."}).json()["items"]
    }
    assert actions == {"assignment.created", "assignment.changed"}
    assert caller.http.delete(f"/assignments/{moved.json()['id']}").status_code == 204


def test_device_status_follows_its_registers_assignments(connect: Callable[..., Caller]) -> None:
    caller = connect()
    made = tree(caller)
    device_ref = unique("status")
    first, second = registers(caller, device_ref, "a", "b")
    device_id = caller.http.get("/deviceRef/" + quote(device_ref, safe="")).json()["id"]

    def status() -> str:
        value: str = caller.http.get(f"/devices/{device_id}").json()["status"]
        return value

    assert status() == "unassigned"
    caller.http.post(
        f"/measurement-points/{made['point']['id']}/assignments",
        json={"registerId": first, "validFrom": "2025-01-01"},
    )
    assert status() == "partial"
    assert [d["id"] for d in caller.http.get("/devices", params={"status": "partial"}).json()["items"]] == [
        device_id
    ]
    caller.http.post(
        f"/measurement-points/{made['point']['id']}/assignments",
        json={"registerId": second, "validFrom": "2025-01-01"},
    )
    assert status() == "assigned"
    assert [d["id"] for d in caller.http.get("/devices", params={"status": "assigned"}).json()["items"]] == [
        device_id
    ]


def test_bulk_assignment_links_by_references_all_or_nothing(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    made = tree(caller)
    device_ref = unique("bulk dev/1")
    registers(caller, device_ref, "1.8.0", "2.8.0")
    rows = [
        {
            "deviceReference": device_ref,
            "registerReference": "1.8.0",
            "usageUnitReference": made["unit"]["reference"],
            "costType": "electricity",
            "validFrom": "2025-01-01",
        },
        {
            "deviceReference": device_ref,
            "registerReference": "2.8.0",
            "usageUnitReference": made["unit"]["reference"],
            "costType": "solar_production",
            "validFrom": "2025-01-01T00:00:00+01:00",
        },
    ]
    before = structure_counts(live_server, caller)
    broken = caller.http.post(
        "/assignments/_bulk_create", json=[rows[0], {**rows[1], "registerReference": "9.9.9"}]
    )
    assert broken.status_code == 404
    assert broken.json()["details"] == [{"pointer": "/1/registerReference", "problem": "not_found"}]
    assert structure_counts(live_server, caller) == before

    response = caller.http.post("/assignments/_bulk_create", json=rows)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created[0]["measurementPointId"] == made["point"]["id"]  # the unit's electricity point
    solar = caller.http.get(f"/measurement-points/{created[1]['measurementPointId']}").json()
    assert (solar["costType"], solar["name"]) == ("solar_production", "solar_production")
    again = caller.http.post("/assignments/_bulk_create", json=rows[:1])
    assert again.status_code == 409 and again.json()["error"] == "assignment_overlap"


def test_structure_needs_the_register_scope_and_a_writer(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect("device measurement")
    response = caller.http.get("/properties")
    assert response.status_code == 403 and response.json()["scope"] == "register"
    editor = connect()
    made = tree(editor)
    viewer = connect(role="viewer", like=editor)
    before = structure_counts(live_server, editor)
    for response in (
        viewer.http.post("/properties", json={"name": "x"}),
        viewer.http.patch(f"/properties/{made['property']['id']}", json={"name": "x"}),
        viewer.http.delete(f"/measurement-points/{made['point']['id']}"),
        viewer.http.post("/assignments/_bulk_create", json=[]),
    ):
        assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert structure_counts(live_server, editor) == before
    assert viewer.http.get(f"/properties/{made['property']['id']}").status_code == 200
