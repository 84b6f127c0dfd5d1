"""Reading stored data over real HTTP: ranges, pages, CSV, revisions, conflict decisions,
import batches and the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from tests.api.conftest import Caller
from tests.conftest import LiveServer, unique
from zevvy_server.metering import rowstore
from zevvy_server.metering.models import MeasurementConflict, MeasurementRevision, Register


def bulk_url(device_ref: str, register_ref: str = "r") -> str:
    """The path form's URL."""
    return (
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create"
    )


def hours(values: list[Any], day: str = "2024-03-31") -> list[dict[str, Any]]:
    """One reading per hour of `day` from midnight UTC."""
    return [{"readAt": f"{day}T{h:02d}:00:00Z", "value": v} for h, v in enumerate(values)]


def db_state(live_server: LiveServer, register_id: str) -> tuple[dict[int, int], list[tuple[Any, ...]], int]:
    """Readings, conflicts (instant, sent, status) and the number of revisions of a register."""
    import uuid

    with live_server.db.read() as session:
        key = session.scalar(select(Register.key).where(Register.id == uuid.UUID(register_id)))
        assert key is not None
        readings = dict(zip(*rowstore.read_readings(session, key, None, None), strict=True))
        conflicts = [
            tuple(row)
            for row in session.execute(
                select(
                    MeasurementConflict.read_at, MeasurementConflict.sent_value, MeasurementConflict.status
                ).where(MeasurementConflict.register_key == key)
            ).all()
        ]
        revisions = len(
            session.scalars(
                select(MeasurementRevision.id).where(MeasurementRevision.register_key == key)
            ).all()
        )
    return readings, conflicts, revisions


def test_readings_are_half_open_ascending_and_paged(connect: Callable[..., Caller]) -> None:
    caller = connect()
    result = caller.http.post(bulk_url(unique("d")), json=hours(list(range(10)))).json()
    base = f"/registers/{result['register']['id']}/measurements"
    window = caller.http.get(
        base, params={"from": "2024-03-31T02:00:00Z", "to": "2024-03-31T05:00:00Z"}
    ).json()
    assert [r["readAt"][11:13] for r in window["items"]] == ["02", "03", "04"]
    first = caller.http.get(base, params={"limit": 4}).json()
    second = caller.http.get(base, params={"limit": 4, "cursor": first["nextCursor"]}).json()
    third = caller.http.get(base, params={"limit": 4, "cursor": second["nextCursor"]}).json()
    assert [r["value"] for r in first["items"] + second["items"] + third["items"]] == list(range(10))
    assert third["nextCursor"] is None
    local = caller.http.get(base, params={"from": "2024-03-31", "to": "2024-04-01"}).json()["items"]
    assert local[0]["readAt"] == "2024-03-31T00:00:00Z"  # from local midnight, 23:00Z the day before
    for params, pointer in (
        ({"from": "yesterday"}, "/from"),
        ({"from": "2024-03-31T05:00:00Z", "to": "2024-03-31T05:00:00Z"}, "/to"),
        ({"timeZone": "Mars/Olympus"}, "/timeZone"),
        ({"cursor": "x"}, "/cursor"),
        ({"limit": 5000}, "/limit"),
    ):
        bad = caller.http.get(base, params=params)
        assert bad.status_code == 422 and bad.json()["details"][0]["pointer"] == pointer, (params, bad.text)


