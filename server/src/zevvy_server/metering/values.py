"""Exact meter values and instants: the stored integers and their canonical text.

Values are stored as integers of millionths ("micro-units"): 9.6 kWh is 9_600_000. Every value
accepted on the wire has at most 6 fractional digits and a magnitude below 10**12, so micro-units
always fit a signed 64-bit column and sums of them are exact. Binary floats never touch a value.

Instants are stored as integer microseconds since the Unix epoch, UTC. The wire form is RFC 3339
with an explicit offset, parsed by msgspec's RFC 3339 parser, so that bulk bodies (decoded by
msgspec in C) and query parameters (parsed here) accept exactly the same strings:

* ``T`` or ``t`` or a space between date and time, ``Z``/``z`` or ``±HH:MM`` as the offset (msgspec
  also takes ``±HHMM``); a naive time, a date alone, ``24:00:00`` or a leap second ``:60`` is
  rejected.
* Fractional seconds may have any number of digits; digits beyond the microsecond are rounded to
  the nearest microsecond (halves up), below the storage resolution of an instant.

`format_instant` emits ``YYYY-MM-DDTHH:MM:SSZ`` when the microsecond part is zero and
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always exactly 6 digits) otherwise: every instant has exactly one
text, and whole seconds, the common case for meter readings, stay short.
"""

from __future__ import annotations

import re
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import repeat
from operator import floordiv, sub
from typing import Annotated, Final

import msgspec

MICROS_PER_UNIT: Final = 1_000_000
MAX_DECIMALS: Final = 6
# A value's magnitude must stay below this many units (so micro-units fit a BIGINT).
VALUE_LIMIT: Final = 10**12
VALUE_LIMIT_MICROS: Final = VALUE_LIMIT * MICROS_PER_UNIT

US_PER_SECOND: Final = 1_000_000
US_PER_DAY: Final = 86_400 * US_PER_SECOND

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US: Final = timedelta(microseconds=1)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
# The instants that have a text: years 0001..9999 in UTC.
MIN_INSTANT_US: Final = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // ONE_US
MAX_INSTANT_US: Final = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - EPOCH) // ONE_US

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class ValueProblem(ValueError):
    """A number that cannot be stored; `problem` is the wire problem code."""

    problem = "not_a_number"


class NotANumber(ValueProblem):
    """The text is not a JSON number."""

    problem = "not_a_number"


class ValueOutOfRange(ValueProblem):
    """The magnitude is 10**12 or more."""

    problem = "out_of_range"


class TooManyDecimals(ValueProblem):
    """More than 6 significant fractional digits."""

    problem = "too_many_decimals"


# -- values ---------------------------------------------------------------------------------------

# The JSON number grammar (RFC 8259 section 6); groups: sign, integer, fraction, exponent.
_NUMBER = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?")
# An exponent with more digits than this outweighs any fraction a request can carry (that would
# take 10**18 digits), so its sign alone decides; shorter ones are safe to turn into an int.
_MAX_EXPONENT_DIGITS = 18
# |value| < 10**12 means at most 12 digits before the decimal point.
_LIMIT_DIGITS = 12


def micros_from_int(value: int) -> int:
    """Micro-units of an integer number of units; `ValueOutOfRange` beyond ±10**12."""
    if not -VALUE_LIMIT < value < VALUE_LIMIT:
        raise ValueOutOfRange(value)
    return value * MICROS_PER_UNIT


