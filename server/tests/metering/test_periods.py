"""Periods, local days and the reading grid."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zevvy_server.metering.periods import (
    DEFAULT_PERIOD,
    Period,
    grid_count,
    local_date,
    local_day_start,
    next_day_start,
    off_grid,
    parse_period,
)
from zevvy_server.metering.values import parse_instant

ZURICH = ZoneInfo("Europe/Zurich")
HOUR = 3_600 * 10**6
SPRING = date(2025, 3, 30)  # 23 hours in Zurich
AUTUMN = date(2025, 10, 26)  # 25 hours in Zurich


@pytest.mark.parametrize(
    ("text", "seconds", "iso"),
    [
        ("PT15M", 900, "PT15M"),
        ("PT1M", 60, "PT1M"),
        ("PT5M", 300, "PT5M"),
        ("PT60M", 3_600, "PT1H"),
        ("PT1H", 3_600, "PT1H"),
        ("PT2H", 7_200, "PT2H"),
        ("PT24H", 86_400, "P1D"),
        ("P1D", 86_400, "P1D"),
        ("PT90M", 5_400, "PT90M"),
        ("PT30S", 30, "PT30S"),
        ("PT3600S", 3_600, "PT1H"),
        ("PT1S", 1, "PT1S"),
        ("PT1440M", 86_400, "P1D"),
    ],
)
def test_parse_period(text: str, seconds: int, iso: str) -> None:
    period = parse_period(text)
    assert period.seconds == seconds
    assert period.iso == iso
    assert parse_period(period.iso) == period


@pytest.mark.parametrize(
    "text",
    ["", "PT0M", "PT7M", "PT25H", "P2D", "PT1H30M", "pt15m", "PT015M", "PT1.5H", "P1W", "PT", "15", "PT-1M"],
)
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_period_basics() -> None:
    assert DEFAULT_PERIOD.iso == "PT15M"
    assert DEFAULT_PERIOD.micros == 900 * 10**6
    assert not Period(3_600).follows_local_days
    assert Period(7_200).follows_local_days
    with pytest.raises(ValueError):
        Period(7 * 60)
    with pytest.raises(ValueError):
        Period(0)


def test_every_minute_and_hour_period_that_divides_a_day() -> None:
    for minutes in range(1, 60):
        assert (1_440 % minutes == 0) == _accepts(f"PT{minutes}M")
    for hours in range(1, 25):
        assert (24 % hours == 0) == _accepts(f"PT{hours}H")


def _accepts(text: str) -> bool:
    try:
        parse_period(text)
    except ValueError:
        return False
    return True


def test_zurich_local_days() -> None:
    assert local_day_start(SPRING, ZURICH) == parse_instant("2025-03-29T23:00:00Z")
    assert next_day_start(SPRING, ZURICH) - local_day_start(SPRING, ZURICH) == 23 * HOUR
    assert local_day_start(AUTUMN, ZURICH) == parse_instant("2025-10-25T22:00:00Z")
    assert next_day_start(AUTUMN, ZURICH) - local_day_start(AUTUMN, ZURICH) == 25 * HOUR
    start = local_day_start(SPRING, ZURICH)
    assert local_date(start, ZURICH) == SPRING
    assert local_date(start - 1, ZURICH) == SPRING - timedelta(days=1)


def test_day_start_where_midnight_is_skipped() -> None:
    # Brazil started DST at midnight in 2018: 2018-11-04 began at 01:00 local (-02:00).
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    day = date(2018, 11, 4)
    assert local_day_start(day, sao_paulo) == parse_instant("2018-11-04T01:00:00-02:00")
    assert next_day_start(day - timedelta(days=1), sao_paulo) == local_day_start(day, sao_paulo)


def test_utc_grid() -> None:
    base = parse_instant("2024-01-01T00:00:00Z")
    quarter = Period(900)
    instants = [base, base + 900 * 10**6, base + 1, base + 60 * 10**6, base + HOUR]
    assert off_grid(instants, quarter, ZURICH) == [2, 3]
    assert off_grid(instants, Period(60), UTC) == [2]


def test_local_grid_on_dst_days() -> None:
    two_hours = Period(7_200)
    start, end = local_day_start(SPRING, ZURICH), next_day_start(SPRING, ZURICH)
    on = list(range(start, end, 2 * HOUR))
    assert len(on) == 12  # the last slot of the 23-hour day lasts one hour
    assert off_grid([*on, end], two_hours, ZURICH) == []
    assert off_grid([start + HOUR, end + HOUR, start + 1], two_hours, ZURICH) == [0, 1, 2]
    assert grid_count(start, end, two_hours, ZURICH) == 12
    start, end = local_day_start(AUTUMN, ZURICH), next_day_start(AUTUMN, ZURICH)
    assert grid_count(start, end, two_hours, ZURICH) == 12  # the last slot lasts three hours
    assert off_grid([start + 22 * HOUR, end], two_hours, ZURICH) == []
    assert off_grid([start + 24 * HOUR], two_hours, ZURICH) == [0]
    # P1D: local midnights only
    day = Period(86_400)
    assert off_grid([start, end, start + 24 * HOUR], day, ZURICH) == [2]
    assert grid_count(start, end, day, ZURICH) == 1


def test_grid_count_quarter_hours_on_dst_days() -> None:
    quarter = Period(900)
    for day, expected in ((SPRING, 92), (AUTUMN, 100), (date(2025, 6, 1), 96)):
        start, end = local_day_start(day, ZURICH), next_day_start(day, ZURICH)
        assert grid_count(start, end, quarter, ZURICH) == expected
        # (a, b] counts the same when both edges are on the grid
        assert grid_count(start + 1, end + 1, quarter, ZURICH) == expected
    assert grid_count(10, 10, quarter, UTC) == 0
    assert grid_count(1, 900 * 10**6, quarter, UTC) == 0
    assert grid_count(0, 1, quarter, UTC) == 1


@given(
    day_offset=st.integers(min_value=0, max_value=3_000),
    period=st.sampled_from([Period(s) for s in (5_400, 7_200, 10_800, 14_400, 21_600, 43_200, 86_400)]),
    data=st.data(),
)
def test_local_grid_points_are_on_and_neighbours_off(
    day_offset: int, period: Period, data: st.DataObject
) -> None:
    day = date(2020, 1, 1) + timedelta(days=day_offset)
    start, end = local_day_start(day, ZURICH), next_day_start(day, ZURICH)
    points = list(range(start, end, period.micros))[: 86_400 // period.seconds]
    assert grid_count(start, end, period, ZURICH) == len(points)
    point = data.draw(st.sampled_from(points))
    shift = data.draw(st.integers(min_value=1, max_value=period.micros - 1))
    assert off_grid([point, point + shift], period, ZURICH) == [1]
