"""The SDK against the real server: devices, registers, bulk imports, errors, exact values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import Account, Server, log_in, unique

import zevvy

DAY = datetime(2024, 6, 3, tzinfo=UTC)


def quarter_hours(
    count: int, start: datetime = DAY, first: int = 1_000, step: int = 250
) -> list[tuple[datetime, int]]:
    return [(start + timedelta(minutes=15 * i), first + step * i) for i in range(count)]


def test_devices_and_registers_are_created_listed_and_found(client: zevvy.Client) -> None:
    """Create a device and a register, find them by id, by reference and in the lists."""
    ref = unique("cs")
    device = client.create_device("Charging station P1", reference=ref)
    assert (device.name, device.reference) == ("Charging station P1", ref)
    assert client.get_device(device.id) == device
    assert client.get_device_by_reference(ref).id == device.id
    assert device.id in {d.id for d in client.iter_devices()}
    register = client.create_register(device.id, "Energy", reference="energy", unit="Wh")
    assert (register.kind, register.period, register.unit) == ("counter", "PT15M", "Wh")
    assert [r.id for r in client.iter_registers(device.id)] == [register.id]
    assert client.get_register(register.id).device_id == device.id


def test_a_taken_reference_is_a_conflict_naming_the_holder(client: zevvy.Client) -> None:
    """409 reference_taken carries the existing device's id."""
    ref = unique("cs")
    first = client.create_device("One", reference=ref)
    with pytest.raises(zevvy.Conflict) as caught:
        client.create_device("Two", reference=ref)
    assert caught.value.code == "reference_taken"
    assert caught.value.status == 409
    assert caught.value.existing_id == first.id


def test_pages_follow_the_cursor(client: zevvy.Client) -> None:
    """list_devices gives pages with nextCursor; iter_devices walks them all."""
    created = {client.create_device(unique("page")).id for _ in range(5)}
    first = client.list_devices(limit=2)
    assert len(first) == 2 and first.next_cursor
    assert created <= {d.id for d in client.iter_devices()}


def test_unknown_ids_are_not_found(client: zevvy.Client) -> None:
    """404 not_found, for ids and references alike."""
    with pytest.raises(zevvy.NotFound) as caught:
        client.get_device("00000000-0000-0000-0000-000000000000")
    assert caught.value.code == "not_found"
    with pytest.raises(zevvy.NotFound):
        client.get_device_by_reference(unique("nobody"))


def test_references_with_slashes_spaces_and_umlauts_travel_as_one_segment(client: zevvy.Client) -> None:
    """'Halle 3/Säule 2' is one path segment: the device and register are created with it verbatim."""
    device_ref, register_ref = f"Halle 3/Säule 2 {unique('x')}", "Zähler/Wirkenergie %+?#"
    result = client.bulk_create(device_ref, register_ref, quarter_hours(4))
    assert result.created == 4
    assert result.device is not None and result.device.reference == device_ref and result.device.created
    assert result.register is not None and result.register.reference == register_ref
    assert client.get_device_by_reference(device_ref).id == result.device.id


def test_resending_is_unchanged_and_different_values_are_conflicts_returned_not_raised(
    client: zevvy.Client,
) -> None:
    """201 then 201 unchanged; a changed value gives 409 with the new rows stored and a sample."""
    device_ref = unique("cs")
    readings = quarter_hours(8)
    first = client.bulk_create(device_ref, "energy", readings)
    assert (first.created, first.unchanged, first.conflicts, first.status_code) == (8, 0, 0, 201)
    again = client.bulk_create(device_ref, "energy", readings)
    assert (again.created, again.unchanged, again.status_code) == (0, 8, 201)

    changed = [*readings[:7], (readings[7][0], 99_999), *quarter_hours(2, DAY + timedelta(hours=2), 3_000)]
    result = client.bulk_create(device_ref, "energy", changed)
    assert (result.created, result.unchanged, result.conflicts, result.status_code) == (2, 7, 1, 409)
    assert result.has_conflicts
    sample = result.conflict_samples[0]
    assert (sample.read_at, sample.stored_value, sample.sent_value) == (
        readings[7][0],
        Decimal(2750),
        Decimal(99999),
    )

    with pytest.raises(zevvy.BulkConflict) as caught:
        client.bulk_create(device_ref, "energy", changed, raise_on_conflict=True)
    assert caught.value.result.conflicts == 1
    assert caught.value.status == 409


def test_overwrite_applies_the_new_value(client: zevvy.Client) -> None:
    """on_conflict='overwrite' stores the sent value and counts it."""
    device_ref = unique("cs")
    client.bulk_create(device_ref, "energy", [(DAY, 1)])
    result = client.bulk_create(device_ref, "energy", [(DAY, 2)], on_conflict="overwrite")
    assert result.overwritten == 1
    register = result.register
    assert register is not None
    assert [m.value for m in client.iter_measurements(register.id)] == [Decimal(2)]


