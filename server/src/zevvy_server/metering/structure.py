"""Properties → usage units → measurement points, and registers assigned to points over time.

A register may feed one point at a time: its assignments never overlap (409
`assignment_overlap`); a point may have several registers at once (high and low tariff).
Validity periods are half-open [validFrom, validTo); validTo absent means open-ended. Deleting a
property or usage unit that still has children is refused (409 `in_use`); deleting a point
removes its assignments (audited).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from msgspec import UnsetType
from sqlalchemy import delete, desc, func, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.metering.common import (
    MAX_NAME,
    MAX_REFERENCE,
    Actor,
    Page,
    check_limit,
    check_text,
    decode_cursor,
    encode_cursor,
)
from zevvy_server.metering.errors import AssignmentOverlap, InUse, ReferenceTaken, StructureNotFound, invalid
from zevvy_server.metering.models import (
    COST_TYPES,
    Assignment,
    MeasurementPoint,
    Property,
    Register,
    UsageUnit,
)
from zevvy_server.metering.readings import parse_bound, zone
from zevvy_server.metering.schemas import (
    AssignmentIn,
    AssignmentPatch,
    MeasurementPointIn,
    MeasurementPointPatch,
    PropertyIn,
    PropertyPatch,
    UsageUnitIn,
    UsageUnitPatch,
)

Row = Property | UsageUnit | MeasurementPoint


@dataclass(frozen=True)
class AssignmentView:
    """An assignment with the public ids of its register and device."""

    assignment: Assignment
    register_id: uuid.UUID
    device_id: uuid.UUID


def _text_or_none(value: str | None, pointer: str, limit: int) -> str | None:
    return None if value is None else check_text(value, pointer, limit)


class StructureService:
    """Properties, usage units, measurement points and assignments of the acting organization."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    # -- generic ----------------------------------------------------------------------------------
    def _get(
        self, model: type[Any], actor: Actor, row_id: uuid.UUID, what: str, *, lock: bool = False
    ) -> Any:
        query = select(model).where(model.id == row_id, model.organization_id == actor.organization_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise StructureNotFound(f"No such {what}.")
        return row

    def _list(
        self, model: type[Any], actor: Actor, kind: str, limit: int | None, cursor: str | None, *filters: Any
    ) -> Page[Any]:
        size = check_limit(limit)
        after = decode_cursor(kind, cursor, str, str)
        query = select(model).where(model.organization_id == actor.organization_id, *filters)
        if after is not None:
            try:
                last_id = uuid.UUID(after[1])
            except ValueError:
                raise invalid(
                    "/cursor", "invalid_cursor", "the cursor does not belong to this list"
                ) from None
            query = query.where((model.name > after[0]) | ((model.name == after[0]) & (model.id > last_id)))
        rows = list(self.session.scalars(query.order_by(model.name, model.id).limit(size + 1)))
        items = rows[:size]
        next_cursor = encode_cursor(kind, [items[-1].name, str(items[-1].id)]) if len(rows) > size else None
        return Page(items, next_cursor)

    def _reference_free(
        self, model: type[Any], actor: Actor, reference: str | None, own: uuid.UUID | None
    ) -> None:
        if reference is None:
            return
        taken = self.session.scalar(
            select(model).where(model.organization_id == actor.organization_id, model.reference == reference)
        )
        if taken is not None and taken.id != own:
            raise ReferenceTaken(str(taken.id))

    def _touch(self, row: Row) -> None:
        row.updated_at = self.clock.now()
        self.session.flush()

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        IdentityService(self.session, self.clock).audit(
            action,
            organization_id=actor.organization_id,
            user_id=actor.user_id,
            client_id=actor.client_id,
            target=target,
            details=details,
        )

    # -- properties -------------------------------------------------------------------------------
    def property(self, actor: Actor, property_id: uuid.UUID) -> Property:
        """A property, or 404."""
        row: Property = self._get(Property, actor, property_id, "property")
        return row

    def properties(self, actor: Actor, *, limit: int | None, cursor: str | None) -> Page[Property]:
        """Properties by name."""
        return self._list(Property, actor, "properties", limit, cursor)

    def create_property(self, actor: Actor, data: PropertyIn) -> Property:
        """A new property; references are unique in the organization."""
        actor.require_writer()
        reference = _text_or_none(data.reference, "/reference", MAX_REFERENCE)
        self._reference_free(Property, actor, reference, None)
        now = self.clock.now()
        row = Property(
            organization_id=actor.organization_id,
            name=check_text(data.name, "/name", MAX_NAME),
            reference=reference,
            address=_text_or_none(data.address, "/address", 500),
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def update_property(self, actor: Actor, property_id: uuid.UUID, patch: PropertyPatch) -> Property:
        """Apply a merge patch."""
        actor.require_writer()
        row = self._get(Property, actor, property_id, "property", lock=True)
        if isinstance(patch.name, str):
            row.name = check_text(patch.name, "/name", MAX_NAME)
        if not isinstance(patch.reference, UnsetType):
            reference = _text_or_none(patch.reference, "/reference", MAX_REFERENCE)
            self._reference_free(Property, actor, reference, row.id)
            row.reference = reference
        if not isinstance(patch.address, UnsetType):
            row.address = _text_or_none(patch.address, "/address", 500)
        self._touch(row)
        return row  # type: ignore[no-any-return]

    def delete_property(self, actor: Actor, property_id: uuid.UUID) -> None:
        """Delete a property without usage units (409 `in_use` otherwise)."""
        actor.require_writer()
        row = self._get(Property, actor, property_id, "property", lock=True)
        units = self.session.scalar(select(func.count()).where(UsageUnit.property_id == row.id)) or 0
        if units:
            raise InUse(f"The property has {units} usage unit(s); delete them first.")
        self.session.delete(row)
        self._audit(actor, "property.deleted", f"property:{row.id}", {"name": row.name})

    # -- usage units ------------------------------------------------------------------------------
    def usage_unit(self, actor: Actor, unit_id: uuid.UUID) -> UsageUnit:
        """A usage unit, or 404."""
        row: UsageUnit = self._get(UsageUnit, actor, unit_id, "usage unit")
        return row

    def usage_units(
        self, actor: Actor, *, property_id: uuid.UUID | None, limit: int | None, cursor: str | None
    ) -> Page[UsageUnit]:
        """Usage units by name, optionally of one property."""
        filters = [] if property_id is None else [UsageUnit.property_id == property_id]
        return self._list(UsageUnit, actor, "usage-units", limit, cursor, *filters)

    def create_usage_unit(self, actor: Actor, data: UsageUnitIn) -> UsageUnit:
        """A new usage unit of a property of the organization."""
        actor.require_writer()
        parent = self._get(Property, actor, data.property_id, "property")
        reference = _text_or_none(data.reference, "/reference", MAX_REFERENCE)
        self._reference_free(UsageUnit, actor, reference, None)
        now = self.clock.now()
        row = UsageUnit(
            organization_id=actor.organization_id,
            property_id=parent.id,
            name=check_text(data.name, "/name", MAX_NAME),
            reference=reference,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def update_usage_unit(self, actor: Actor, unit_id: uuid.UUID, patch: UsageUnitPatch) -> UsageUnit:
        """Apply a merge patch."""
        actor.require_writer()
        row = self._get(UsageUnit, actor, unit_id, "usage unit", lock=True)
        if isinstance(patch.name, str):
            row.name = check_text(patch.name, "/name", MAX_NAME)
        if not isinstance(patch.reference, UnsetType):
            reference = _text_or_none(patch.reference, "/reference", MAX_REFERENCE)
            self._reference_free(UsageUnit, actor, reference, row.id)
            row.reference = reference
        self._touch(row)
        return row  # type: ignore[no-any-return]

    def delete_usage_unit(self, actor: Actor, unit_id: uuid.UUID) -> None:
        """Delete a usage unit without measurement points (409 `in_use` otherwise)."""
        actor.require_writer()
        row = self._get(UsageUnit, actor, unit_id, "usage unit", lock=True)
        points = (
            self.session.scalar(select(func.count()).where(MeasurementPoint.usage_unit_id == row.id)) or 0
        )
        if points:
            raise InUse(f"The usage unit has {points} measurement point(s); delete them first.")
        self.session.delete(row)
        self._audit(actor, "usage_unit.deleted", f"usage_unit:{row.id}", {"name": row.name})

    # -- measurement points -----------------------------------------------------------------------
    def point(self, actor: Actor, point_id: uuid.UUID) -> MeasurementPoint:
        """A measurement point, or 404."""
        row: MeasurementPoint = self._get(MeasurementPoint, actor, point_id, "measurement point")
        return row

    def points(
        self, actor: Actor, *, usage_unit_id: uuid.UUID | None, limit: int | None, cursor: str | None
    ) -> Page[MeasurementPoint]:
        """Measurement points by name, optionally of one usage unit."""
        filters = [] if usage_unit_id is None else [MeasurementPoint.usage_unit_id == usage_unit_id]
        return self._list(MeasurementPoint, actor, "measurement-points", limit, cursor, *filters)

    def create_point(self, actor: Actor, data: MeasurementPointIn) -> MeasurementPoint:
        """A new measurement point of a usage unit."""
        actor.require_writer()
        parent = self._get(UsageUnit, actor, data.usage_unit_id, "usage unit")
        now = self.clock.now()
        row = MeasurementPoint(
            organization_id=actor.organization_id,
            usage_unit_id=parent.id,
            name=check_text(data.name, "/name", MAX_NAME),
            cost_type=_cost_type(data.cost_type),
            unit=check_text(data.unit, "/unit", 20),
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def update_point(
        self, actor: Actor, point_id: uuid.UUID, patch: MeasurementPointPatch
    ) -> MeasurementPoint:
        """Apply a merge patch."""
        actor.require_writer()
        row = self._get(MeasurementPoint, actor, point_id, "measurement point", lock=True)
        if isinstance(patch.name, str):
            row.name = check_text(patch.name, "/name", MAX_NAME)
        if isinstance(patch.cost_type, str):
            row.cost_type = _cost_type(patch.cost_type)
        if isinstance(patch.unit, str):
            row.unit = check_text(patch.unit, "/unit", 20)
        self._touch(row)
        return row  # type: ignore[no-any-return]

    def delete_point(self, actor: Actor, point_id: uuid.UUID) -> None:
        """Delete a measurement point and its assignments (audited)."""
        actor.require_writer()
        row = self._get(MeasurementPoint, actor, point_id, "measurement point", lock=True)
        removed = self.session.execute(delete(Assignment).where(Assignment.measurement_point_id == row.id))
        self.session.delete(row)
        self._audit(
            actor,
            "measurement_point.deleted",
            f"measurement_point:{row.id}",
            {"name": row.name, "assignments": removed.rowcount},  # type: ignore[attr-defined]
        )

    # -- assignments ------------------------------------------------------------------------------
    def assignments(
        self, actor: Actor, point_id: uuid.UUID, *, limit: int | None, cursor: str | None
    ) -> Page[AssignmentView]:
        """A point's assignments, latest validFrom first."""
        point = self.point(actor, point_id)
        size = check_limit(limit)
        after = decode_cursor("assignments", cursor, int, str)
        query = (
            select(Assignment, Register.id, Register.device_id)
            .join(Register, Register.key == Assignment.register_key)
            .where(Assignment.measurement_point_id == point.id)
        )
        if after is not None:
            query = query.where(
                (Assignment.valid_from < after[0])
                | ((Assignment.valid_from == after[0]) & (Assignment.id < _cursor_uuid(after[1])))
            )
        rows = self.session.execute(
            query.order_by(desc(Assignment.valid_from), desc(Assignment.id)).limit(size + 1)
        ).all()
        views = [AssignmentView(r[0], r[1], r[2]) for r in rows[:size]]
        next_cursor = None
        if len(rows) > size:
            last = views[-1].assignment
            next_cursor = encode_cursor("assignments", [last.valid_from, str(last.id)])
        return Page(views, next_cursor)

    def assign(
        self, actor: Actor, point_id: uuid.UUID, items: list[AssignmentIn], pointer: str = ""
    ) -> list[AssignmentView]:
        """Assign registers to a point, each for [validFrom, validTo); 409 `assignment_overlap`
        when a register is assigned for part of that period already (to any point)."""
        actor.require_writer()
        point = self._get(MeasurementPoint, actor, point_id, "measurement point", lock=True)
        views = []
        for index, item in enumerate(items):
            at = f"{pointer}/{index}" if len(items) > 1 or pointer else ""
            register = self._register(actor, item.register_id, f"{at}/registerId")
            tz = zone(item.time_zone, f"{at}/timeZone")
            valid_from = parse_bound(item.valid_from, tz, f"{at}/validFrom")
            valid_to = None if item.valid_to is None else parse_bound(item.valid_to, tz, f"{at}/validTo")
            views.append(self.insert_assignment(actor, point, register, valid_from, valid_to, at))
        return views

    def _register(self, actor: Actor, register_id: uuid.UUID, pointer: str) -> Register:
        register = self.session.scalar(
            select(Register)
            .where(Register.id == register_id, Register.organization_id == actor.organization_id)
            .with_for_update()
        )
        if register is None:
            raise StructureNotFound(
                "No such register.", details=[{"pointer": pointer, "problem": "not_found"}]
            )
        return register

    def insert_assignment(
        self,
        actor: Actor,
        point: MeasurementPoint,
        register: Register,
        valid_from: int,
        valid_to: int | None,
        pointer: str,
        *,
        own: uuid.UUID | None = None,
    ) -> AssignmentView:
        if valid_to is not None and valid_to <= valid_from:
            raise invalid(f"{pointer}/validTo", "empty_range", "validTo must be after validFrom")
        filters = [
            Assignment.register_key == register.key,
            Assignment.valid_to.is_(None) | (Assignment.valid_to > valid_from),
        ]
        if valid_to is not None:
            filters.append(Assignment.valid_from < valid_to)
        if own is not None:
            filters.append(Assignment.id != own)
        overlapping = self.session.scalars(select(Assignment).where(*filters).limit(1)).first()
        if overlapping is not None:
            raise AssignmentOverlap(str(overlapping.id))
        now = self.clock.now()
        if own is None:
            row = Assignment(
                organization_id=actor.organization_id,
                measurement_point_id=point.id,
                register_key=register.key,
                valid_from=valid_from,
                valid_to=valid_to,
                created_at=now,
                updated_at=now,
            )
            self.session.add(row)
            action = "assignment.created"
        else:
            row = self.session.get_one(Assignment, own)
            row.valid_from, row.valid_to, row.updated_at = valid_from, valid_to, now
            action = "assignment.changed"
        self.session.flush()
        self._audit(
            actor,
            action,
            f"assignment:{row.id}",
            {
                "measurementPointId": str(point.id),
                "registerId": str(register.id),
                "validFrom": valid_from,
                "validTo": valid_to,
            },
        )
        return AssignmentView(row, register.id, register.device_id)

    def update_assignment(
        self, actor: Actor, assignment_id: uuid.UUID, patch: AssignmentPatch
    ) -> AssignmentView:
        """Move an assignment's period (same overlap rule)."""
        actor.require_writer()
        row = self._get(Assignment, actor, assignment_id, "assignment", lock=True)
        register = self.session.get_one(Register, row.register_key)
        point = self.session.get_one(MeasurementPoint, row.measurement_point_id)
        tz = zone(patch.time_zone)
        valid_from = (
            row.valid_from
            if isinstance(patch.valid_from, UnsetType)
            else parse_bound(patch.valid_from, tz, "/validFrom")
        )
        valid_to = row.valid_to
        if not isinstance(patch.valid_to, UnsetType):
            valid_to = None if patch.valid_to is None else parse_bound(patch.valid_to, tz, "/validTo")
        return self.insert_assignment(actor, point, register, valid_from, valid_to, "", own=row.id)

    def delete_assignment(self, actor: Actor, assignment_id: uuid.UUID) -> None:
        """Remove an assignment (audited)."""
        actor.require_writer()
        row = self._get(Assignment, actor, assignment_id, "assignment", lock=True)
        self.session.delete(row)
        self._audit(
            actor,
            "assignment.deleted",
            f"assignment:{row.id}",
            {
                "measurementPointId": str(row.measurement_point_id),
                "validFrom": row.valid_from,
                "validTo": row.valid_to,
            },
        )

    def assignment(self, actor: Actor, assignment_id: uuid.UUID) -> AssignmentView:
        """One assignment, or 404."""
        row = self._get(Assignment, actor, assignment_id, "assignment")
        register = self.session.get_one(Register, row.register_key)
        return AssignmentView(row, register.id, register.device_id)


def _cost_type(value: str) -> str:
    if value not in COST_TYPES:
        raise invalid("/costType", "invalid_cost_type", "costType must be one of " + ", ".join(COST_TYPES))
    return value


def _cursor_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise invalid("/cursor", "invalid_cursor", "the cursor does not belong to this list") from None
