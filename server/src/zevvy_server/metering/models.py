"""Tables of the metering domain.

Instants of readings are BIGINT microseconds since the Unix epoch (UTC) and values BIGINT
micro-units (millionths), so sums are exact on both databases. Registers carry a compact integer
``key`` beside their public UUID; the readings' tables use it, which keeps their primary keys
small. The API only ever shows UUIDs.

Readings are stored in blocks of up to 100 consecutive readings of a register
(``measurement_blocks``, see `blockstore`) on both databases; `rowstore` is the only code that
reads or writes them. The table has no foreign key on purpose: SQLite would check it for every
written block. The services delete a register's readings explicitly with the register.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zevvy_server.storage.base import Base

# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets a 64-bit identity.
_SERIAL = BigInteger().with_variant(Integer, "sqlite")

KINDS = ("counter", "interval")
COST_TYPES = ("electricity", "heat", "water", "gas", "ev_charging", "solar_production", "other")


class Device(Base):
    """A meter or gateway that sends readings; owns registers."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("organization_id", "reference"),
        UniqueConstraint("organization_id", "name_normalized"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    # NFC form of the name: "Zähler" typed on two systems is one name.
    name_normalized: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(255))
    last_read_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Register(Base):
    """One series of readings of a device (a counter or interval values) in one unit."""

    __tablename__ = "registers"
    __table_args__ = (
        UniqueConstraint("device_id", "reference"),
        UniqueConstraint("device_id", "name_normalized"),
    )

    key: Mapped[int] = mapped_column(_SERIAL, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_normalized: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    period: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    obis_code: Mapped[str | None] = mapped_column(String(50))
    # The latest reading (largest instant), kept in the transaction that stores readings.
    last_read_at: Mapped[int | None] = mapped_column(BigInteger)
    last_value: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MeasurementBlock(Base):
    """Up to 100 consecutive readings of a register: their instants and values as big-endian
    64-bit integers packed into bytes (see `blockstore`). A rowid table on SQLite, which keeps a
    block's 1.6 kB in its B-tree page (WITHOUT ROWID would move most of it to an overflow page)."""

    __tablename__ = "measurement_blocks"

    register_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_at: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_at: Mapped[int] = mapped_column(BigInteger)
    readings: Mapped[int] = mapped_column(Integer)
    instant_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    value_bytes: Mapped[bytes] = mapped_column(LargeBinary)


class MeasurementDay(Base):
    """A register's readings summarized per local day (Europe/Zurich), kept with the readings.

    See `rollup`: consumption by day, month and year is computed from these rows exactly as from
    the readings. ``extra`` is what the day's resets add to the consumption curve (null when it
    does not fit 64 bits, and then the readings are used instead).
    """

    __tablename__ = "measurement_days"
    __table_args__ = ({"sqlite_with_rowid": False},)

    register_key: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("registers.key", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day_start: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    readings: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[int] = mapped_column(BigInteger)
    first_value: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[int] = mapped_column(BigInteger)
    resets: Mapped[int] = mapped_column(Integer)
    extra: Mapped[int | None] = mapped_column(BigInteger)


class MeasurementRevision(Base):
    """A stored value that was replaced (overwrite or accepted conflict), kept for the record."""

    __tablename__ = "measurement_revisions"
    __table_args__ = (Index("ix_measurement_revisions_register_read_at", "register_key", "read_at"),)

    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True, autoincrement=True)
    register_key: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[int] = mapped_column(BigInteger)
    old_value: Mapped[int] = mapped_column(BigInteger)
    new_value: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(20))
    import_id: Mapped[uuid.UUID | None]
    conflict_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    client_id: Mapped[str | None] = mapped_column(String(200))
    replaced_at: Mapped[datetime]


class MeasurementConflict(Base):
    """A value sent for a stored instant that differs from the stored one, awaiting review."""

    __tablename__ = "measurement_conflicts"
    __table_args__ = (
        # One record per register, instant and sent value; re-sends raise its count.
        UniqueConstraint("register_key", "read_at", "sent_value"),
        Index("ix_measurement_conflicts_register_status", "register_key", "status", "read_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    register_key: Mapped[int] = mapped_column(BigInteger)
    read_at: Mapped[int] = mapped_column(BigInteger)
    sent_value: Mapped[int] = mapped_column(BigInteger)
    stored_value: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_import_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(10))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None]
    resolved_client_id: Mapped[str | None] = mapped_column(String(200))


class ImportBatch(Base):
    """One bulk-import request that wrote: who, which client, when, and what happened."""

    __tablename__ = "import_batches"
    __table_args__ = (Index("ix_import_batches_org_created", "organization_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None]
    client_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    on_conflict: Mapped[str] = mapped_column(String(10))
    series: Mapped[int] = mapped_column(Integer)
    readings: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    overwritten: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)
    register_ids: Mapped[list[str]]


class Property(Base):
    """A building or site whose usage units are billed."""

    __tablename__ = "properties"
    __table_args__ = (UniqueConstraint("organization_id", "reference"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UsageUnit(Base):
    """A flat, shop or common area of a property: what an invoice goes to."""

    __tablename__ = "usage_units"
    __table_args__ = (UniqueConstraint("organization_id", "reference"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MeasurementPoint(Base):
    """What is measured for a usage unit (its electricity, its heat, ...), fed by registers."""

    __tablename__ = "measurement_points"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    usage_unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("usage_units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    cost_type: Mapped[str] = mapped_column(String(30))
    unit: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Assignment(Base):
    """A register feeding a measurement point over [valid_from, valid_to) (µs; open end when null)."""

    __tablename__ = "assignments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    measurement_point_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("measurement_points.id", ondelete="CASCADE"), index=True
    )
    register_key: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("registers.key", ondelete="CASCADE"), index=True
    )
    valid_from: Mapped[int] = mapped_column(BigInteger)
    valid_to: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