def test_values_come_back_exactly(client: zevvy.Client) -> None:
    """Six decimals and twelve digits survive the round trip; nothing passes through float."""
    values = [Decimal("999999999999.999999"), Decimal("0.000001"), Decimal("1234.5"), Decimal("-3")]
    readings = [(DAY + timedelta(minutes=15 * i), v) for i, v in enumerate(values)]
    result = client.bulk_create(unique("cs"), "energy", readings)
    assert result.register is not None
    stored = list(client.iter_measurements(result.register.id, DAY, DAY + timedelta(days=1)))
    assert [(m.read_at, m.value) for m in stored] == readings
    assert all(isinstance(m.value, Decimal) for m in stored)
    assert client.get_register(result.register.id).last_value == Decimal("-3")


def test_floats_are_sent_as_their_shortest_text(client: zevvy.Client) -> None:
    """0.1 + 0.2 is sent as 0.30000000000000004 and refused (7+ decimals) rather than rounded silently."""
    result = client.bulk_create(unique("cs"), "energy", [(DAY, 1234.5)])
    assert result.created == 1
    with pytest.raises(zevvy.ValidationError):
        client.bulk_create(unique("cs"), "energy", [(DAY, 0.1 + 0.2)])


def test_invalid_readings_are_refused_with_json_pointers(client: zevvy.Client) -> None:
    """422 validation_failed lists each problem with its pointer; nothing is stored."""
    device_ref = unique("cs")
    bad: list[Any] = [
        {"readAt": "2024-06-03T00:00:00", "value": 1},
        (DAY, 2),
        {"readAt": "1999-01-01T00:00:00Z", "value": 3},
    ]
    with pytest.raises(zevvy.ValidationError) as caught:
        client.bulk_create(device_ref, "energy", bad)
    error = caught.value
    assert error.code == "validation_failed" and error.status == 422
    pointers = {d["pointer"] for d in error.details}
    assert {"/0/readAt", "/2/readAt"} <= pointers
    assert error.total >= 2
    with pytest.raises(zevvy.NotFound):
        client.get_device_by_reference(device_ref)


def test_the_body_form_finds_device_and_register_by_name(client: zevvy.Client) -> None:
    """POST /measurements/_bulk_create with names creates them once and then reuses them."""
    device_name, register_name = unique("Charging Station"), "Energy"
    first = client.bulk_create_series(quarter_hours(4), device_name=device_name, register_name=register_name)
    second = client.bulk_create_series(quarter_hours(4), device_name=device_name, register_name=register_name)
    assert first.created == 4 and second.unchanged == 4
    assert first.device is not None and second.device is not None and first.device.id == second.device.id
    assert first.device.created and not second.device.created


def test_daily_consumption_of_a_counter(client: zevvy.Client) -> None:
    """A day of readings 00:00..24:00 local gives the counter's increase for the day."""
    start = datetime(2024, 6, 2, 22, tzinfo=UTC)  # 00:00 in Zurich
    result = client.bulk_create(unique("cs"), "energy", quarter_hours(97, start, first=5_000, step=10))
    assert result.register is not None
    days = client.consumption(
        result.register.id, "2024-06-03", "2024-06-04", interval="day", time_zone="Europe/Zurich"
    )
    assert len(days) == 1
    bucket = days.buckets[0]
    assert bucket.value == Decimal(960)
    assert (bucket.from_, bucket.to) == (start, start + timedelta(days=1))
    assert (bucket.expected_slots, bucket.estimated) == (96, False)


def test_imports_are_listed(client: zevvy.Client) -> None:
    """Every stored bulk request appears in GET /imports with its counts."""
    result = client.bulk_create(unique("cs"), "energy", quarter_hours(3))
    batch = next(b for b in client.list_imports(limit=10) if b.id == result.import_id)
    assert (batch.readings, batch.created) == (3, 3)


def test_a_token_without_the_scope_is_refused_naming_it(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """403 insufficient_scope says which scope is missing."""
    sdk = make_client()
    log_in(sdk, live_server, account, scope="measurement")
    with pytest.raises(zevvy.PermissionDenied) as caught:
        sdk.create_device("No device scope")
    assert caught.value.code == "insufficient_scope"
    assert caught.value.scope == "device"


def test_another_organizations_device_is_not_found(
    live_server: Server, client: zevvy.Client, make_client: Callable[..., zevvy.Client]
) -> None:
    """Ids of other organizations answer 404."""
    device = client.create_device(unique("mine"))
    stranger = make_client()
    log_in(stranger, live_server, live_server.make_account())
    with pytest.raises(zevvy.NotFound):
        stranger.get_device(device.id)


def test_request_reaches_endpoints_without_a_method(client: zevvy.Client) -> None:
    """`request` covers the rest of the API and keeps numbers exact."""
    device = client.create_device(unique("raw"))
    data = client.request("GET", f"/devices/{device.id}")
    assert data["id"] == device.id
