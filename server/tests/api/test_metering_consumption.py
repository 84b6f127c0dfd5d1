"""Consumption over real HTTP: DST days in Europe/Zurich, months as sums of days, interval
registers, a measurement point across a meter swap, limits."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from tests.api.conftest import Caller
from tests.conftest import unique


def bulk_url(device_ref: str, register_ref: str = "r") -> str:
    """The path form's URL."""
    return (
        f"/deviceRef/{quote(device_ref, safe='')}/registerRef/{quote(register_ref, safe='')}"
        "/measurements/_bulk_create"
    )


def counter(start: datetime, end: datetime, *, first: int = 0, seed: int = 1) -> list[dict[str, Any]]:
    """Quarter-hourly counter readings in [start, end) rising by random steps of 1/8 (exact in
    binary floating point, so the JSON text is the exact value)."""
    rng = random.Random(seed)
    readings, eighths, moment = [], first * 8, start
    while moment < end:
        readings.append({"readAt": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": eighths / 8})
        eighths += rng.randint(0, 40)
        moment += timedelta(minutes=15)
    return readings


def send(caller: Caller, url: str, readings: list[dict[str, Any]], **params: str) -> str:
    """Import readings; returns the register id."""
    response = caller.http.post(url, json=readings, params=params)
    assert response.status_code == 201, response.text
    register_id: str = response.json()["register"]["id"]
    return register_id


def consumption(caller: Caller, path: str, **params: str) -> dict[str, Any]:
    """The consumption answer with exact numbers."""
    response = caller.http.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = json.loads(response.text, parse_float=Decimal)
    return body


def test_dst_days_have_92_and_100_quarter_hours_and_months_are_the_sum_of_their_days(
    connect: Callable[..., Caller],
) -> None:
    caller = connect()
    url = bulk_url(unique("dst"))
    readings = counter(datetime(2025, 2, 28, 22, tzinfo=UTC), datetime(2025, 5, 1, 1, tzinfo=UTC))
    readings += counter(datetime(2025, 10, 24, tzinfo=UTC), datetime(2025, 10, 28, tzinfo=UTC), first=10**6)
    register_id = send(caller, url, readings)
    path = f"/registers/{register_id}/consumption"

    spring = consumption(caller, path, **{"from": "2025-03-30", "to": "2025-03-31", "interval": "day"})
    autumn = consumption(caller, path, **{"from": "2025-10-26", "to": "2025-10-27", "interval": "day"})
    assert spring["from"] == "2025-03-29T23:00:00Z" and spring["to"] == "2025-03-30T22:00:00Z"
    assert autumn["from"] == "2025-10-25T22:00:00Z" and autumn["to"] == "2025-10-26T23:00:00Z"
    for answer, slots in ((spring, 92), (autumn, 100)):
        (bucket,) = answer["buckets"]
        assert (bucket["expectedSlots"], bucket["receivedSlots"]) == (slots, slots)
        assert bucket["estimated"] is False and bucket["partial"] is False and bucket["resets"] == 0
        quarters = consumption(
            caller, path, **{"from": bucket["from"], "to": bucket["to"], "interval": "15min"}
        )["buckets"]
        assert len(quarters) == slots and sum(q["value"] for q in quarters) == bucket["value"]

    months = consumption(caller, path, **{"from": "2025-03-01", "to": "2025-05-01", "interval": "month"})
    days = consumption(caller, path, **{"from": "2025-03-01", "to": "2025-05-01", "interval": "day"})
    assert len(days["buckets"]) == 61
    assert months["buckets"][0]["value"] == sum(d["value"] for d in days["buckets"][:31])
    assert months["buckets"][1]["value"] == sum(d["value"] for d in days["buckets"][31:])
    assert months["total"] == days["total"] == months["buckets"][0]["value"] + months["buckets"][1]["value"]
    assert months["total"] > 0

    csv = caller.http.get(
        path, params={"from": "2025-03-30", "to": "2025-03-31", "format": "csv", "delimiter": ";"}
    )
    header, line = csv.text.splitlines()
    assert header.startswith("from;to;localFrom;localTo;value")
    assert line.startswith(
        "2025-03-29T23:00:00Z;2025-03-30T22:00:00Z;2025-03-30T00:00:00+01:00;2025-03-31T00:00:00+02:00;"
    )


def test_edges_between_readings_interpolate_and_nothing_is_extrapolated(
    connect: Callable[..., Caller],
) -> None:
    caller = connect()
    url = bulk_url(unique("interp"))
    register_id = send(
        caller,
        url,
        [
            {"readAt": "2025-01-01T22:00:00Z", "value": 100},
            {"readAt": "2025-01-02T02:00:00Z", "value": 140},
        ],
    )
    day = consumption(
        caller,
        f"/registers/{register_id}/consumption",
        **{"from": "2025-01-01", "to": "2025-01-03", "interval": "day"},
    )["buckets"]
    # 2025-01-02 starts at 23:00Z: the counter is interpolated there (110); the day ends after the
    # last reading, so it is partial and counts up to that reading only.
    assert (day[0]["value"], day[0]["estimated"], day[0]["partial"]) == (10, True, True)
    assert (day[1]["value"], day[1]["estimated"], day[1]["partial"]) == (30, True, True)


def test_interval_registers_count_a_value_in_the_bucket_of_its_period(connect: Callable[..., Caller]) -> None:
    caller = connect()
    url = bulk_url(unique("intv"))
    readings = [
        {"readAt": f"2025-10-26T{h:02d}:{m:02d}:00Z", "value": 1}
        for h in range(0, 24)
        for m in (0, 15, 30, 45)
    ]
    readings += [
        {"readAt": "2025-10-25T22:15:00Z", "value": 1},
        {"readAt": "2025-10-25T22:30:00Z", "value": 1},
    ]
    readings += [
        {"readAt": "2025-10-25T22:45:00Z", "value": 1},
        {"readAt": "2025-10-25T23:00:00Z", "value": 1},
    ]
    readings += [
        {"readAt": "2025-10-25T23:15:00Z", "value": 1},
        {"readAt": "2025-10-25T23:30:00Z", "value": 1},
    ]
    readings += [{"readAt": "2025-10-25T23:45:00Z", "value": 1}]
    register_id = send(caller, url, readings, registerKind="interval", period="PT15M")
    path = f"/registers/{register_id}/consumption"
    day = consumption(caller, path, **{"from": "2025-10-26", "to": "2025-10-27", "interval": "day"})[
        "buckets"
    ][0]
    assert (day["value"], day["expectedSlots"], day["receivedSlots"]) == (100, 100, 100)
    hour = consumption(
        caller, path, **{"from": "2025-10-26T12:00:00Z", "to": "2025-10-26T13:00:00Z", "interval": "hour"}
    )
    # Stamps 12:15, 12:30, 12:45 and 13:00 cover 12:00-13:00.
    assert hour["buckets"][0]["value"] == 4 and hour["buckets"][0]["estimated"] is False


def test_a_points_monthly_total_is_right_across_a_meter_swap(connect: Callable[..., Caller]) -> None:
    caller = connect()
    device = unique("swap")
    swap = datetime(2025, 6, 15, 8, tzinfo=UTC)  # 10:00 local
    old = [
        {"readAt": m["readAt"], "value": 5000 + i}
        for i, m in enumerate(counter(datetime(2025, 5, 31, 20, tzinfo=UTC), swap + timedelta(minutes=15)))
    ]
    new = [
        {"readAt": m["readAt"], "value": 2 * i}
        for i, m in enumerate(counter(swap, datetime(2025, 7, 1, 2, tzinfo=UTC)))
    ]
    old_id = send(caller, bulk_url(device, "old meter"), old)
    new_id = send(caller, bulk_url(device, "new meter"), new)
    prop = caller.http.post("/properties", json={"name": "Haus", "reference": unique("p")}).json()
    unit = caller.http.post(
        "/usage-units", json={"propertyId": prop["id"], "name": "Whg 1", "reference": unique("u")}
    ).json()
    point = caller.http.post(
        "/measurement-points",
        json={"usageUnitId": unit["id"], "name": "Strom", "costType": "electricity", "unit": "Wh"},
    ).json()
    created = caller.http.post(
        f"/measurement-points/{point['id']}/assignments",
        json=[
            {"registerId": old_id, "validFrom": "2025-06-01", "validTo": "2025-06-15T10:00:00+02:00"},
            {"registerId": new_id, "validFrom": "2025-06-15T10:00:00+02:00"},
        ],
    )
    assert created.status_code == 201, created.text
    june = consumption(
        caller,
        f"/measurement-points/{point['id']}/consumption",
        **{"from": "2025-06-01", "to": "2025-07-01", "interval": "month"},
    )
    quarter_hours_before = (swap - datetime(2025, 5, 31, 22, tzinfo=UTC)) // timedelta(minutes=15)
    quarter_hours_after = (datetime(2025, 6, 30, 22, tzinfo=UTC) - swap) // timedelta(minutes=15)
    (bucket,) = june["buckets"]
    assert bucket["value"] == quarter_hours_before * 1 + quarter_hours_after * 2
    assert bucket["estimated"] is False and bucket["partial"] is False
    assert bucket["expectedSlots"] == 30 * 96
    days = consumption(
        caller,
        f"/measurement-points/{point['id']}/consumption",
        **{"from": "2025-06-01", "to": "2025-07-01", "interval": "day"},
    )
    assert sum(d["value"] for d in days["buckets"]) == bucket["value"]
    assert days["buckets"][14]["value"] == 40 * 1 + 56 * 2  # 15 June: 10 h old, 14 h new

    caller.http.patch(f"/measurement-points/{point['id']}", json={"unit": "kWh"})
    in_kwh = consumption(
        caller,
        f"/measurement-points/{point['id']}/consumption",
        **{"from": "2025-06-01", "to": "2025-07-01", "interval": "month"},
    )
    assert in_kwh["unit"] == "kWh" and in_kwh["buckets"][0]["value"] == Decimal(bucket["value"]) / 1000


def test_consumption_limits_and_errors(connect: Callable[..., Caller]) -> None:
    caller = connect()
    register_id = send(caller, bulk_url(unique("lim")), [{"readAt": "2025-01-01T00:00:00Z", "value": 1}])
    path = f"/registers/{register_id}/consumption"
    for params, pointer in (
        ({"from": "2000-01-01", "to": "2024-01-01", "interval": "15min"}, "/interval"),
        ({"from": "2025-01-02", "to": "2025-01-01"}, "/to"),
        ({"from": "2025-13-01", "to": "2026-01-01"}, "/from"),
        ({"from": "2025-01-01", "to": "2025-02-01", "timeZone": "Nowhere/City"}, "/timeZone"),
        ({"from": "2025-01-01", "to": "2025-02-01", "interval": "week"}, "/interval"),
        ({"to": "2025-02-01"}, "/from"),
    ):
        response = caller.http.get(path, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["details"][0]["pointer"] == pointer, (params, response.text)
    empty = consumption(caller, path, **{"from": "2024-01-01", "to": "2024-01-03"})
    assert [b["value"] for b in empty["buckets"]] == [None, None] and empty["total"] is None
