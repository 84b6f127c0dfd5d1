"""Consumption maths against a brute-force reference, plus the calendar cases that bill."""

from __future__ import annotations

from datetime import UTC, date
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zevvy_server.metering.aggregation import (
    Bucket,
    TooManyBuckets,
    bucket_edges,
    counter_consumption,
    interval_consumption,
    reset_positions,
)
from zevvy_server.metering.periods import local_day_start
from zevvy_server.metering.values import parse_instant, value_to_json_text

ZURICH = ZoneInfo("Europe/Zurich")
MINUTE = 60 * 10**6
QUARTER = 15 * MINUTE
HOUR = 60 * MINUTE
DAY = 24 * HOUR
FAR_FUTURE = parse_instant("9999-01-01T00:00:00Z")

# -- the reference: straight from the rules, by scanning everything ------------------------------


def reference_curve(values: list[int]) -> list[int]:
    """Cumulative consumption at each reading; a drop counts the new reading (not below zero)."""
    curve = [0] if values else []
    for previous, current in pairwise(values):
        curve.append(curve[-1] + (current - previous if current >= previous else max(current, 0)))
    return curve


def reference_at(instants: list[int], curve: list[int], at: int) -> tuple[int, bool] | None:
    for instant, value in zip(instants, curve, strict=True):
        if instant == at:
            return value, True
    for (t0, c0), (t1, c1) in pairwise(zip(instants, curve, strict=True)):
        if t0 < at < t1:
            return round(c0 + Fraction(c1 - c0) * Fraction(at - t0, t1 - t0)), False  # half to even
    return None


def reference_counter(
    instants: list[int], values: list[int], edges: list[int], period: int, now: int
) -> list[Bucket]:
    curve = reference_curve(values)
    buckets = []
    for a, b in pairwise(edges):
        inside = [i for i, t in enumerate(instants) if a <= t < b]
        start, end = reference_at(instants, curve, a), reference_at(instants, curve, b)
        if start is not None and end is not None:
            value: int | None = end[0] - start[0]
            estimated, partial = not (start[1] and end[1]), False
        else:
            first = start[0] if start is not None else curve[inside[0]] if inside else None
            last = end[0] if end is not None else curve[inside[-1]] if inside else None
            value = None if first is None or last is None else last - first
            estimated = partial = value is not None
        resets = sum(1 for i in range(1, len(values)) if values[i] < values[i - 1] and a <= instants[i] < b)
        slots = sum(1 for t in range(a, b) if t % period == 0)
        buckets.append(Bucket(a, b, value, estimated, partial or b > now, resets, slots, len(inside)))
    return buckets


def reference_interval(
    instants: list[int], values: list[int], edges: list[int]
) -> list[tuple[int | None, int]]:
    result = []
    for a, b in pairwise(edges):
        inside = [v for t, v in zip(instants, values, strict=True) if a < t <= b]
        result.append((sum(inside) if inside else None, len(inside)))
    return result


# -- strategies: small integer time so every case is cheap to scan --------------------------------


