"""Registers of a device: create, find, list, change (unit locked once data exists), delete."""

from __future__ import annotations

import uuid
from typing import Any

from msgspec import UNSET, UnsetType
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.metering import periods
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
from zevvy_server.metering.devices import DeviceService, data_counts, delete_register_data
from zevvy_server.metering.errors import (
    DeviceHasData,
    NameTaken,
    ReferenceTaken,
    RegisterNotFound,
    UnitLocked,
    invalid,
)
from zevvy_server.metering.models import KINDS, Assignment, Device, Register
from zevvy_server.metering.schemas import RegisterIn, RegisterPatch

MAX_UNIT = 20
MAX_OBIS = 50


def check_kind(kind: str, pointer: str = "/kind") -> str:
    """`counter` or `interval`."""
    if kind not in KINDS:
        raise invalid(pointer, "invalid_kind", "kind must be counter or interval")
    return kind


def check_period(period: str, pointer: str = "/period") -> str:
    """An ISO 8601 duration that divides a day (PT15M, PT1H, P1D, ...), in canonical form."""
    try:
        return periods.parse_period(period).iso
    except ValueError as exc:
        raise invalid(pointer, "invalid_period", str(exc)) from None


def check_unit(unit: str, pointer: str = "/unit") -> str:
    """A unit symbol such as Wh, kWh, m3."""
    return check_text(unit, pointer, MAX_UNIT)


