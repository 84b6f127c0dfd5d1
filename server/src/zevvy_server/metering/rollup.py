"""Per-register daily summaries of the stored readings, for fast and exact consumption.

One row per register and local day (Europe/Zurich, the zone buckets are cut in by default) that
holds readings: how many, the first and the last reading, the resets inside the day and what
they add to the consumption curve (see `aggregation`). Rows are written in the transaction that
changes the readings, so they always describe exactly what is stored:

* readings appended after every stored one merge into the last day's row and new rows;
* anything else (late data, an overwrite, an accepted conflict) rebuilds the touched days from
  the stored readings.

`counter_buckets` turns the rows into the very buckets `aggregation.counter_consumption` computes
from the raw readings — same origin, same rounding, same flags — for buckets made of whole
summary days (day, month and year in the summaries' zone). Everything else, and a day whose
resets add more than a 64-bit column holds (then stored as null), uses the raw readings.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, timedelta, tzinfo
from itertools import pairwise
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy.orm import Session

from zevvy_server.metering import aggregation
from zevvy_server.metering.aggregation import Bucket
from zevvy_server.metering.periods import local_date, local_day_start
from zevvy_server.metering.rowinsert import insert_rows
from zevvy_server.metering.rowstore import driver

ZONE: Final = ZoneInfo("Europe/Zurich")
ZONE_NAME: Final = "Europe/Zurich"
_INT64: Final = 2**63


class Day(msgspec.Struct, frozen=True, gc=False):
    """The summary of one register's readings in one local day."""

    # A msgspec struct, not a frozen dataclass: a year's query builds 367 of these, and the
    # dataclass's field-by-field `__init__` took an eighth of a month query's time.

    start: int  # the day's first instant (local midnight), epoch µs
    readings: int
    first_at: int
    first_value: int
    last_at: int
    last_value: int
    resets: int  # decreases between consecutive readings of this day
    extra: int | None  # what those resets add over the plain difference; None when too large


def _extra(previous: int, value: int) -> int:
    # A reset counts the new reading instead of the (negative) difference.
    return max(value, 0) - value + previous


def _day_starts(low: int, high: int, tz: tzinfo) -> list[int]:
    """Starts of the local days from the one holding `low` to the one after `high`."""
    day = local_date(low, tz)
    last = local_date(high, tz)
    starts = []
    while day <= last + timedelta(days=1):
        starts.append(local_day_start(day, tz))
        day += timedelta(days=1)
    return starts


def summarize(instants: Sequence[int], values: Sequence[int], tz: tzinfo = ZONE) -> list[Day]:
    """Day summaries of ascending readings."""
    if not instants:
        return []
    starts = _day_starts(instants[0], instants[-1], tz)
    resets = aggregation.reset_positions(values)
    days = []
    for start, end in pairwise(starts):
        low, high = bisect_left(instants, start), bisect_left(instants, end)
        if low == high:
            continue
        inside = resets[bisect_right(resets, low) : bisect_left(resets, high)]
        extra = sum(_extra(values[k - 1], values[k]) for k in inside)
        days.append(
            Day(
                start,
                high - low,
                instants[low],
                values[low],
                instants[high - 1],
                values[high - 1],
                len(inside),
                extra if -_INT64 <= extra < _INT64 else None,
            )
        )
    return days


def _merge(old: Day, new: Day) -> Day:
    """`new` (readings all after `old`'s, same day) appended to `old`."""
    resets, extra = old.resets + new.resets, None
    if old.extra is not None and new.extra is not None:
        extra = old.extra + new.extra
        if old.last_value > new.first_value:
            resets += 1
            extra += _extra(old.last_value, new.first_value)
    elif old.last_value > new.first_value:
        resets += 1
    if extra is not None and not -_INT64 <= extra < _INT64:
        extra = None
    return Day(
        old.start,
        old.readings + new.readings,
        old.first_at,
        old.first_value,
        new.last_at,
        new.last_value,
        resets,
        extra,
    )


# -- storage --------------------------------------------------------------------------------------

_COLUMN_NAMES: Final = (
    "register_key",
    "day_start",
    "readings",
    "first_at",
    "first_value",
    "last_at",
    "last_value",
    "resets",
    "extra",
)
_PG_TYPES: Final = ("int8", "int8", "int4", "int8", "int8", "int8", "int8", "int4", "int8")