@st.composite
def counter_series(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    instants = sorted(draw(st.sets(st.integers(min_value=0, max_value=400), max_size=25)))
    values, level = [], draw(st.integers(min_value=-5, max_value=10**6))
    for _ in instants:
        step = draw(
            st.one_of(
                st.integers(min_value=0, max_value=10**4), st.integers(min_value=-(10**6), max_value=-1)
            )
        )
        level += step  # negative steps are resets (sometimes below zero)
        values.append(level)
    return instants, values


EDGES = st.sets(st.integers(min_value=-50, max_value=450), min_size=2, max_size=20).map(sorted)


@settings(max_examples=400)
@given(counter_series(), EDGES, st.integers(min_value=-50, max_value=450), st.sampled_from([1, 5, 30]))
def test_counter_matches_reference(
    series: tuple[list[int], list[int]], edges: list[int], now: int, period: int
) -> None:
    instants, values = series
    # Work in seconds-as-microseconds: a period of `period` µs is not a valid Period, so scale.
    scale = 10**6
    got = counter_consumption(
        [t * scale for t in instants], values, [e * scale for e in edges], period, now * scale
    )
    expected = reference_counter(instants, values, edges, period, now)
    for bucket, ref in zip(got, expected, strict=True):
        assert (bucket.value, bucket.estimated, bucket.partial, bucket.resets, bucket.received_slots) == (
            ref.value,
            ref.estimated,
            ref.partial,
            ref.resets,
            ref.received_slots,
        )
        assert bucket.expected_slots == ref.expected_slots
        assert bucket.value is None or bucket.value >= 0
    # telescoping: consecutive buckets with known values sum to the rise across them
    known = [b for b in got if b.value is not None and not b.partial]
    for left, right in pairwise(known):
        if left.to_us == right.from_us:
            merged = counter_consumption(
                [t * scale for t in instants], values, [left.from_us, right.to_us], period, FAR_FUTURE
            )[0]
            assert merged.value == left.value + right.value  # type: ignore[operator]


@settings(max_examples=300)
@given(counter_series(), EDGES)
def test_interval_matches_reference(series: tuple[list[int], list[int]], edges: list[int]) -> None:
    instants, values = series
    got = interval_consumption([t * 10**6 for t in instants], values, [e * 10**6 for e in edges], 1)
    expected = reference_interval(instants, values, edges)
    assert [(b.value, b.received_slots) for b in got] == expected
    assert all(b.expected_slots == b.to_us // 10**6 - b.from_us // 10**6 for b in got)
    assert not any(b.estimated or b.partial for b in got)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=60),
    st.integers(min_value=0, max_value=24 * 60 * 4 - 1),
    st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=60),
)
def test_months_are_the_sum_of_their_days(steps: list[int], offset: int, gaps: list[int]) -> None:
    start = parse_instant("2025-01-01T00:00:00+01:00") + offset * QUARTER
    instants: list[int] = []
    values: list[int] = []
    t, level = start, 0
    for step, gap in zip(steps, gaps * 60, strict=False):
        instants.append(t)
        level = level + step if step % 7 else step // 3  # every seventh step resets
        values.append(level)
        t += gap * 6 * HOUR  # gaps of hours to months: edges fall between readings
    end = instants[-1] + 40 * DAY
    months = bucket_edges(start, end, "month", ZURICH)
    days = bucket_edges(months[0], months[-1], "day", ZURICH)
    assert days[0] == months[0] and days[-1] == months[-1] and set(months) <= set(days)

    def by_counter(edges: list[int]) -> list[Bucket]:
        return counter_consumption(instants, values, edges, 900, end)

    def by_interval(edges: list[int]) -> list[Bucket]:
        return interval_consumption(instants, values, edges, 900)

    for compute in (by_counter, by_interval):
        daily = compute(days)
        for month in compute(months):
            in_month = [d for d in daily if month.from_us <= d.from_us < month.to_us]
            known = [d.value for d in in_month if d.value is not None]
            assert month.value == (sum(known) if known else None)
            assert month.expected_slots == sum(d.expected_slots for d in in_month)
            assert month.received_slots == sum(d.received_slots for d in in_month)


# -- concrete cases -------------------------------------------------------------------------------


def zurich_day(day: date) -> list[int]:
    start = local_day_start(day, ZURICH)
    return bucket_edges(start, start + 1, "day", ZURICH)


@pytest.mark.parametrize(
    ("day", "quarters"), [(date(2025, 3, 30), 92), (date(2025, 10, 26), 100), (date(2025, 7, 1), 96)]
)
def test_dst_days_expect_92_or_100_quarter_hours(day: date, quarters: int) -> None:
    edges = zurich_day(day)
    assert len(edges) == 2
    instants = list(range(edges[0], edges[1] + 1, QUARTER))
    counter = counter_consumption(instants, [i * 1_000 for i in range(len(instants))], edges, 900, FAR_FUTURE)
    assert (counter[0].expected_slots, counter[0].received_slots) == (quarters, quarters)
    assert counter[0].value == quarters * 1_000
    assert not counter[0].estimated
    interval = interval_consumption(instants[1:], [100_000] * quarters, edges, 900)
    assert (interval[0].expected_slots, interval[0].received_slots) == (quarters, quarters)
    assert interval[0].value == quarters * 100_000


