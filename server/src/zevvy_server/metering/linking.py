"""Bulk assignment ("linking"): rows of device reference, register reference, usage-unit
reference, cost type and validity, in one transaction.

Each row goes to the usage unit's measurement point of that cost type (`measurementPointName`
picks one when the unit has several), which is created when missing. Any unknown reference
answers 404 with the row's pointer and nothing is written; overlaps answer 409.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.metering.common import Actor
from zevvy_server.metering.errors import StructureNotFound, invalid
from zevvy_server.metering.models import Device, MeasurementPoint, Register, UsageUnit
from zevvy_server.metering.readings import parse_bound, zone
from zevvy_server.metering.schemas import BulkAssignmentRow
from zevvy_server.metering.structure import AssignmentView, StructureService

MAX_ROWS = 10_000
_DEFAULT_UNITS = {"water": "m3", "gas": "m3"}


class LinkingService:
    """Bulk assignment for the acting organization, within one transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.structure = StructureService(session, clock)

    def link(self, actor: Actor, rows: list[BulkAssignmentRow]) -> list[AssignmentView]:
        """Assign every row's register to its point; all or nothing."""
        actor.require_writer()
        if len(rows) > MAX_ROWS:
            raise invalid("", "too_many_rows", f"at most {MAX_ROWS} rows per request")
        result = []
        for index, row in enumerate(rows):
            at = f"/{index}"
            register = self._register(actor, row, at)
            unit = self.session.scalar(
                select(UsageUnit).where(
                    UsageUnit.organization_id == actor.organization_id,
                    UsageUnit.reference == row.usage_unit_reference,
                )
            )
            if unit is None:
                raise _missing("usage unit", f"{at}/usageUnitReference")
            point = self._point(actor, unit, row)
            tz = zone(row.time_zone, f"{at}/timeZone")
            valid_from = parse_bound(row.valid_from, tz, f"{at}/validFrom")
            valid_to = None if row.valid_to is None else parse_bound(row.valid_to, tz, f"{at}/validTo")
            locked = self.session.scalar(
                select(Register).where(Register.key == register.key).with_for_update()
            )
            assert locked is not None
            result.append(self.structure.insert_assignment(actor, point, locked, valid_from, valid_to, at))
        return result

    def _register(self, actor: Actor, row: BulkAssignmentRow, at: str) -> Register:
        device = self.session.scalar(
            select(Device).where(
                Device.organization_id == actor.organization_id, Device.reference == row.device_reference
            )
        )
        if device is None:
            raise _missing("device", f"{at}/deviceReference")
        register = self.session.scalar(
            select(Register).where(
                Register.device_id == device.id, Register.reference == row.register_reference
            )
        )
        if register is None:
            raise _missing("register", f"{at}/registerReference")
        return register

    def _point(self, actor: Actor, unit: UsageUnit, row: BulkAssignmentRow) -> MeasurementPoint:
        query = select(MeasurementPoint).where(
            MeasurementPoint.usage_unit_id == unit.id, MeasurementPoint.cost_type == row.cost_type
        )
        if row.measurement_point_name is not None:
            query = query.where(MeasurementPoint.name == row.measurement_point_name)
        point = self.session.scalars(query.order_by(MeasurementPoint.name)).first()
        if point is not None:
            return point
        now = self.clock.now()
        point = MeasurementPoint(
            organization_id=actor.organization_id,
            usage_unit_id=unit.id,
            name=row.measurement_point_name or row.cost_type,
            cost_type=row.cost_type,
            unit=_DEFAULT_UNITS.get(row.cost_type, "kWh"),
            created_at=now,
            updated_at=now,
        )
        self.session.add(point)
        self.session.flush()
        return point


def _missing(what: str, pointer: str) -> StructureNotFound:
    return StructureNotFound(
        f"No {what} with this reference.", details=[{"pointer": pointer, "problem": "not_found"}]
    )
