"""Daily summaries give exactly the buckets the raw readings give (pure, random data)."""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from datetime import date, timedelta

import pytest

from zevvy_server.metering import aggregation, rollup
from zevvy_server.metering.periods import local_day_start

ZONE = rollup.ZONE
MINUTE = 60_000_000
START = local_day_start(date(2025, 3, 20), ZONE)  # spans the spring DST change


def random_readings(rng: random.Random, count: int) -> tuple[list[int], list[int]]:
    """Ascending instants (quarter-hours, some exactly at local midnight, gaps of up to days)
    and counter values with occasional resets, also to negative values."""
    instants, values = [], []
    at, value = START + rng.randrange(-3, 3) * 15 * MINUTE, rng.randrange(10**9)
    for _ in range(count):
        at += rng.choice([15, 15, 15, 15, 30, 60, 7 * 60, 26 * 60, 3 * 24 * 60]) * MINUTE + rng.choice(
            [0, 0, 0, 7]
        )
        roll = rng.random()
        if roll < 0.03:
            value = rng.randrange(-(10**6), 10**6)
        elif roll < 0.04:
            value = rng.randrange(10**17)
        else:
            value += rng.randrange(0, 10**7)
        instants.append(at)
        values.append(value)
    return instants, values


def raw_buckets(
    instants: list[int], values: list[int], edges: list[int], now: int
) -> list[aggregation.Bucket]:
    """What the service computes from raw readings: the readings in range plus one on each side."""
    low, high = edges[0], edges[-1]
    before = bisect_right(instants, low) - 1
    after = bisect_left(instants, high)
    start = before if before >= 0 else bisect_left(instants, low)
    end = after + 1 if after < len(instants) else len(instants)
    return aggregation.counter_consumption(instants[start:end], values[start:end], edges, 900, now, tz=ZONE)


def summary_buckets(days: list[rollup.Day], edges: list[int], now: int) -> list[aggregation.Bucket]:
    """What the service computes from the summaries."""
    starts = [d.start for d in days]
    low, high = bisect_left(starts, edges[0]), bisect_left(starts, edges[-1])
    before = days[low - 1] if low > 0 else None
    after = days[high] if high < len(days) else None
    return rollup.counter_buckets(before, days[low:high], after, edges, 900, now, tz=ZONE)


@pytest.mark.parametrize("seed", range(60))
def test_summaries_give_the_buckets_of_the_raw_readings(seed: int) -> None:
    rng = random.Random(seed)
    instants, values = random_readings(rng, rng.choice([0, 1, 2, 5, 40, 400]))
    days = rollup.summarize(instants, values)
    assert sum(d.readings for d in days) == len(instants)
    for _ in range(8):
        first = date(2025, 3, 10) + timedelta(days=rng.randrange(0, 60))
        span = rng.randrange(1, 50)
        interval = rng.choice(["day", "day", "month", "year"])
        low = local_day_start(first, ZONE)
        high = local_day_start(first + timedelta(days=span), ZONE)
        edges = aggregation.bucket_edges(low, high, interval, ZONE)  # type: ignore[arg-type]
        now = rng.choice([START, START + 40 * 24 * 60 * MINUTE, 2**62])
        assert rollup.covers(edges, ZONE)
        assert summary_buckets(days, edges, now) == raw_buckets(instants, values, edges, now)


@pytest.mark.parametrize("seed", range(30))
def test_appending_merges_into_the_same_summaries_as_summarizing_everything(seed: int) -> None:
    rng = random.Random(seed)
    instants, values = random_readings(rng, 300)
    days: list[rollup.Day] = []
    cut = 0
    while cut < len(instants):
        step = rng.randrange(1, 60)
        part = rollup.summarize(instants[cut : cut + step], values[cut : cut + step])
        if days and days[-1].start == part[0].start:
            part[0] = rollup._merge(days.pop(), part[0])
        days += part
        cut += step
    assert days == rollup.summarize(instants, values)


def test_only_whole_days_of_the_summaries_zone_are_covered() -> None:
    low = local_day_start(date(2025, 1, 1), ZONE)
    high = local_day_start(date(2025, 2, 1), ZONE)
    assert rollup.covers(aggregation.bucket_edges(low, high, "day", ZONE), ZONE)
    assert not rollup.covers(aggregation.bucket_edges(low, high, "hour", ZONE), ZONE)
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    assert not rollup.covers(aggregation.bucket_edges(low, high, "day", london), london)
    assert not rollup.covers([low, low + 3_600_000_000], ZONE)


def test_resets_too_large_for_a_column_are_left_to_the_raw_readings() -> None:
    big = 9 * 10**17
    days = rollup.summarize(
        [START + k * 15 * MINUTE for k in range(40)], [big if k % 2 else -big for k in range(40)]
    )
    assert days[0].extra is None
