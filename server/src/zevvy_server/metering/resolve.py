"""Finding the device and register a series of readings goes to, creating what is missing.

Creation is "insert or fetch": the row is inserted with ON CONFLICT DO NOTHING and, when another
transaction got there first, the existing row is used, so concurrent requests never create a
device or register twice. Creating needs the `device` / `register` scope; without it the request
fails with 403 naming the scope (and its transaction writes nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
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


@dataclass
class Resolved:
    """The device and register of a series, and whether this request created them.

    In a dry run nothing is created: `device`/`register` stay None where they would be.
    """

    device: Device | None
    device_created: bool
    register: Register | None
    register_created: bool


def _suffixed(name: str, attempt: int) -> str:
    return name if attempt == 1 else f"{name} ({attempt})"


class Resolver:
    """Looks up and creates devices and registers for one ingest transaction."""

    def __init__(self, session: Session, clock: Clock, actor: Actor, *, dry_run: bool) -> None:
        self.session = session
        self.clock = clock
        self.actor = actor
        self.dry_run = dry_run

    def resolve(self, address: Address) -> Resolved:
        """The device and register of `address`, created when missing (see the module doc)."""
        device, device_created = self._device(address)
        if device is None:
            self.actor.require_scope("register")
            return Resolved(None, device_created, None, True)
        register, register_created = self._register(device, address)
        return Resolved(device, device_created, register, register_created)

    # -- devices ----------------------------------------------------------------------------------
    def _find_device(self, reference: str | None, name: str | None) -> Device | None:
        query = select(Device).where(Device.organization_id == self.actor.organization_id)
        if reference is not None:
            query = query.where(Device.reference == reference)
        else:
            assert name is not None
            query = query.where(Device.name_normalized == normalize_name(name))
        return self.session.scalar(query)

    def _device(self, address: Address) -> tuple[Device | None, bool]:
        reference, name = address.device_reference, address.device_name
        if reference is not None:
            check_text(reference, f"{address.pointer}/deviceReference", MAX_REFERENCE)
        if name is not None:
            check_text(name, f"{address.pointer}/deviceName", MAX_NAME)
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
                device = self.session.get(Device, new_id)
                assert device is not None
                return device, True
            # Another device holds the reference (created concurrently: use it) or the name.
            found = self._find_device(reference, name)
            if found is not None:
                return found, False
        raise AssertionError("no free device name")  # pragma: no cover

    # -- registers --------------------------------------------------------------------------------
    def _find_register(self, device: Device, reference: str | None, name: str | None) -> Register | None:
        query = select(Register).where(Register.device_id == device.id)
        if reference is not None:
            query = query.where(Register.reference == reference)
        else:
            assert name is not None
            query = query.where(Register.name_normalized == normalize_name(name))
        return self.session.scalar(query)

    def _register(self, device: Device, address: Address) -> tuple[Register | None, bool]:
        reference, name = address.register_reference, address.register_name
        if reference is not None:
            check_text(reference, f"{address.pointer}/registerReference", MAX_REFERENCE)
        if name is not None:
            check_text(name, f"{address.pointer}/registerName", MAX_NAME)
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
                register = self.session.scalar(select(Register).where(Register.id == new_id))
                assert register is not None
                return register, True
            found = self._find_register(device, reference, name)
            if found is not None:
                return found, False
        raise AssertionError("no free register name")  # pragma: no cover
