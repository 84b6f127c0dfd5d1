"""Devices: create, find, list with status, rename, delete (with their readings when confirmed)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET, UnsetType
from sqlalchemy import ColumnElement, case, delete, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.metering import rowstore
from zevvy_server.metering.common import (
    MAX_NAME,
    MAX_REFERENCE,
    Actor,
    Page,
    check_limit,
    check_text,
    decode_cursor,
    encode_cursor,
    normalize_name,
)
from zevvy_server.metering.errors import DeviceHasData, DeviceNotFound, NameTaken, ReferenceTaken, invalid
from zevvy_server.metering.models import (
    Assignment,
    Device,
    MeasurementConflict,
    MeasurementRevision,
    Register,
)
from zevvy_server.metering.schemas import DeviceIn, DevicePatch

STATUSES = ("assigned", "partial", "unassigned")


@dataclass(frozen=True)
class DeviceView:
    """A device with its assignment status."""

    device: Device
    status: str


def status_expression(now_us: int) -> ColumnElement[str]:
    """SQL for a device's status: `assigned` when every register has a current or future
    assignment, `partial` when some have, `unassigned` otherwise (also without registers)."""
    total = (
        select(func.count(Register.key))
        .where(Register.device_id == Device.id)
        .correlate(Device)
        .scalar_subquery()
    )
    assigned = (
        select(func.count(Register.key))
        .where(
            Register.device_id == Device.id,
            exists().where(
                Assignment.register_key == Register.key,
                or_(Assignment.valid_to.is_(None), Assignment.valid_to > now_us),
            ),
        )
        .correlate(Device)
        .scalar_subquery()
    )
    return case(
        (assigned == 0, "unassigned"),
        (assigned == total, "assigned"),
        else_="partial",
    )


def data_counts(session: Session, register_keys: list[int]) -> int:
    """How many readings these registers hold."""
    return rowstore.count_readings(session, register_keys)


def delete_register_data(session: Session, register_keys: list[int]) -> None:
    """Remove readings, revisions and conflicts of registers (there is no cascading key)."""
    if not register_keys:
        return
    rowstore.delete_readings(session, register_keys)
    for table in (MeasurementRevision, MeasurementConflict):
        session.execute(delete(table).where(table.register_key.in_(register_keys)))


class DeviceService:
    """Devices of the acting organization, within one session (transaction)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    # -- reading ----------------------------------------------------------------------------------
    def get(self, actor: Actor, device_id: uuid.UUID) -> Device:
        """The device, or 404 (also for another organization's device)."""
        device = self.session.scalar(
            select(Device).where(Device.id == device_id, Device.organization_id == actor.organization_id)
        )
        if device is None:
            raise DeviceNotFound()
        return device

    def get_for_update(self, actor: Actor, device_id: uuid.UUID) -> Device:
        """The device, locked against concurrent changes until the transaction ends."""
        device = self.session.scalar(
            select(Device)
            .where(Device.id == device_id, Device.organization_id == actor.organization_id)
            .with_for_update()
        )
        if device is None:
            raise DeviceNotFound()
        return device

    def by_reference(self, actor: Actor, reference: str) -> Device | None:
        """The device with this reference, if any."""
        return self.session.scalar(
            select(Device).where(
                Device.organization_id == actor.organization_id, Device.reference == reference
            )
        )

    def by_name(self, actor: Actor, name: str) -> Device | None:
        """The device with this name (compared in NFC form), if any."""
        return self.session.scalar(
            select(Device).where(
                Device.organization_id == actor.organization_id,
                Device.name_normalized == normalize_name(name),
            )
        )

    def view(self, actor: Actor, device_id: uuid.UUID) -> DeviceView:
        """The device with its status."""
        row = self.session.execute(
            select(Device, status_expression(self._now_us())).where(
                Device.id == device_id, Device.organization_id == actor.organization_id
            )
        ).first()
        if row is None:
            raise DeviceNotFound()
        return DeviceView(row[0], row[1])

    def view_by_reference(self, actor: Actor, reference: str) -> DeviceView:
        """The device with this reference and its status, or 404."""
        device = self.by_reference(actor, reference)
        if device is None:
            raise DeviceNotFound()
        return self.view(actor, device.id)

    def list(
        self,
        actor: Actor,
        *,
        name: str | None = None,
        reference: str | None = None,
        status: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[DeviceView]:
        """Devices by name, filtered; keyset-paginated."""
        size = check_limit(limit)
        if status is not None and status not in STATUSES:
            raise invalid("/status", "invalid", "status must be assigned, partial or unassigned")
        after = decode_cursor("devices", cursor, str, str)
        status_col = status_expression(self._now_us()).label("status")
        query = select(Device, status_col).where(Device.organization_id == actor.organization_id)
        if name is not None:
            query = query.where(Device.name_normalized == normalize_name(name))
        if reference is not None:
            query = query.where(Device.reference == reference)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(
                or_(
                    func.lower(Device.name).like(pattern.lower(), escape="\\"),
                    func.lower(Device.reference).like(pattern.lower(), escape="\\"),
                )
            )
        if status is not None:
            query = query.where(status_col == status)
        if after is not None:
            query = query.where(tuple_(Device.name_normalized, Device.id) > tuple_(after[0], _uuid(after[1])))
        rows = self.session.execute(query.order_by(Device.name_normalized, Device.id).limit(size + 1)).all()
        items = [DeviceView(r[0], r[1]) for r in rows[:size]]
        next_cursor = None
        if len(rows) > size:
            last = items[-1].device
            next_cursor = encode_cursor("devices", [last.name_normalized, str(last.id)])
        return Page(items, next_cursor)

    # -- writing ----------------------------------------------------------------------------------
    def create(self, actor: Actor, data: DeviceIn) -> Device:
        """A new device; 409 `reference_taken` / `name_taken` with the existing device's id."""
        actor.require_writer()
        name = check_text(data.name, "/name", MAX_NAME)
        reference = (
            None if data.reference is None else check_text(data.reference, "/reference", MAX_REFERENCE)
        )
        self._check_free(actor, name, reference, None)
        now = self.clock.now()
        device = Device(
            organization_id=actor.organization_id,
            name=name,
            name_normalized=normalize_name(name),
            reference=reference,
            created_at=now,
            updated_at=now,
        )
        self.session.add(device)
        self.session.flush()
        return device

    def update(self, actor: Actor, device_id: uuid.UUID, patch: DevicePatch) -> Device:
        """Apply a merge patch: rename, set or remove the reference."""
        actor.require_writer()
        device = self.get_for_update(actor, device_id)
        name = device.name
        reference = device.reference
        if isinstance(patch.name, str):
            name = check_text(patch.name, "/name", MAX_NAME)
        if patch.reference is not UNSET:
            assert not isinstance(patch.reference, UnsetType)
            reference = (
                None if patch.reference is None else check_text(patch.reference, "/reference", MAX_REFERENCE)
            )
        self._check_free(actor, name, reference, device.id)
        if (name, reference) != (device.name, device.reference):
            device.name = name
            device.name_normalized = normalize_name(name)
            device.reference = reference
            device.updated_at = self.clock.now()
            self.session.flush()
        return device

    def delete(self, actor: Actor, device_id: uuid.UUID, *, confirm: bool) -> None:
        """Delete a device and its registers; with readings only when `confirm` is set."""
        actor.require_writer()
        device = self.get_for_update(actor, device_id)
        keys = list(self.session.scalars(select(Register.key).where(Register.device_id == device.id)))
        readings = data_counts(self.session, keys)
        if readings and not confirm:
            raise DeviceHasData(len(keys), readings)
        delete_register_data(self.session, keys)
        if keys:
            self.session.execute(delete(Assignment).where(Assignment.register_key.in_(keys)))
            self.session.execute(delete(Register).where(Register.key.in_(keys)))
        self.session.execute(delete(Device).where(Device.id == device.id))
        self.audit(
            actor,
            "device.deleted",
            target=f"device:{device.id}",
            details={
                "name": device.name,
                "reference": device.reference,
                "registers": len(keys),
                "measurements": readings,
            },
        )

    # -- helpers ----------------------------------------------------------------------------------
    def _check_free(self, actor: Actor, name: str, reference: str | None, own_id: uuid.UUID | None) -> None:
        if reference is not None:
            taken = self.by_reference(actor, reference)
            if taken is not None and taken.id != own_id:
                raise ReferenceTaken(str(taken.id), "Another device has this reference.")
        taken = self.by_name(actor, name)
        if taken is not None and taken.id != own_id:
            raise NameTaken(str(taken.id), "Another device has this name.")

    def audit(self, actor: Actor, action: str, *, target: str, details: dict[str, Any]) -> None:
        """Append an event to the organization's audit log."""
        IdentityService(self.session, self.clock).audit(
            action,
            organization_id=actor.organization_id,
            user_id=actor.user_id,
            client_id=actor.client_id,
            target=target,
            details=details,
        )

    def _now_us(self) -> int:
        return int(self.clock.time() * 1_000_000)


def _uuid(text: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        raise invalid("/cursor", "invalid_cursor", "the cursor does not belong to this list") from None