def _native(sql: str, is_pg: bool) -> str:
    """`sql` written with ``?`` placeholders, in the driver's own style."""
    return sql.replace("?", "%s") if is_pg else sql


def _rows(session: Session, sql: str, params: Sequence[Any]) -> list[Day]:
    raw, is_pg = driver(session)
    cursor = raw.cursor()
    try:
        cursor.execute(_native(sql, is_pg), params)
        return [Day(*row) for row in cursor.fetchall()]
    finally:
        cursor.close()


_SELECT = (
    "SELECT day_start, readings, first_at, first_value, last_at, last_value, resets, extra"
    " FROM measurement_days"
)


def _row(key: int, d: Day) -> tuple[int | None, ...]:
    return (key, d.start, d.readings, d.first_at, d.first_value, d.last_at, d.last_value, d.resets, d.extra)


def _insert(raw: Any, is_pg: bool, key: int, days: list[Day]) -> None:
    insert_rows(raw, is_pg, "measurement_days", _COLUMN_NAMES, _PG_TYPES, [_row(key, d) for d in days])


_DELETE = "DELETE FROM measurement_days WHERE register_key = ? AND day_start >= ? AND day_start < ?"


def _write(session: Session, key: int, low: int, high: int, days: list[Day]) -> None:
    """Replace the rows of days starting in [low, high) by `days`."""
    raw, is_pg = driver(session)
    raw.execute(_native(_DELETE, is_pg), (key, low, high))
    _insert(raw, is_pg, key, days)


_UPDATE = (
    "UPDATE measurement_days SET readings = ?, first_at = ?, first_value = ?, last_at = ?,"
    " last_value = ?, resets = ?, extra = ? WHERE register_key = ? AND day_start = ?"
)


def appended(session: Session, key: int, days: list[Day]) -> None:
    """Readings were stored after every reading the register had: merge their summaries
    (`summarize(readings)`) in.

    Only the first of their days can have a row already (none of the register's readings is
    later); it is updated in place, the later days are inserted. An update keeps the row where it
    is (on PostgreSQL a heap-only update: no new index entry), where deleting and inserting it
    again for every live reading would leave a dead row behind each time.
    """
    if not days:
        return
    first = days[0]
    existing = _rows(session, f"{_SELECT} WHERE register_key = ? AND day_start = ?", (key, first.start))
    raw, is_pg = driver(session)
    if existing:
        merged = _merge(existing[0], first)
        params = (*_row(key, merged)[2:], key, merged.start)
        raw.execute(_native(_UPDATE, is_pg), params)
        days = days[1:]
    _insert(raw, is_pg, key, days)


def rebuild(session: Session, key: int, low: int, high: int) -> None:
    """Readings in [low, high] changed in any way: rebuild the days that hold them."""
    from zevvy_server.metering import rowstore

    start = local_day_start(local_date(low, ZONE), ZONE)
    end = local_day_start(local_date(high, ZONE) + timedelta(days=1), ZONE)
    instants, values = rowstore.read_readings(session, key, start, end)
    _write(session, key, start, end, summarize(instants, values))


# -- consumption ----------------------------------------------------------------------------------


def covers(edges: Sequence[int], tz: tzinfo) -> bool:
    """Whether the buckets are whole days of the summaries' zone."""
    if getattr(tz, "key", None) != ZONE_NAME:
        return False
    return all(local_day_start(local_date(e, ZONE), ZONE) == e for e in edges)


# The day row before `low`, the rows in [low, high) and the row at or after `high`, in order.
# (A compound SELECT takes ORDER BY/LIMIT only on the whole; hence the inner SELECTs.)
_DAYS_AROUND: Final = (
    f"SELECT * FROM ({_SELECT} WHERE register_key = ? AND day_start < ?"
    " ORDER BY day_start DESC LIMIT 1) AS before_low"
    f" UNION ALL {_SELECT} WHERE register_key = ? AND day_start >= ? AND day_start < ?"
    f" UNION ALL SELECT * FROM ({_SELECT} WHERE register_key = ? AND day_start >= ?"
    " ORDER BY day_start LIMIT 1) AS from_high"
    " ORDER BY day_start"
)


