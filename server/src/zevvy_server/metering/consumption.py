"""Consumption per time bucket of a register or a measurement point (the database side).

The maths lives in `aggregation` (pure, exact); this module fetches just the readings it needs —
for counters the readings inside the range plus the one on each side, so edges interpolate — and,
for a measurement point, joins its registers over their assignment periods: each register counts
only within [validFrom, validTo), so a meter swapped mid-month still gives the right monthly total.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import tzinfo
from fractions import Fraction
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.metering import aggregation, rollup, rowstore
from zevvy_server.metering.aggregation import Bucket, Interval
from zevvy_server.metering.common import Actor
from zevvy_server.metering.errors import invalid
from zevvy_server.metering.ingest import GRID_ZONE
from zevvy_server.metering.models import Assignment, MeasurementPoint, Register
from zevvy_server.metering.periods import parse_period
from zevvy_server.metering.readings import parse_bound, zone
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.structure import StructureService

INTERVALS: tuple[Interval, ...] = ("15min", "hour", "day", "month", "year")
# Intervals whose edges `aggregation.bucket_edges` puts at local midnights, by construction.
DAY_INTERVALS = frozenset({"day", "month", "year"})
MAX_BUCKETS = 100_000

# Exact factors between units of one quantity, for a point fed by registers in other units.
_FACTORS: dict[str, tuple[str, int]] = {
    "Wh": ("energy", 1),
    "kWh": ("energy", 1_000),
    "MWh": ("energy", 1_000_000),
    "GWh": ("energy", 1_000_000_000),
    "varh": ("reactive", 1),
    "kvarh": ("reactive", 1_000),
    "l": ("volume", 1),
    "m3": ("volume", 1_000),
    "m³": ("volume", 1_000),
}


def conversion(source: str, target: str) -> Fraction | None:
    """The exact factor from `source` to `target` units, or None when they do not convert."""
    if source == target:
        return Fraction(1)
    a, b = _FACTORS.get(source), _FACTORS.get(target)
    if a is None or b is None or a[0] != b[0]:
        return None
    return Fraction(a[1], b[1])


@dataclass(frozen=True)
class Consumption:
    """Buckets over [from_us, to_us) in `unit`; `total` is their sum when every one is known."""

    register_id: uuid.UUID | None
    point_id: uuid.UUID | None
    unit: str
    interval: str
    time_zone: str
    from_us: int
    to_us: int
    buckets: list[Bucket]

    @property
    def total(self) -> int | None:
        """The exact sum, or None when any bucket is unknown (or there is none)."""
        if not self.buckets or any(b.value is None for b in self.buckets):
            return None
        return sum(b.value for b in self.buckets if b.value is not None)


class ConsumptionService:
    """Consumption of the acting organization's registers and measurement points."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock

    def _edges(self, from_text: str, to_text: str, interval: str, tz: tzinfo) -> list[int]:
        if interval not in INTERVALS:
            raise invalid("/interval", "invalid_interval", "interval must be 15min, hour, day, month or year")
        low, high = parse_bound(from_text, tz, "/from"), parse_bound(to_text, tz, "/to")
        if low >= high:
            raise invalid("/to", "empty_range", "`to` must be after `from`")
        try:
            return aggregation.bucket_edges(low, high, interval, tz, max_buckets=MAX_BUCKETS)
        except aggregation.TooManyBuckets as exc:
            raise invalid(
                "/interval",
                "too_many_buckets",
                f"at most {MAX_BUCKETS} buckets per request ({exc.count}+ asked)",
            ) from None
        except ValueError as exc:
            raise invalid("/to", "invalid_range", str(exc)) from None

    def register(
        self,
        actor: Actor,
        register_id: uuid.UUID,
        *,
        from_text: str,
        to_text: str,
        interval: str,
        time_zone: str,
    ) -> Consumption:
        """Consumption of one register per bucket."""
        tz = zone(time_zone)
        register = RegisterService(self.session, self.clock).get(actor, register_id)
        edges = self._edges(from_text, to_text, interval, tz)
        buckets = self._buckets(register, edges, tz, interval)
        return Consumption(
            register.id, None, register.unit, interval, time_zone, edges[0], edges[-1], buckets
        )

    def point(
        self,
        actor: Actor,
        point_id: uuid.UUID,
        *,
        from_text: str,
        to_text: str,
        interval: str,
        time_zone: str,
    ) -> Consumption:
        """Consumption of a measurement point: its registers, each within its assignment periods,
        summed per bucket in the point's unit."""
        tz = zone(time_zone)
        point: MeasurementPoint = StructureService(self.session, self.clock).point(actor, point_id)
        edges = self._edges(from_text, to_text, interval, tz)
        rows = self.session.execute(
            select(Assignment, Register)
            .join(Register, Register.key == Assignment.register_key)
            .where(
                Assignment.measurement_point_id == point.id,
                Assignment.valid_from < edges[-1],
                Assignment.valid_to.is_(None) | (Assignment.valid_to > edges[0]),
            )
            .order_by(Assignment.valid_from)
        ).all()
        parts: list[list[Bucket]] = [[] for _ in range(len(edges) - 1)]
        for assignment, register in rows:
            factor = conversion(register.unit, point.unit)
            if factor is None:
                raise invalid(
                    "/unit",
                    "unit_mismatch",
                    f"register unit {register.unit} does not convert to {point.unit}",
                )
            low = max(assignment.valid_from, edges[0])
            high = edges[-1] if assignment.valid_to is None else min(assignment.valid_to, edges[-1])
            inner = [e for e in edges if low < e < high]
            for sub in self._buckets(register, [low, *inner, high], tz, interval):
                index = bisect_right(edges, sub.from_us) - 1
                parts[index].append(_scaled(sub, factor))
        buckets = [_combine(a, b, group) for (a, b), group in zip(pairwise(edges), parts, strict=True)]
        return Consumption(None, point.id, point.unit, interval, time_zone, edges[0], edges[-1], buckets)

    def _buckets(self, register: Register, edges: list[int], tz: tzinfo, interval: str) -> list[Bucket]:
        period = parse_period(register.period)
        now_us = int(self.clock.time() * 1_000_000)
        low, high = edges[0], edges[-1]
        if register.kind == "interval":
            instants, values = rowstore.read_readings(self.session, register.key, low + 1, high + 1)
            return aggregation.interval_consumption(
                instants, values, edges, period.seconds, now_us=now_us, tz=GRID_ZONE
            )
        # Edges between the ends are bucket edges: whole days for day, month and year. The ends
        # may be a point's assignment bounds, which can fall inside a day.
        if interval in DAY_INTERVALS and rollup.covers((low, high), tz):
            days = rollup.days_for(self.session, register.key, low, high)
            if days is not None:
                return rollup.counter_buckets(*days, edges, period.seconds, now_us, tz=GRID_ZONE)
        before = rowstore.neighbour(self.session, register.key, low, before=True)
        after = rowstore.neighbour(self.session, register.key, high, before=False)
        start = before[0] if before is not None else low
        end = after[0] if after is not None else high
        instants, values = rowstore.read_readings(self.session, register.key, start, end + 1)
        return aggregation.counter_consumption(instants, values, edges, period.seconds, now_us, tz=GRID_ZONE)


def _scaled(bucket: Bucket, factor: Fraction) -> Bucket:
    if factor == 1 or bucket.value is None:
        return bucket
    exact = bucket.value * factor
    value = round(exact)  # Fraction rounds half to even
    return Bucket(
        bucket.from_us,
        bucket.to_us,
        value,
        bucket.estimated or value != exact,
        bucket.partial,
        bucket.resets,
        bucket.expected_slots,
        bucket.received_slots,
    )


def _combine(start: int, end: int, group: list[Bucket]) -> Bucket:
    """One bucket of a point from its registers' pieces; unknown when a piece is, or none exists."""
    if not group:
        return Bucket(start, end, None, False, False, 0, 0, 0)
    unknown = any(b.value is None for b in group)
    return Bucket(
        start,
        end,
        None if unknown else sum(b.value for b in group if b.value is not None),
        any(b.estimated for b in group),
        any(b.partial for b in group),
        sum(b.resets for b in group),
        sum(b.expected_slots for b in group),
        sum(b.received_slots for b in group),
    )
