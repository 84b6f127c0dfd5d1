"""Register periods (ISO 8601 durations), local days, and the grid interval readings sit on.

A period is ``PT<n>S``, ``PT<n>M``, ``PT<n>H`` or ``P1D`` and must divide 24 hours, so that a
day holds a whole number of periods: PT1M … PT59M that divide a day, PT1H … PT24H likewise, P1D,
and odd ones such as PT90M or PT32S. ``PT24H`` is the same period as ``P1D``. The canonical text
(`Period.iso`) uses the largest unit that expresses the period exactly: PT15M, PT2H, PT90M, P1D.
Anything else (PT0M, PT7M, P2D, PT1H30M, lower case, a fraction) raises ValueError, which callers
report as ``invalid_period``. The default period is PT15M.

The grid of a period is the set of instants a reading of that period may carry:

* periods up to one hour: the multiples of the period since the Unix epoch, UTC, i.e. whole
  quarter-hours, hours, ... of UTC (Swiss offsets are whole hours, so these are local ones too);
* longer periods: the start of each local day in the register's time zone plus k periods of
  elapsed time, k = 0 … 24 h / period - 1. Every local day has the same number of slots (P1D:
  each local midnight; PT2H: 12 a day, 00:00, 02:00, ... on a normal day); on a 23- or 25-hour
  DST day the last slot is an hour shorter or longer. The local day, not the clock face, is what
  the grid follows, because consumption is billed per local day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Final

from zevvy_server.metering.values import EPOCH, ONE_US, US_PER_SECOND

SECONDS_PER_DAY: Final = 86_400
# Up to this length the grid is UTC-epoch aligned; longer periods follow local days.
MAX_UTC_GRID_SECONDS: Final = 3_600

_PERIOD = re.compile(r"P1D|PT([1-9][0-9]{0,5})([HMS])")
_UNIT_SECONDS: Final = {"H": 3_600, "M": 60, "S": 1}


@dataclass(frozen=True, slots=True)
class Period:
    """A register's period: a whole number of seconds that divides a day."""

    seconds: int

    def __post_init__(self) -> None:
        if not 0 < self.seconds <= SECONDS_PER_DAY or SECONDS_PER_DAY % self.seconds:
            raise ValueError(f"a period must divide 24 hours, not {self.seconds} s")

    @property
    def micros(self) -> int:
        """The length in microseconds."""
        return self.seconds * US_PER_SECOND

    @property
    def iso(self) -> str:
        """The canonical ISO 8601 text: P1D, PT2H, PT15M, PT90M, PT30S."""
        if self.seconds == SECONDS_PER_DAY:
            return "P1D"
        if self.seconds % 3_600 == 0:
            return f"PT{self.seconds // 3_600}H"
        if self.seconds % 60 == 0:
            return f"PT{self.seconds // 60}M"
        return f"PT{self.seconds}S"

    @property
    def follows_local_days(self) -> bool:
        """Whether the grid starts at each local midnight (periods over an hour)."""
        return self.seconds > MAX_UTC_GRID_SECONDS


DEFAULT_PERIOD: Final = Period(900)


def parse_period(text: str) -> Period:
    """The period of an ISO 8601 duration text; ValueError unless it divides 24 hours."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a supported period: {text!r}")
    if match.group(1) is None:
        return Period(SECONDS_PER_DAY)
    return Period(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


# -- local days -----------------------------------------------------------------------------------


def local_date(epoch_us: int, tz: tzinfo) -> date:
    """The calendar date in `tz` at an instant."""
    try:
        return (EPOCH + timedelta(microseconds=epoch_us)).astimezone(tz).date()
    except OverflowError as exc:  # a local date outside years 1..9999
        raise ValueError(f"instant {epoch_us} has no local date") from exc


def _midnight_guess(day: date, tz: tzinfo) -> int:
    try:
        return (datetime(day.year, day.month, day.day, tzinfo=tz) - EPOCH) // ONE_US
    except OverflowError as exc:
        raise ValueError(f"{day} has no start in {tz}") from exc


@lru_cache(maxsize=65_536)
def local_day_start(day: date, tz: tzinfo) -> int:
    """The first instant (epoch µs) of a calendar day in `tz`: its local midnight.

    Where a transition skips midnight, the day starts at the transition (the first instant whose
    local date is `day`); a 23- or 25-hour day simply ends at the next day's start.
    """
    guess = _midnight_guess(day, tz)
    if local_date(guess, tz) == day and local_date(guess - 1, tz) < day:
        return guess
    # Midnight does not exist (or exists twice) here: binary-search the first microsecond whose
    # local date is `day`. Offsets stay far below two days, which bounds the search.
    low, high = guess - 2 * 86_400 * US_PER_SECOND, guess + 2 * 86_400 * US_PER_SECOND
    while high - low > 1:
        middle = (low + high) // 2
        if local_date(middle, tz) < day:
            low = middle
        else:
            high = middle
    return high


def next_day_start(day: date, tz: tzinfo) -> int:
    """The first instant of the day after `day` in `tz` (the end of `day`)."""
    return local_day_start(day + timedelta(days=1), tz)


# -- the grid -------------------------------------------------------------------------------------


def off_grid(instants_us: Sequence[int], period: Period, tz: tzinfo) -> list[int]:
    """Indices of the instants that are not on `period`'s grid (see the module docstring)."""
    step = period.micros
    if not period.follows_local_days:
        return [index for index, instant in enumerate(instants_us) if instant % step]
    slots_per_day = SECONDS_PER_DAY // period.seconds
    wrong: list[int] = []
    day_start = day_end = 0
    for index, instant in enumerate(instants_us):
        if not day_start <= instant < day_end:
            # Readings come sorted, so this runs once per local day, not once per reading.
            day = local_date(instant, tz)
            day_start, day_end = local_day_start(day, tz), next_day_start(day, tz)
        slot, rest = divmod(instant - day_start, step)
        if rest or slot >= slots_per_day:
            wrong.append(index)
    return wrong


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def grid_count(from_us: int, to_us: int, period: Period, tz: tzinfo) -> int:
    """How many grid instants of `period` lie in [from_us, to_us)."""
    if to_us <= from_us:
        return 0
    step = period.micros
    if not period.follows_local_days:
        return _ceil_div(to_us, step) - _ceil_div(from_us, step)
    slots_per_day = SECONDS_PER_DAY // period.seconds
    count = 0
    day = local_date(from_us, tz)
    start = local_day_start(day, tz)
    while start < to_us:
        end = next_day_start(day, tz)
        low, high = max(from_us, start), min(to_us, end)
        if low < high:
            # slots k in [0, slots_per_day) with start + k·step in [low, high)
            first = max(0, _ceil_div(low - start, step))
            count += max(0, min(slots_per_day, _ceil_div(high - start, step)) - first)
        day += timedelta(days=1)
        start = end
    return count
