"""Tenant isolation and read-only viewers, checked on every metering route of the app.

The tests walk `app.routes`, so a new route without an entry here fails them until someone has
thought about it: another organization's token must get 404 for every id of the first, and a
viewer's token must get 403 on every write, with nothing written either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from tests.api.conftest import Caller
from tests.conftest import LiveServer, unique
from zevvy_server.identity.models import AuditEvent
from zevvy_server.metering.models import (
    Assignment,
    Device,
    ImportBatch,
    MeasurementPoint,
    Property,
    Register,
    UsageUnit,
)

WRITES = {"POST", "PATCH", "PUT", "DELETE"}


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def metering_routes(live_server: LiveServer) -> list[tuple[str, str]]:
    """(method, path) of every metering API operation."""
    found = []
    for route in api_routes(live_server.app.routes):
        if route.endpoint.__module__.startswith("zevvy_server.api.metering"):
            found.extend((method, route.path_format) for method in sorted(route.methods))
    assert len(found) > 30
    return found


@pytest.fixture
def world(connect: Callable[..., Caller]) -> dict[str, Any]:
    """Organization A with one of everything, and the ids every route needs."""
    owner = connect()
    device_ref, register_ref = unique("iso dev/1"), "in/out"
    url = (
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create"
    )
    first = owner.http.post(url, json=[{"readAt": "2024-01-01T00:00:00Z", "value": 1}]).json()
    owner.http.post(url, json=[{"readAt": "2024-01-01T00:00:00Z", "value": 2}])
    register_id = first["register"]["id"]
    conflict_id = owner.http.get(f"/registers/{register_id}/conflicts").json()["items"][0]["id"]
    prop = owner.http.post("/properties", json={"name": "P", "reference": unique("P")}).json()
    unit = owner.http.post(
        "/usage-units", json={"propertyId": prop["id"], "name": "U", "reference": unique("U")}
    ).json()
    point = owner.http.post(
        "/measurement-points", json={"usageUnitId": unit["id"], "name": "M", "costType": "electricity"}
    ).json()
    assignment = owner.http.post(
        f"/measurement-points/{point['id']}/assignments",
        json={"registerId": register_id, "validFrom": "2024-01-01"},
    ).json()
    ids = {
        "device_id": first["device"]["id"],
        "register_id": register_id,
        "conflict_id": conflict_id,
        "property_id": prop["id"],
        "unit_id": unit["id"],
        "point_id": point["id"],
        "assignment_id": assignment["id"],
        "deviceRef": device_ref,
        "registerRef": register_ref,
        "reference": device_ref,
    }
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/devices"): {"name": unique("n")},
        ("PATCH", "/devices/{device_id}"): {"name": unique("n")},
        ("POST", "/devices/{device_id}/registers"): {"name": unique("n")},
        ("PATCH", "/registers/{register_id}"): {"name": unique("n")},
        ("POST", "/deviceRef/{deviceRef}/registerRef/{registerRef}/measurements/_bulk_create"): [
            {"readAt": "2024-01-01T00:00:00Z", "value": 3}
        ],
        ("POST", "/measurements/_bulk_create"): {
            "deviceReference": device_ref,
            "registerReference": register_ref,
            "measurements": [{"readAt": "2024-01-01T00:00:00Z", "value": 3}],
        },
        ("POST", "/properties"): {"name": "x"},
        ("PATCH", "/properties/{property_id}"): {"name": "x"},
        ("POST", "/usage-units"): {"propertyId": prop["id"], "name": "x"},
        ("PATCH", "/usage-units/{unit_id}"): {"name": "x"},
        ("POST", "/measurement-points"): {"usageUnitId": unit["id"], "name": "x", "costType": "other"},
        ("PATCH", "/measurement-points/{point_id}"): {"name": "x"},
        ("POST", "/measurement-points/{point_id}/assignments"): {
            "registerId": register_id,
            "validFrom": "2030-01-01",
        },
        ("PATCH", "/assignments/{assignment_id}"): {"validTo": "2030-01-01"},
        ("POST", "/assignments/_bulk_create"): [
            {
                "deviceReference": device_ref,
                "registerReference": register_ref,
                "usageUnitReference": unit["reference"],
                "costType": "electricity",
                "validFrom": "2031-01-01",
            }
        ],
    }
    return {"owner": owner, "ids": ids, "bodies": bodies}


def url_for(path: str, ids: dict[str, str]) -> str:
    """The path with every parameter filled in (references escaped as one segment)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"new path parameter {name!r} in {path}: add it to the isolation walk"
        return quote(ids[name], safe="")

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", fill, path)


