"""Read-only views the console needs beyond the services' own lists: what needs attention, the
choices of a form (every register, every measurement point), where a register is assigned, the
import batches that touched it, and the live grants of an API client.

Only reads live here; every change goes through the domain services. Rules come from the
services' modules (`status_expression` decides a device's status, `parse_period` a register's
period), so these views cannot disagree with the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.models import User
from zevvy_server.metering.common import Actor
from zevvy_server.metering.devices import STATUSES, status_expression
from zevvy_server.metering.models import (
    Assignment,
    Device,
    ImportBatch,
    MeasurementConflict,
    MeasurementPoint,
    Property,
    Register,
    UsageUnit,
)
from zevvy_server.metering.periods import parse_period
from zevvy_server.oauth.models import Client, GrantSession
from zevvy_server.oauth.sessions import GrantSessions
from zevvy_server.settings import Settings

ATTENTION_ROWS = 10
# How many of the newest import batches the register page looks through for its own.
IMPORT_SCAN = 500


@dataclass(frozen=True)
class SilentRegister:
    """A register whose last reading is older than its period."""

    register_id: uuid.UUID
    register_name: str
    device_id: uuid.UUID
    device_name: str
    period: str
    last_read_at: int


@dataclass(frozen=True)
class ConflictCount:
    """Open conflicts of one register."""

    register_id: uuid.UUID
    register_name: str
    device_name: str
    count: int


@dataclass(frozen=True)
class Attention:
    """What the home page points at."""

    status_counts: dict[str, int]
    unassigned: list[Device]
    silent: list[SilentRegister]
    silent_total: int
    never_read: int
    conflicts: list[ConflictCount]
    conflicts_total: int


def _now_us(clock: Clock) -> int:
    return int(clock.time() * 1_000_000)


def attention(session: Session, clock: Clock, actor: Actor) -> Attention:
    """Devices by status, the unassigned ones, silent registers and open conflicts."""
    now = _now_us(clock)
    status = status_expression(now).label("status")
    counts = dict.fromkeys(STATUSES, 0)
    for value, count in session.execute(
        select(status, func.count())
        .select_from(Device)
        .where(Device.organization_id == actor.organization_id)
        .group_by(status)
    ):
        counts[value] = count
    unassigned = list(
        session.scalars(
            select(Device)
            .where(Device.organization_id == actor.organization_id, status_expression(now) == "unassigned")
            .order_by(Device.created_at.desc())
            .limit(ATTENTION_ROWS)
        )
    )
    rows = session.execute(
        select(Register.id, Register.name, Device.id, Device.name, Register.period, Register.last_read_at)
        .join(Device, Device.id == Register.device_id)
        .where(Register.organization_id == actor.organization_id)
        .order_by(Register.last_read_at)
    )
    silent: list[SilentRegister] = []
    never_read = 0
    for register_id, register_name, device_id, device_name, period, last in rows:
        if last is None:
            never_read += 1
        elif last + parse_period(period).micros < now:
            silent.append(SilentRegister(register_id, register_name, device_id, device_name, period, last))
    open_conflicts = (
        select(Register.id, Register.name, Device.name, func.count())
        .select_from(MeasurementConflict)
        .join(Register, Register.key == MeasurementConflict.register_key)
        .join(Device, Device.id == Register.device_id)
        .where(Register.organization_id == actor.organization_id, MeasurementConflict.status == "open")
        .group_by(Register.id, Register.name, Device.name)
        .order_by(func.count().desc())
    )
    conflicts = [ConflictCount(*row) for row in session.execute(open_conflicts)]
    return Attention(
        status_counts=counts,
        unassigned=unassigned,
        silent=silent[:ATTENTION_ROWS],
        silent_total=len(silent),
        never_read=never_read,
        conflicts=conflicts[:ATTENTION_ROWS],
        conflicts_total=sum(c.count for c in conflicts),
    )


def register_counts(session: Session, device_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many registers each device has."""
    if not device_ids:
        return {}
    return dict(
        session.execute(
            select(Register.device_id, func.count())
            .where(Register.device_id.in_(device_ids))
            .group_by(Register.device_id)
        ).all()
    )


@dataclass(frozen=True)
class RegisterChoice:
    """A register in a form's list of choices."""

    register_id: uuid.UUID
    register_name: str
    register_reference: str | None
    device_name: str
    device_reference: str | None
    unit: str


def register_choices(session: Session, actor: Actor, limit: int = 2000) -> list[RegisterChoice]:
    """Every register of the organization, by device and register name."""
    rows = session.execute(
        select(Register.id, Register.name, Register.reference, Device.name, Device.reference, Register.unit)
        .join(Device, Device.id == Register.device_id)
        .where(Register.organization_id == actor.organization_id)
        .order_by(Device.name_normalized, Register.name_normalized)
        .limit(limit)
    )
    return [RegisterChoice(*row) for row in rows]


@dataclass(frozen=True)
class PointChoice:
    """A measurement point with the names above it."""

    point_id: uuid.UUID
    point_name: str
    cost_type: str
    unit: str
    usage_unit_id: uuid.UUID
    usage_unit_name: str
    property_id: uuid.UUID
    property_name: str