def test_readings_by_references_and_as_csv_with_local_time(connect: Callable[..., Caller]) -> None:
    caller = connect()
    device_ref = unique("Zähler/csv")
    caller.http.post(bulk_url(device_ref, "in/out"), json=hours([1, 2.5, 3]))
    url = f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote('in/out', safe='')}/measurements"
    response = caller.http.get(url, params={"format": "csv", "delimiter": ";"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == [
        "readAt;localTime;value",
        "2024-03-31T00:00:00Z;2024-03-31T01:00:00+01:00;1",
        "2024-03-31T01:00:00Z;2024-03-31T03:00:00+02:00;2.5",
        "2024-03-31T02:00:00Z;2024-03-31T04:00:00+02:00;3",
    ]
    accepted = caller.http.get(url, headers={"Accept": "text/csv"}, params={"timeZone": "UTC"})
    assert accepted.text.splitlines()[1] == "2024-03-31T00:00:00Z,2024-03-31T00:00:00+00:00,1"
    paged = caller.http.get(url, params={"format": "csv", "limit": 2})
    assert len(paged.text.splitlines()) == 3 and paged.headers["x-next-cursor"]


def test_accepting_a_conflict_applies_the_sent_value_and_keeps_a_revision(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    url = bulk_url(unique("acc"))
    register_id = caller.http.post(url, json=hours([10, 20, 30])).json()["register"]["id"]
    assert caller.http.post(url, json=hours([10, 21, 31])).status_code == 409
    conflicts = caller.http.get(f"/registers/{register_id}/conflicts").json()["items"]
    assert [(c["readAt"][11:13], c["storedValue"], c["sentValue"], c["status"]) for c in conflicts] == [
        ("01", 20, 21, "open"),
        ("02", 30, 31, "open"),
    ]
    accepted = caller.http.post(f"/registers/{register_id}/conflicts/{conflicts[1]['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert accepted.json()["storedValue"] == 31
    rejected = caller.http.post(f"/registers/{register_id}/conflicts/{conflicts[0]['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    values = [r["value"] for r in caller.http.get(f"/registers/{register_id}/measurements").json()["items"]]
    assert values == [10, 20, 31]
    assert caller.http.get(f"/registers/{register_id}").json()["lastValue"] == 31
    revisions = caller.http.get(f"/registers/{register_id}/revisions").json()["items"]
    assert [(r["oldValue"], r["newValue"], r["reason"], r["conflictId"]) for r in revisions] == [
        (30, 31, "conflict_accepted", conflicts[1]["id"])
    ]
    assert caller.http.get(f"/registers/{register_id}/conflicts").json()["items"] == []
    everything = caller.http.get(f"/registers/{register_id}/conflicts", params={"status": "all"}).json()[
        "items"
    ]
    assert {c["status"] for c in everything} == {"accepted", "rejected"}
    actions = [e["action"] for e in caller.http.get("/audit", params={"action": "conflict."}).json()["items"]]
    assert actions == ["conflict.rejected", "conflict.accepted"]

    # A rejected value sent again stays rejected, and counts.
    assert caller.http.post(url, json=hours([10, 21])).status_code == 409
    again = caller.http.get(f"/registers/{register_id}/conflicts", params={"status": "rejected"}).json()[
        "items"
    ]
    assert (
        again[0]["count"] == 2
        and caller.http.get(f"/registers/{register_id}/conflicts").json()["items"] == []
    )


def test_deciding_twice_or_a_foreign_conflict_is_refused(
    connect: Callable[..., Caller], live_server: LiveServer
) -> None:
    caller = connect()
    url = bulk_url(unique("twice"))
    register_id = caller.http.post(url, json=hours([1, 2])).json()["register"]["id"]
    caller.http.post(url, json=hours([1, 3]))
    conflict = caller.http.get(f"/registers/{register_id}/conflicts").json()["items"][0]
    assert caller.http.post(f"/registers/{register_id}/conflicts/{conflict['id']}/reject").status_code == 200
    before = db_state(live_server, register_id)
    again = caller.http.post(f"/registers/{register_id}/conflicts/{conflict['id']}/accept")
    assert again.status_code == 409 and again.json()["error"] == "conflict_resolved"
    assert again.json()["status"] == "rejected"
    assert db_state(live_server, register_id) == before
    other_register = caller.http.post(bulk_url(unique("other")), json=hours([1])).json()["register"]["id"]
    wrong = caller.http.post(f"/registers/{other_register}/conflicts/{conflict['id']}/accept")
    assert wrong.status_code == 404 and wrong.json()["error"] == "not_found"


def test_viewers_cannot_decide_conflicts(connect: Callable[..., Caller], live_server: LiveServer) -> None:
    editor = connect()
    url = bulk_url(unique("view"))
    register_id = editor.http.post(url, json=hours([1, 2])).json()["register"]["id"]
    editor.http.post(url, json=hours([1, 3]))
    conflict = editor.http.get(f"/registers/{register_id}/conflicts").json()["items"][0]
    viewer = connect(role="viewer", like=editor)
    before = db_state(live_server, register_id)
    refused = viewer.http.post(f"/registers/{register_id}/conflicts/{conflict['id']}/accept")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert db_state(live_server, register_id) == before
    assert viewer.http.get(f"/registers/{register_id}/conflicts").status_code == 200
    assert viewer.http.get("/audit").status_code == 200


def test_imports_and_audit_are_paged_newest_first(connect: Callable[..., Caller]) -> None:
    caller = connect()
    url = bulk_url(unique("imp"))
    ids = [caller.http.post(url, json=hours([i])).json()["importId"] for i in range(3)]
    first = caller.http.get("/imports", params={"limit": 2}).json()
    second = caller.http.get("/imports", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    assert [b["id"] for b in first["items"] + second["items"]] == list(reversed(ids))
    assert second["nextCursor"] is None
    assert caller.http.get("/imports", params={"cursor": first["nextCursor"][:-2] + "xx"}).status_code == 422


def test_large_answers_are_gzip_compressed_for_clients_that_accept_it(connect: Callable[..., Caller]) -> None:
    caller = connect()
    result = caller.http.post(bulk_url(unique("gzip")), json=hours(list(range(24)))).json()
    url = f"/registers/{result['register']['id']}/measurements"
    compressed = caller.http.get(url, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip" and len(compressed.json()["items"]) == 24
    plain = caller.http.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == compressed.json()