def snapshot(live_server: LiveServer, caller: Caller) -> tuple[int, ...]:
    """Row counts of everything the organization owns, audit events included."""
    org = caller.account.organization.id
    with live_server.db.read() as session:
        return tuple(
            int(session.scalar(select(func.count()).where(model.organization_id == org)) or 0)
            for model in (
                Device,
                Register,
                ImportBatch,
                Property,
                UsageUnit,
                MeasurementPoint,
                Assignment,
                AuditEvent,
            )
        )


def call(
    caller: Caller, method: str, path: str, ids: dict[str, str], bodies: dict[tuple[str, str], Any]
) -> httpx.Response:
    """One request to a route, with its body for writes and a date range for reads."""
    url = url_for(path, ids)
    if method == "GET":
        return caller.http.get(url, params={"from": "2024-01-01", "to": "2024-01-02"})
    body = bodies.get((method, path))
    return caller.http.request(method, url, json=body)


def test_another_organization_gets_404_for_every_id_of_the_first(
    connect: Callable[..., Caller], live_server: LiveServer, world: dict[str, Any]
) -> None:
    owner, ids, bodies = world["owner"], world["ids"], world["bodies"]
    stranger = connect()
    before = snapshot(live_server, owner)
    own_device = owner.http.get(f"/devices/{ids['device_id']}").json()
    # Reads first: the bulk imports below create B's own device under the same references.
    for method, path in sorted(metering_routes(live_server), key=lambda r: r[0] != "GET"):
        response = call(stranger, method, path, ids, bodies)
        if "{" not in path:
            assert response.status_code < 500, (method, path, response.text)
            if method == "GET":
                assert ids["device_id"] not in response.text and ids["register_id"] not in response.text, path
            continue
        if path.endswith("/measurements/_bulk_create"):
            # References name things within the caller's organization: this creates B's own.
            assert response.status_code == 201, response.text
            assert response.json()["device"]["id"] != ids["device_id"]
            continue
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert response.json()["error"] == "not_found"
    assert snapshot(live_server, owner) == before
    assert owner.http.get(f"/devices/{ids['device_id']}").json() == own_device


def test_a_viewer_cannot_write_on_any_route(
    connect: Callable[..., Caller], live_server: LiveServer, world: dict[str, Any]
) -> None:
    owner, ids, bodies = world["owner"], world["ids"], world["bodies"]
    viewer = connect(role="viewer", like=owner)
    before = snapshot(live_server, owner)
    writes = [(m, p) for m, p in metering_routes(live_server) if m in WRITES]
    for method, path in writes:
        response = call(viewer, method, path, ids, bodies)
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert response.json()["error"] == "forbidden"
    assert snapshot(live_server, owner) == before
    for method, path in metering_routes(live_server):
        if method == "GET":
            assert call(viewer, method, path, ids, bodies).status_code == 200, path


def test_every_operation_documents_its_scope_and_errors(live_server: LiveServer) -> None:
    document = httpx.get(live_server.url + "/openapi.json").json()
    for method, path in metering_routes(live_server):
        operation = document["paths"][path][method.lower()]
        scopes = operation["security"][0]["bearer"]
        assert scopes and f"`{scopes[0]}`" in operation["description"], (method, path)
        assert "401" in operation["responses"] and "403" in operation["responses"], (method, path)
        assert operation.get("summary"), (method, path)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
