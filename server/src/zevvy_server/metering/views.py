"""Turning stored rows into the wire structs of `schemas`: exact numbers, instant texts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from msgspec import Raw

from zevvy_server.metering import values
from zevvy_server.metering.schemas import (
    AssignmentOut,
    AuditOut,
    Bucket,
    ConflictOut,
    DeviceOut,
    ImportOut,
    MeasurementPointOut,
    PropertyOut,
    RegisterOut,
    Revision,
    UsageUnitOut,
)

if TYPE_CHECKING:
    from zevvy_server.identity.models import AuditEvent
    from zevvy_server.metering.aggregation import Bucket as AggregateBucket
    from zevvy_server.metering.models import (
        Assignment,
        Device,
        ImportBatch,
        MeasurementConflict,
        MeasurementPoint,
        MeasurementRevision,
        Property,
        Register,
        UsageUnit,
    )


# -- values and instants ---------------------------------------------------------------------------
def number(micros: int) -> Raw:
    """An exact JSON number for a value in micro-units."""
    return Raw(values.value_to_json_text(micros).encode("ascii"))


def maybe_number(micros: int | None) -> Raw | None:
    """`number`, or None."""
    return None if micros is None else number(micros)


def instant(micros: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` for µs since the epoch."""
    return values.format_instant(micros)


def maybe_instant(micros: int | None) -> str | None:
    """`instant`, or None."""
    return None if micros is None else values.format_instant(micros)


def stamp(moment: datetime) -> str:
    """An aware datetime in the API's instant format."""
    return values.format_instant(values.instant_from_datetime(moment))


def maybe_stamp(moment: datetime | None) -> str | None:
    """`stamp`, or None."""
    return None if moment is None else stamp(moment)


# -- converters -----------------------------------------------------------------------------------
def device_out(device: Device, status: str) -> DeviceOut:
    """The wire form of a device."""
    return DeviceOut(
        id=device.id,
        name=device.name,
        reference=device.reference,
        status=status,  # type: ignore[arg-type]
        last_read_at=maybe_instant(device.last_read_at),
        created_at=stamp(device.created_at),
        updated_at=stamp(device.updated_at),
    )


def register_out(register: Register) -> RegisterOut:
    """The wire form of a register."""
    return RegisterOut(
        id=register.id,
        device_id=register.device_id,
        name=register.name,
        reference=register.reference,
        kind=register.kind,  # type: ignore[arg-type]
        period=register.period,
        unit=register.unit,
        obis_code=register.obis_code,
        last_read_at=maybe_instant(register.last_read_at),
        last_value=maybe_number(register.last_value),
        created_at=stamp(register.created_at),
        updated_at=stamp(register.updated_at),
    )


def revision_out(row: MeasurementRevision) -> Revision:
    """The wire form of a revision."""
    return Revision(
        read_at=instant(row.read_at),
        old_value=number(row.old_value),
        new_value=number(row.new_value),
        reason=row.reason,  # type: ignore[arg-type]
        replaced_at=stamp(row.replaced_at),
        import_id=row.import_id,
        conflict_id=row.conflict_id,
        user_id=row.user_id,
        client_id=row.client_id,
    )


def conflict_out(row: MeasurementConflict, stored_now: int | None) -> ConflictOut:
    """The wire form of a conflict; `storedValue` is the value stored now."""
    return ConflictOut(
        id=row.id,
        read_at=instant(row.read_at),
        stored_value=maybe_number(stored_now),
        sent_value=number(row.sent_value),
        count=row.count,
        first_seen_at=stamp(row.first_seen_at),
        last_seen_at=stamp(row.last_seen_at),
        status=row.status,  # type: ignore[arg-type]
        resolved_at=maybe_stamp(row.resolved_at),
        resolved_by=row.resolved_by,
    )


def import_out(row: ImportBatch) -> ImportOut:
    """The wire form of an import batch."""
    return ImportOut(
        id=row.id,
        created_at=stamp(row.created_at),
        user_id=row.user_id,
        client_id=row.client_id,
        on_conflict=row.on_conflict,  # type: ignore[arg-type]
        series=row.series,
        readings=row.readings,
        created=row.created,
        unchanged=row.unchanged,
        overwritten=row.overwritten,
        conflicts=row.conflicts,
        register_ids=[uuid.UUID(text) for text in row.register_ids],
    )


def audit_out(row: AuditEvent) -> AuditOut:
    """The wire form of an audit event."""
    return AuditOut(
        id=row.id,
        at=stamp(row.at),
        user_id=row.user_id,
        client_id=row.client_id,
        action=row.action,
        target=row.target,
        details=row.details,
    )


def property_out(row: Property) -> PropertyOut:
    """The wire form of a property."""
    return PropertyOut(
        id=row.id,
        name=row.name,
        reference=row.reference,
        address=row.address,
        created_at=stamp(row.created_at),
        updated_at=stamp(row.updated_at),
    )


def usage_unit_out(row: UsageUnit) -> UsageUnitOut:
    """The wire form of a usage unit."""
    return UsageUnitOut(
        id=row.id,
        property_id=row.property_id,
        name=row.name,
        reference=row.reference,
        created_at=stamp(row.created_at),
        updated_at=stamp(row.updated_at),
    )


def point_out(row: MeasurementPoint) -> MeasurementPointOut:
    """The wire form of a measurement point."""
    return MeasurementPointOut(
        id=row.id,
        usage_unit_id=row.usage_unit_id,
        name=row.name,
        cost_type=row.cost_type,  # type: ignore[arg-type]
        unit=row.unit,
        created_at=stamp(row.created_at),
        updated_at=stamp(row.updated_at),
    )


def assignment_out(row: Assignment, register_id: uuid.UUID, device_id: uuid.UUID) -> AssignmentOut:
    """The wire form of an assignment."""
    return AssignmentOut(
        id=row.id,
        measurement_point_id=row.measurement_point_id,
        register_id=register_id,
        device_id=device_id,
        valid_from=instant(row.valid_from),
        valid_to=maybe_instant(row.valid_to),
        created_at=stamp(row.created_at),
        updated_at=stamp(row.updated_at),
    )


def buckets_out(buckets: Sequence[AggregateBucket]) -> list[Bucket]:
    """The wire form of consumption buckets."""
    start_texts = values.format_instants([b.from_us for b in buckets])
    end_texts = values.format_instants([b.to_us for b in buckets])
    return [
        Bucket(
            from_=start,
            to=end,
            value=maybe_number(b.value),
            estimated=b.estimated,
            partial=b.partial,
            resets=b.resets,
            expected_slots=b.expected_slots,
            received_slots=b.received_slots,
        )
        for b, start, end in zip(buckets, start_texts, end_texts, strict=True)
    ]