def days_for(
    session: Session, key: int, low: int, high: int
) -> tuple[Day | None, list[Day], Day | None] | None:
    """The rows of days in [low, high) and the nearest row on each side; None when a row cannot
    serve (its resets overflowed). One statement: on PostgreSQL each is a round trip."""
    rows = _rows(session, _DAYS_AROUND, (key, low, key, low, high, key, high))
    before = rows[0] if rows and rows[0].start < low else None
    after = rows[-1] if rows and rows[-1].start >= high else None
    inside = rows[before is not None : len(rows) - (after is not None)]
    if any(d.extra is None for d in inside):
        return None
    return before, inside, after


def _step(previous: int, value: int) -> int:
    return value - previous if value >= previous else max(value, 0)


def counter_buckets(
    before: Day | None,
    inside: list[Day],
    after: Day | None,
    edges: Sequence[int],
    period_s: int,
    now_us: int,
    tz: tzinfo | None = None,
) -> list[Bucket]:
    """`aggregation.counter_consumption` of the readings these rows summarize, for buckets made
    of whole days; the same origin (the reading at or before the first edge) and rounding."""
    low = edges[0]
    if inside and inside[0].first_at == low:
        before = None  # the reading at the first edge is the origin; nothing earlier is read
    # Curve values at each day's first and last reading, from the origin (0); resets and readings
    # summed over the days before each (a reset between two days counts in the later one).
    firsts: list[int] = []
    lasts: list[int] = []
    resets_before = [0]
    readings_before = [0]
    previous_value: int | None = before.last_value if before is not None else None
    running = resets = readings = 0
    for day in inside:
        if previous_value is not None:
            running += _step(previous_value, day.first_value)
            resets += previous_value > day.first_value
        firsts.append(running)
        running += day.last_value - day.first_value + (day.extra or 0)
        lasts.append(running)
        previous_value = day.last_value
        resets += day.resets
        readings += day.readings
        resets_before.append(resets)
        readings_before.append(readings)
    after_curve = 0  # the first reading after the range is the origin when nothing comes before it
    if after is not None and previous_value is not None:
        after_curve = running + _step(previous_value, after.first_value)
    starts = [d.start for d in inside]
    # The first day starting at or after each edge: it holds the first reading at or after it.
    rights = [bisect_left(starts, edge) for edge in edges]

    def at(edge: int, right: int) -> tuple[int, bool] | None:
        if right < len(inside):
            right_at, right_curve = inside[right].first_at, firsts[right]
        elif after is not None:
            right_at, right_curve = after.first_at, after_curve
        else:
            return None
        if right_at == edge:
            return right_curve, True
        if right > 0:
            left_at, left_curve = inside[right - 1].last_at, lasts[right - 1]
        elif before is not None:
            left_at, left_curve = before.last_at, 0
        else:
            return None
        span = right_at - left_at
        total = left_curve * span + (right_curve - left_curve) * (edge - left_at)
        return aggregation._round_half_even(total, span), False

    slots = aggregation._slot_counts(edges, period_s, tz, closed_end=False)
    at_edges = list(map(at, edges, rights))
    buckets = []
    for position in range(len(edges) - 1):
        start, end = edges[position], edges[position + 1]
        first_day, end_day = rights[position], rights[position + 1]
        at_start, at_end = at_edges[position], at_edges[position + 1]
        value: int | None
        if at_start is not None and at_end is not None:
            value = at_end[0] - at_start[0]
            estimated = not (at_start[1] and at_end[1])
            partial = False
        else:
            has = first_day < end_day
            first = at_start[0] if at_start is not None else firsts[first_day] if has else None
            last = at_end[0] if at_end is not None else lasts[end_day - 1] if has else None
            value = None if first is None or last is None else last - first
            estimated = partial = value is not None
        buckets.append(
            Bucket(
                start,
                end,
                value,
                estimated,
                partial or end > now_us,
                resets_before[end_day] - resets_before[first_day],
                slots[position],
                readings_before[end_day] - readings_before[first_day],
            )
        )
    return buckets


def first_day(when: date) -> int:
    """The start of a local day in the summaries' zone."""
    return local_day_start(when, ZONE)