def test_96_tenths_sum_to_exactly_9_6() -> None:
    edges = zurich_day(date(2025, 7, 1))
    instants = [edges[0] + (i + 1) * QUARTER for i in range(96)]
    bucket = interval_consumption(instants, [100_000] * 96, edges, 900)[0]
    assert bucket.value == 9_600_000
    assert value_to_json_text(bucket.value) == "9.6"


def test_interpolation_is_estimated_and_rounds_half_to_even() -> None:
    day = parse_instant("2025-07-01T00:00:00Z")
    edges = [day, day + DAY, day + 2 * DAY]
    instants = [day - HOUR, day + HOUR, day + DAY + HOUR]
    buckets = counter_consumption(instants, [0, 3, 5], edges, 900, FAR_FUTURE, tz=UTC)
    # at day: 1.5 micro-units -> 2 (even); at day + DAY: 3 + 2·(23/24) = 4.91.. -> 5
    assert [b.value for b in buckets] == [5 - 2, 5 - 5]
    assert buckets[0].estimated and not buckets[0].partial
    assert buckets[1].estimated and buckets[1].partial  # up to the last reading only
    exact = counter_consumption([day, day + DAY], [10, 20], [day, day + DAY], 900, FAR_FUTURE)[0]
    assert (exact.value, exact.estimated) == (10, False)
    half = counter_consumption([0, 2 * 10**6], [0, 1], [10**6, 2 * 10**6], 1, 0)[0]
    assert half.value == 1  # the edge at 0.5 rounds to 0


def test_no_extrapolation_beyond_the_readings() -> None:
    day = parse_instant("2025-07-01T00:00:00Z")
    edges = [day - DAY, day, day + DAY, day + 2 * DAY]
    instants = [day, day + 6 * HOUR, day + 12 * HOUR]
    buckets = counter_consumption(instants, [100, 160, 220], edges, 900, day + 12 * HOUR)
    assert buckets[0].value is None  # before the first reading
    assert (buckets[1].value, buckets[1].partial, buckets[1].estimated) == (120, True, True)
    assert buckets[2].value is None  # after the last reading
    assert buckets[2].partial  # ends after now
    first_inside = counter_consumption(instants, [100, 160, 220], [day - HOUR, day + 9 * HOUR], 900, day)[0]
    assert (first_inside.value, first_inside.partial) == (90, True)  # from the first reading on
    assert counter_consumption([], [], edges, 900, day)[1].value is None
    assert interval_consumption([], [], edges, 900)[1].value is None


def test_resets_count_and_never_go_negative() -> None:
    instants = [0, 10**6, 2 * 10**6, 3 * 10**6, 4 * 10**6]
    values = [100, 150, 20, 50, -5]  # reset to 20, then a reset to below zero
    total = counter_consumption(instants, values, [0, 5 * 10**6], 1, 0)[0]
    assert total.value == 50 + 20 + 30 + 0
    assert total.resets == 2
    halves = counter_consumption(instants, values, [0, 2 * 10**6, 5 * 10**6], 1, 0)
    assert [b.resets for b in halves] == [0, 2]
    assert [b.value for b in halves] == [50 + 20, 30]  # the reset step ends in the first half


