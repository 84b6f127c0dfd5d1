"""Finding the device and register a series of readings goes to, creating what is missing.

Creation is "insert or fetch": the row is inserted with ON CONFLICT DO NOTHING and, when another
transaction got there first, the existing row is used, so concurrent requests never create a
device or register twice. Creating needs the `device` / `register` scope; without it the request
fails with 403 naming the scope (and its transaction writes nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.metering.common import MAX_NAME, MAX_REFERENCE, Actor, check_text, normalize_name
from zevvy_server.metering.models import Device, Register
from zevvy_server.metering.rowstore import insert_ignoring_conflicts

MAX_SUFFIX = 1000


@dataclass(frozen=True)
class Address:
    """How a series names its register; `pointer` locates it in the body for error details."""

    pointer: str
    device_reference: str | None
    device_name: str | None
    register_reference: str | None
    register_name: str | None
    kind: str | None = None
    period: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class DeviceRef:
    """What an import needs of a device."""

    id: uuid.UUID
    name: str
    reference: str | None


@dataclass(frozen=True)
class RegisterRef:
    """What an import needs of a register."""

    key: int
    id: uuid.UUID
    device_id: uuid.UUID
    name: str
    reference: str | None
    kind: str
    period: str


@dataclass
class Resolved:
    """The device and register of a series, and whether this request created them.

    In a dry run nothing is created: `device`/`register` stay None where they would be.
    `latest` is the register's latest reading (instant, value), (None, None) when it has none,
    when the look-up locked the register row (`Resolver.resolve(..., lock=True)`); None otherwise.
    """

    device: DeviceRef | None
    device_created: bool
    register: RegisterRef | None
    register_created: bool
    latest: tuple[int | None, int | None] | None = None


# Built once: the import path looks devices and registers up in every request, and building a
# statement costs more than running its cached compiled form.
_DEVICE = select(Device.id, Device.name, Device.reference).where(
    Device.organization_id == bindparam("organization_id")
)
_FIND_DEVICE: dict[bool, Select[uuid.UUID, str, str | None]] = {
    True: _DEVICE.where(Device.reference == bindparam("reference")),
    False: _DEVICE.where(Device.name_normalized == bindparam("name")),
}
_REGISTER = select(
    Register.key,
    Register.id,
    Register.device_id,
    Register.name,
    Register.reference,
    Register.kind,
    Register.period,
).where(Register.device_id == bindparam("device_id"))
_FIND_REGISTER: dict[bool, Select[int, uuid.UUID, uuid.UUID, str, str | None, str, str]] = {
    True: _REGISTER.where(Register.reference == bindparam("reference")),
    False: _REGISTER.where(Register.name_normalized == bindparam("name")),
}
# An existing device and register in one statement, with the register's latest reading; keyed by
# (device by reference, register by reference, lock). Locking takes the register row FOR UPDATE
# (PostgreSQL; SQLite's write transaction already holds the database).
_BOTH = (
    select(
        Device.id,
        Device.name,
        Device.reference,
        *_REGISTER.selected_columns,
        Register.last_read_at,
        Register.last_value,
    )
    .join(Device, Device.id == Register.device_id)
    .where(Device.organization_id == bindparam("organization_id"))
)
_FIND_BOTH = {
    (by_device_reference, by_register_reference, lock): (
        statement.with_for_update(of=Register) if lock else statement
    )
    for by_device_reference in (True, False)
    for by_register_reference in (True, False)
    for lock in (True, False)
    for statement in [
        _BOTH.where(
            Device.reference == bindparam("device_reference")
            if by_device_reference
            else Device.name_normalized == bindparam("device_name"),
            Register.reference == bindparam("register_reference")
            if by_register_reference
            else Register.name_normalized == bindparam("register_name"),
        )
    ]
}


def _lookup(reference: str | None, name: str | None) -> tuple[bool, str]:
    """How a device or register is looked up: (by reference, the reference or normalized name)."""
    if reference is not None:
        return True, reference
    assert name is not None
    return False, normalize_name(name)


def _register_ref(row: Sequence[Any]) -> RegisterRef:
    """A register from the seven columns of `_REGISTER`, in their order."""
    return RegisterRef(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


_REGISTER_BY_ID = select(*_REGISTER.selected_columns).where(Register.id == bindparam("id"))


def _suffixed(name: str, attempt: int) -> str:
    return name if attempt == 1 else f"{name} ({attempt})"


class Resolver:
    """Looks up and creates devices and registers for one ingest transaction."""

    def __init__(self, session: Session, clock: Clock, actor: Actor, *, dry_run: bool) -> None:
        self.session = session
        self.clock = clock
        self.actor = actor
        self.dry_run = dry_run

    def resolve(self, address: Address, *, lock: bool = False) -> Resolved:
        """The device and register of `address`, created when missing (see the module doc).

        With `lock`, an existing register's row is locked by the look-up itself and its latest
        reading returned in `Resolved.latest` (a caller storing one series needs nothing else).
        """
        self._check_texts(address)
        found = self._find_both(address, lock)
        if found is not None:
            return found
        device, device_created = self._device(address)
        if device is None:
            self.actor.require_scope("register")
            return Resolved(None, device_created, None, True)
        register, register_created = self._register(device, address)
        return Resolved(device, device_created, register, register_created)

    def _check_texts(self, address: Address) -> None:
        base = address.pointer
        for text, member, limit in (
            (address.device_reference, "deviceReference", MAX_REFERENCE),
            (address.device_name, "deviceName", MAX_NAME),
            (address.register_reference, "registerReference", MAX_REFERENCE),
            (address.register_name, "registerName", MAX_NAME),
        ):
            if text is not None:
                check_text(text, f"{base}/{member}", limit)

    def _find_both(self, address: Address, lock: bool) -> Resolved | None:
        """Device and register when both exist, in one statement; None otherwise."""
        by_device_reference, device_key = _lookup(address.device_reference, address.device_name)
        by_register_reference, register_key = _lookup(address.register_reference, address.register_name)
        params = {
            "organization_id": self.actor.organization_id,
            "device_reference" if by_device_reference else "device_name": device_key,
            "register_reference" if by_register_reference else "register_name": register_key,
        }
        statement = _FIND_BOTH[(by_device_reference, by_register_reference, lock)]
        row = self.session.connection().execute(statement, params).first()
        if row is None:
            return None
        device = DeviceRef(row[0], row[1], row[2])
        register = _register_ref(row[3:10])
        return Resolved(device, False, register, False, (row[10], row[11]) if lock else None)

    # -- devices ----------------------------------------------------------------------------------
    def _find_device(self, reference: str | None, name: str | None) -> DeviceRef | None:
        by_reference, key = _lookup(reference, name)
        params = {"organization_id": self.actor.organization_id, "reference" if by_reference else "name": key}
        row = self.session.connection().execute(_FIND_DEVICE[by_reference], params).first()
        return None if row is None else DeviceRef(row[0], row[1], row[2])

    def _device(self, address: Address) -> tuple[DeviceRef | None, bool]:
        reference, name = address.device_reference, address.device_name
        found = self._find_device(reference, name)
        if found is not None:
            return found, False
        self.actor.require_scope("device")
        if self.dry_run:
            return None, True
        base = name if name is not None else reference
        assert base is not None
        now = self.clock.now()
        for attempt in range(1, MAX_SUFFIX + 1):
            candidate = _suffixed(base, attempt)[:MAX_NAME]
            new_id = uuid.uuid4()
            inserted = insert_ignoring_conflicts(
                self.session,
                Device.__table__,
                {
                    "id": new_id,
                    "organization_id": self.actor.organization_id,
                    "name": candidate,
                    "name_normalized": normalize_name(candidate),
                    "reference": reference,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if inserted:
                return DeviceRef(new_id, candidate, reference), True
            # Another device holds the reference (created concurrently: use it) or the name.
            found = self._find_device(reference, name)
            if found is not None:
                return found, False
        raise AssertionError("no free device name")  # pragma: no cover

    # -- registers --------------------------------------------------------------------------------
    def _find_register(
        self, device: DeviceRef, reference: str | None, name: str | None
    ) -> RegisterRef | None:
        by_reference, key = _lookup(reference, name)
        params = {"device_id": device.id, "reference" if by_reference else "name": key}
        row = self.session.connection().execute(_FIND_REGISTER[by_reference], params).first()
        return None if row is None else _register_ref(row)

    def _register(self, device: DeviceRef, address: Address) -> tuple[RegisterRef | None, bool]:
        reference, name = address.register_reference, address.register_name
        found = self._find_register(device, reference, name)
        if found is not None:
            return found, False
        self.actor.require_scope("register")
        if self.dry_run:
            return None, True
        if address.unit is not None:
            check_text(address.unit, f"{address.pointer}/unit", 20)
        base = name if name is not None else reference
        assert base is not None
        now = self.clock.now()
        for attempt in range(1, MAX_SUFFIX + 1):
            candidate = _suffixed(base, attempt)[:MAX_NAME]
            new_id = uuid.uuid4()
            inserted = insert_ignoring_conflicts(
                self.session,
                Register.__table__,
                {
                    "id": new_id,
                    "organization_id": self.actor.organization_id,
                    "device_id": device.id,
                    "name": candidate,
                    "name_normalized": normalize_name(candidate),
                    "reference": reference,
                    "kind": address.kind or "counter",
                    "period": address.period or "PT15M",
                    "unit": address.unit or "Wh",
                    "obis_code": None,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            if inserted:
                return _register_ref(
                    self.session.connection().execute(_REGISTER_BY_ID, {"id": new_id}).one()
                ), True
            found = self._find_register(device, reference, name)
            if found is not None:
                return found, False
        raise AssertionError("no free register name")  # pragma: no cover