class RegisterService:
    """Registers of the acting organization, within one session (transaction)."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.devices = DeviceService(session, clock)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, actor: Actor, register_id: uuid.UUID) -> Register:
        """The register, or 404 (also for another organization's register)."""
        register = self.session.scalar(
            select(Register).where(
                Register.id == register_id, Register.organization_id == actor.organization_id
            )
        )
        if register is None:
            raise RegisterNotFound()
        return register

    def get_for_update(self, actor: Actor, register_id: uuid.UUID) -> Register:
        """The register, locked until the transaction ends (PostgreSQL; SQLite locks the file)."""
        register = self.session.scalar(
            select(Register)
            .where(Register.id == register_id, Register.organization_id == actor.organization_id)
            .with_for_update()
        )
        if register is None:
            raise RegisterNotFound()
        return register

    def by_references(self, actor: Actor, device_reference: str, register_reference: str) -> Register:
        """The register addressed by its device's reference and its own, or 404."""
        register = self.session.scalar(
            select(Register)
            .join(Device, Device.id == Register.device_id)
            .where(
                Device.organization_id == actor.organization_id,
                Device.reference == device_reference,
                Register.reference == register_reference,
            )
        )
        if register is None:
            raise RegisterNotFound()
        return register

    def find(self, device_id: uuid.UUID, *, reference: str | None, name: str | None) -> Register | None:
        """The device's register with this reference (when given) or else this name."""
        query = select(Register).where(Register.device_id == device_id)
        if reference is not None:
            query = query.where(Register.reference == reference)
        elif name is not None:
            query = query.where(Register.name_normalized == normalize_name(name))
        else:
            return None
        return self.session.scalar(query)

    def list(
        self, actor: Actor, device_id: uuid.UUID, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Register]:
        """The device's registers by name."""
        size = check_limit(limit)
        after = decode_cursor("registers", cursor, str, int)
        device = self.devices.get(actor, device_id)
        query = select(Register).where(Register.device_id == device.id)
        if after is not None:
            query = query.where(tuple_(Register.name_normalized, Register.key) > tuple_(after[0], after[1]))
        rows = list(
            self.session.scalars(query.order_by(Register.name_normalized, Register.key).limit(size + 1))
        )
        items = rows[:size]
        next_cursor = None
        if len(rows) > size:
            next_cursor = encode_cursor("registers", [items[-1].name_normalized, items[-1].key])
        return Page(items, next_cursor)

    def readings(self, register: Register) -> int:
        """How many readings the register holds."""
        return data_counts(self.session, [register.key])

    # -- writing ----------------------------------------------------------------------------------
    def create(self, actor: Actor, device_id: uuid.UUID, data: RegisterIn) -> Register:
        """A new register of the device; 409 `reference_taken` / `name_taken` within the device."""
        actor.require_writer()
        device = self.devices.get_for_update(actor, device_id)
        name = check_text(data.name, "/name", MAX_NAME)
        reference = (
            None if data.reference is None else check_text(data.reference, "/reference", MAX_REFERENCE)
        )
        obis = None if data.obis_code is None else check_text(data.obis_code, "/obisCode", MAX_OBIS)
        self._check_free(device.id, name, reference, None)
        return self.insert(
            actor,
            device,
            name=name,
            reference=reference,
            kind=check_kind(data.kind),
            period=check_period(data.period),
            unit=check_unit(data.unit),
            obis_code=obis,
        )

    def insert(
        self,
        actor: Actor,
        device: Device,
        *,
        name: str,
        reference: str | None,
        kind: str,
        period: str,
        unit: str,
        obis_code: str | None = None,
    ) -> Register:
        """Add a register row (checks already done)."""
        now = self.clock.now()
        register = Register(
            organization_id=actor.organization_id,
            device_id=device.id,
            name=name,
            name_normalized=normalize_name(name),
            reference=reference,
            kind=kind,
            period=period,
            unit=unit,
            obis_code=obis_code,
            created_at=now,
            updated_at=now,
        )
        self.session.add(register)
        self.session.flush()
        return register

    def update(self, actor: Actor, register_id: uuid.UUID, patch: RegisterPatch) -> Register:
        """Apply a merge patch. The unit cannot change once readings exist (409 `unit_locked`);
        kind, period and unit changes are audited."""
        actor.require_writer()
        register = self.get_for_update(actor, register_id)
        changes: dict[str, Any] = {}
        if isinstance(patch.name, str):
            changes["name"] = check_text(patch.name, "/name", MAX_NAME)
        if not isinstance(patch.reference, UnsetType):
            changes["reference"] = (
                None if patch.reference is None else check_text(patch.reference, "/reference", MAX_REFERENCE)
            )
        if isinstance(patch.kind, str):
            changes["kind"] = check_kind(patch.kind)
        if isinstance(patch.period, str):
            changes["period"] = check_period(patch.period)
        if isinstance(patch.unit, str):
            changes["unit"] = check_unit(patch.unit)
        if patch.obis_code is not UNSET:
            assert not isinstance(patch.obis_code, UnsetType)
            changes["obis_code"] = (
                None if patch.obis_code is None else check_text(patch.obis_code, "/obisCode", MAX_OBIS)
            )
        changes = {k: v for k, v in changes.items() if getattr(register, k) != v}
        if not changes:
            return register
        if "unit" in changes:
            readings = self.readings(register)
            if readings:
                raise UnitLocked(readings)
        self._check_free(
            register.device_id,
            changes.get("name", register.name),
            changes.get("reference", register.reference),
            register.key,
        )
        audited = {
            k: {"from": getattr(register, k), "to": v}
            for k, v in changes.items()
            if k in {"kind", "period", "unit"}
        }
        for key, value in changes.items():
            setattr(register, key, value)
        if "name" in changes:
            register.name_normalized = normalize_name(register.name)
        register.updated_at = self.clock.now()
        self.session.flush()
        if audited:
            self.devices.audit(actor, "register.changed", target=f"register:{register.id}", details=audited)
        return register

    def delete(self, actor: Actor, register_id: uuid.UUID, *, confirm: bool) -> None:
        """Delete a register; with readings only when `confirm` is set (else 409 with counts)."""
        actor.require_writer()
        register = self.get_for_update(actor, register_id)
        readings = self.readings(register)
        if readings and not confirm:
            raise DeviceHasData(1, readings, "This register has readings; repeat with confirm=true.")
        delete_register_data(self.session, [register.key])
        self.session.execute(delete(Assignment).where(Assignment.register_key == register.key))
        self.session.execute(delete(Register).where(Register.key == register.key))
        self.devices.audit(
            actor,
            "register.deleted",
            target=f"register:{register.id}",
            details={"deviceId": str(register.device_id), "name": register.name, "measurements": readings},
        )

    def _check_free(
        self, device_id: uuid.UUID, name: str, reference: str | None, own_key: int | None
    ) -> None:
        if reference is not None:
            taken = self.find(device_id, reference=reference, name=None)
            if taken is not None and taken.key != own_key:
                raise ReferenceTaken(str(taken.id), "Another register of this device has this reference.")
        taken = self.find(device_id, reference=None, name=name)
        if taken is not None and taken.key != own_key:
            raise NameTaken(str(taken.id), "Another register of this device has this name.")