def _points_query(actor: Actor) -> Select[uuid.UUID, str, str, str, uuid.UUID, str, uuid.UUID, str]:
    return (
        select(
            MeasurementPoint.id,
            MeasurementPoint.name,
            MeasurementPoint.cost_type,
            MeasurementPoint.unit,
            UsageUnit.id,
            UsageUnit.name,
            Property.id,
            Property.name,
        )
        .join(UsageUnit, UsageUnit.id == MeasurementPoint.usage_unit_id)
        .join(Property, Property.id == UsageUnit.property_id)
        .where(MeasurementPoint.organization_id == actor.organization_id)
    )


def point_choices(session: Session, actor: Actor, limit: int = 2000) -> list[PointChoice]:
    """Every measurement point of the organization, by property, usage unit and name."""
    query = _points_query(actor).order_by(Property.name, UsageUnit.name, MeasurementPoint.name).limit(limit)
    return [PointChoice(*row) for row in session.execute(query)]


def point_path(session: Session, actor: Actor, point_id: uuid.UUID) -> PointChoice | None:
    """A point with its usage unit and property (for breadcrumbs)."""
    row = session.execute(_points_query(actor).where(MeasurementPoint.id == point_id)).first()
    return PointChoice(*row) if row else None


@dataclass(frozen=True)
class RegisterAssignment:
    """One assignment of a register, with where it goes."""

    assignment_id: uuid.UUID
    valid_from: int
    valid_to: int | None
    point: PointChoice


def register_assignments(session: Session, actor: Actor, register: Register) -> list[RegisterAssignment]:
    """The register's assignments, latest first."""
    query = (
        _points_query(actor)
        .add_columns(Assignment.id, Assignment.valid_from, Assignment.valid_to)
        .join(Assignment, Assignment.measurement_point_id == MeasurementPoint.id)
        .where(Assignment.register_key == register.key)
        .order_by(Assignment.valid_from.desc())
    )
    result = []
    for row in session.execute(query):
        result.append(RegisterAssignment(row[8], row[9], row[10], PointChoice(*row[:8])))
    return result


def assigned_now(session: Session, clock: Clock, register_keys: list[int]) -> set[int]:
    """Which of these registers have a current or future assignment (a device's status rule)."""
    if not register_keys:
        return set()
    now = _now_us(clock)
    return set(
        session.scalars(
            select(Assignment.register_key).where(
                Assignment.register_key.in_(register_keys),
                Assignment.valid_to.is_(None) | (Assignment.valid_to > now),
            )
        )
    )


@dataclass(frozen=True)
class AssignedRegister:
    """A register on a point's page."""

    register_id: uuid.UUID
    register_name: str
    device_id: uuid.UUID
    device_name: str
    unit: str
    last_read_at: int | None


def registers_by_id(
    session: Session, actor: Actor, ids: list[uuid.UUID]
) -> dict[uuid.UUID, AssignedRegister]:
    """Registers with their device names, by id."""
    if not ids:
        return {}
    rows = session.execute(
        select(Register.id, Register.name, Device.id, Device.name, Register.unit, Register.last_read_at)
        .join(Device, Device.id == Register.device_id)
        .where(Register.organization_id == actor.organization_id, Register.id.in_(ids))
    )
    return {row[0]: AssignedRegister(*row) for row in rows}


def register_imports(
    session: Session, actor: Actor, register_id: uuid.UUID, limit: int = 20
) -> list[ImportBatch]:
    """The newest import batches that wrote to this register."""
    wanted = str(register_id)
    batches = session.scalars(
        select(ImportBatch)
        .where(ImportBatch.organization_id == actor.organization_id)
        .order_by(ImportBatch.created_at.desc())
        .limit(IMPORT_SCAN)
    )
    return [batch for batch in batches if wanted in batch.register_ids][:limit]


def usernames(session: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Usernames by user id."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


@dataclass(frozen=True)
class LiveGrant:
    """An approval of an API client that can still issue tokens."""

    grant: GrantSession
    # None for a member of another organization: their names are not this organization's business.
    username: str | None
    offline: bool
    deadline: datetime


def live_grants(
    session: Session, clock: Clock, settings: Settings, client: Client, organization_id: uuid.UUID
) -> list[LiveGrant]:
    """The client's unrevoked, unexpired grants (every organization's), newest first."""
    grants = GrantSessions(session, clock, settings)
    rows = session.execute(
        select(GrantSession, User.username)
        .join(User, User.id == GrantSession.user_id)
        .where(GrantSession.client_pk == client.id, GrantSession.revoked_at.is_(None))
        .order_by(GrantSession.created_at.desc())
    )
    return [
        LiveGrant(
            grant,
            username if grant.organization_id == organization_id else None,
            grants.is_offline(grant),
            grants.deadline(grant),
        )
        for grant, username in rows
        if grants.is_active(grant)
    ]


def point_latest_reading(session: Session, point_id: uuid.UUID) -> int | None:
    """The newest reading among the registers ever assigned to a point (where its chart ends)."""
    return session.scalar(
        select(func.max(Register.last_read_at))
        .join(Assignment, Assignment.register_key == Register.key)
        .where(Assignment.measurement_point_id == point_id)
    )