def test_bucket_edges() -> None:
    start = parse_instant("2025-03-29T23:00:00Z")  # Zurich midnight of the 23-hour day
    days = bucket_edges(start + HOUR, start + 47 * HOUR, "day", ZURICH)
    assert days == [start, start + 23 * HOUR, start + 47 * HOUR]
    quarters = bucket_edges(start + 1, start + HOUR - 1, "15min", ZURICH)
    assert quarters == [start + i * QUARTER for i in range(5)]
    assert bucket_edges(start, start + 1, "hour", ZURICH) == [start, start + HOUR]
    # local whole hours in a half-hour zone
    kolkata = bucket_edges(
        parse_instant("2025-01-01T00:10:00Z"),
        parse_instant("2025-01-01T01:00:00Z"),
        "hour",
        ZoneInfo("Asia/Kolkata"),
    )
    assert kolkata == [
        parse_instant("2024-12-31T23:30:00Z"),
        parse_instant("2025-01-01T00:30:00Z"),
        parse_instant("2025-01-01T01:30:00Z"),
    ]
    months = bucket_edges(
        parse_instant("2025-01-15T00:00:00Z"), parse_instant("2025-04-01T00:00:00+02:00"), "month", ZURICH
    )
    assert months == [
        parse_instant(f"2025-{m:02d}-01T00:00:00+0{1 if m < 4 else 2}:00") for m in (1, 2, 3, 4)
    ]
    years = bucket_edges(
        parse_instant("2024-12-31T23:30:00Z"), parse_instant("2025-01-01T00:00:00Z"), "year", ZURICH
    )
    assert years == [parse_instant("2025-01-01T00:00:00+01:00"), parse_instant("2026-01-01T00:00:00+01:00")]
    assert bucket_edges(
        parse_instant("2025-12-01T00:00:00+01:00"),
        parse_instant("2026-01-01T00:00:00+01:00"),
        "month",
        ZURICH,
    ) == [
        parse_instant("2025-12-01T00:00:00+01:00"),
        parse_instant("2026-01-01T00:00:00+01:00"),
    ]
    with pytest.raises(ValueError):
        bucket_edges(start, start, "day", ZURICH)
    with pytest.raises(ValueError):
        bucket_edges(start, start + 1, "week", ZURICH)  # type: ignore[arg-type]


def test_too_many_buckets() -> None:
    start = parse_instant("2025-01-01T00:00:00Z")
    with pytest.raises(TooManyBuckets):
        bucket_edges(start, start + 100_001 * QUARTER, "15min", ZURICH)
    assert len(bucket_edges(start, start + 100_000 * QUARTER, "15min", UTC)) == 100_001
    with pytest.raises(TooManyBuckets):
        bucket_edges(start, start + 11 * DAY, "day", ZURICH, max_buckets=10)
    with pytest.raises(TooManyBuckets):
        bucket_edges(start, parse_instant("9000-01-01T00:00:00Z"), "day", ZURICH)
    assert len(bucket_edges(start, start + 10 * DAY, "day", UTC, max_buckets=10)) == 11


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError):
        counter_consumption([2, 1], [0, 0], [0, 3], 1, 0)
    with pytest.raises(ValueError):
        counter_consumption([1, 1], [0, 0], [0, 3], 1, 0)
    with pytest.raises(ValueError):
        interval_consumption([1], [0, 0], [0, 3], 1)
    with pytest.raises(ValueError):
        interval_consumption([1], [0], [3, 0], 1)
    with pytest.raises(ValueError):
        interval_consumption([1], [0], [0, 3], 7_200)  # a local-day grid needs the zone
    two_hourly = interval_consumption([DAY], [5], [0, DAY], 7_200, tz=UTC)[0]
    assert (two_hourly.value, two_hourly.expected_slots) == (5, 12)


@given(st.lists(st.integers(min_value=-(10**18), max_value=10**18), max_size=40))
def test_reset_positions_are_the_decreasing_steps(values: list[int]) -> None:
    expected = [k for k in range(1, len(values)) if values[k - 1] > values[k]]
    assert reset_positions(values) == expected
    assert reset_positions(tuple(values)) == expected
    assert reset_positions(sorted(values)) == []  # plateaus are not resets