def micros_from_number_text(text: str) -> int:
    """Micro-units of a JSON number literal, exactly; raises a `ValueProblem` subclass."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise NotANumber(text)
    sign, whole, fraction, exponent_text = match.groups()
    fraction = fraction or ""
    # Work on the digit string so that a 400-digit literal or 1e999999999 costs only a scan.
    digits = (whole + fraction).lstrip("0")
    stripped = digits.rstrip("0")
    if not stripped:
        return 0
    if exponent_text is None:
        exponent = 0
    elif len(exponent_text.lstrip("+-").lstrip("0")) > _MAX_EXPONENT_DIGITS:
        raise (TooManyDecimals if exponent_text.startswith("-") else ValueOutOfRange)(text)
    else:
        exponent = int(exponent_text)
    # value = int(stripped) * 10**scale, with no trailing zeros left in `stripped`
    scale = exponent - len(fraction) + (len(digits) - len(stripped))
    if len(stripped) + scale > _LIMIT_DIGITS:
        raise ValueOutOfRange(text)
    if scale < -MAX_DECIMALS:
        raise TooManyDecimals(text)
    micros = int(stripped + "0" * (scale + MAX_DECIMALS))  # at most 18 digits here
    return -micros if sign else micros


def micros_from_decimal(value: Decimal) -> int:
    """Micro-units of a finite Decimal, exactly; raises a `ValueProblem` subclass."""
    if not value.is_finite():
        raise NotANumber(str(value))
    sign, digit_tuple, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    text = "".join(map(str, digit_tuple))
    return micros_from_number_text(f"{'-' if sign else ''}{text}e{exponent}")


def value_to_json_text(micros: int) -> str:
    """The shortest exact JSON number for micro-units: "12", "-0.5", "0.000001"; no exponent."""
    if micros % MICROS_PER_UNIT == 0:
        return str(micros // MICROS_PER_UNIT)
    sign = "-" if micros < 0 else ""
    digits = f"{abs(micros):07d}"  # at least one digit before the point
    return f"{sign}{digits[:-6]}.{digits[-6:]}".rstrip("0")


def value_to_decimal(micros: int) -> Decimal:
    """The exact Decimal of micro-units, in its shortest form (12, not 12.000000)."""
    return Decimal(value_to_json_text(micros))


# -- instants -------------------------------------------------------------------------------------


def instant_from_datetime(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime (exact integer arithmetic, no float)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime")
    return (moment - EPOCH) // ONE_US


_TIMESTAMPS = msgspec.msgpack.Encoder()
_TIMESTAMP32_HEAD: Final = b"\xd6\xff"  # msgpack fixext 4 of type -1: a timestamp in whole seconds
_INT64: Final = array("q").itemsize == 8
_BIG: Final = sys.byteorder == "big"


def instants_from_datetimes(moments: list[datetime]) -> list[int]:
    """Epoch microseconds of many aware datetimes, as `instant_from_datetime` gives each.

    The bulk-import hot path: meter readings are nearly always whole seconds, and for those the
    work is done in C. msgspec's MessagePack encoder writes an aware datetime of whole seconds
    between 1970 and 2106 as the 6-byte "timestamp 32" (``d6 ff`` + big-endian unsigned seconds,
    MessagePack spec, timestamp extension type -1), and any other datetime in a longer form. When
    the encoded array is exactly its header plus 6 bytes per element, every element is such a
    timestamp; byte-strided slices then place each element's seconds in a 64-bit lane of one big
    integer, and one multiplication of that integer by 10**6 turns every lane into microseconds
    (a lane's product stays below 2**52, so no carry crosses into the next lane). Otherwise each
    datetime is converted by exact integer arithmetic.
    """
    count = len(moments)
    try:
        encoded = _TIMESTAMPS.encode(moments)
    except OverflowError:  # an offset moves the instant outside years 1..9999 in UTC
        encoded = b""
    head = 1 if count < 16 else 3 if count < 1 << 16 else 5  # the array header's size
    if len(encoded) == head + 6 * count and _INT64:
        marks, types = encoded[head::6], encoded[head + 1 :: 6]
        if marks == _TIMESTAMP32_HEAD[:1] * count and types == _TIMESTAMP32_HEAD[1:] * count:
            lanes = bytearray(8 * count)
            for offset in range(4):  # byte `offset` of each big-endian second, placed natively
                lanes[(4 + offset if _BIG else 3 - offset) :: 8] = encoded[head + 2 + offset :: 6]
            micros = int.from_bytes(lanes, sys.byteorder) * US_PER_SECOND
            return memoryview(micros.to_bytes(8 * count, sys.byteorder)).cast("q").tolist()
    return list(map(floordiv, map(sub, moments, repeat(EPOCH)), repeat(ONE_US)))


def instant_to_datetime(epoch_us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds."""
    if not MIN_INSTANT_US <= epoch_us <= MAX_INSTANT_US:
        raise ValueError(f"instant {epoch_us} is outside years 0001..9999")
    return EPOCH + timedelta(microseconds=epoch_us)


def parse_instant(text: str, *, bounded: bool = True) -> int:
    """Epoch microseconds of an RFC 3339 date-time with an explicit offset; ValueError if not.

    With ``bounded`` (the default) the instant must also have a text, i.e. lie in UTC years
    0001..9999; the import codec turns that off and applies its own, narrower window.
    """
    if not isinstance(text, str):
        raise ValueError("an instant must be a string")
    try:
        moment = msgspec.convert(text, AwareDatetime)
    except msgspec.ValidationError as exc:
        raise ValueError(f"not an RFC 3339 date-time with an offset: {text!r}") from exc
    epoch_us = (moment - EPOCH) // ONE_US
    if bounded and not MIN_INSTANT_US <= epoch_us <= MAX_INSTANT_US:
        raise ValueError(f"instant outside years 0001..9999: {text!r}")
    return epoch_us


@lru_cache(maxsize=8192)
def _day_prefix(day_number: int) -> str:
    # One date string per day: a year of quarter-hours formats 365 dates, not 35,040.
    return date.fromordinal(_EPOCH_ORDINAL + day_number).isoformat() + "T"


# "HH:MM:" for each minute of the day and "SS" for each second.
_HOUR_MINUTE: Final = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECOND: Final = tuple(f"{s:02d}" for s in range(60))


@lru_cache(maxsize=8192)
def _time_of_day(of_day_us: int) -> str:
    # Readings repeat the same few times of day (96 for quarter-hours), so this is nearly
    # always a cache hit.
    seconds, fraction = divmod(of_day_us, US_PER_SECOND)
    minute, second = divmod(seconds, 60)
    text = _HOUR_MINUTE[minute] + _SECOND[second]
    return f"{text}.{fraction:06d}Z" if fraction else text + "Z"


def format_instant(epoch_us: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``, or ``…SS.ffffffZ`` (6 digits) when there is a fraction."""
    if not MIN_INSTANT_US <= epoch_us <= MAX_INSTANT_US:
        raise ValueError(f"instant {epoch_us} is outside years 0001..9999")
    return _day_prefix(epoch_us // US_PER_DAY) + _time_of_day(epoch_us % US_PER_DAY)


def format_instants(instants_us: Sequence[int]) -> list[str]:
    """`format_instant` of each instant, in order (about 0.3 µs each)."""
    if instants_us and not (min(instants_us) >= MIN_INSTANT_US and max(instants_us) <= MAX_INSTANT_US):
        raise ValueError("an instant is outside years 0001..9999")
    day, of_day = _day_prefix, _time_of_day
    return [day(us // US_PER_DAY) + of_day(us % US_PER_DAY) for us in instants_us]
