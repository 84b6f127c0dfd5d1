"""Decoding and validating bulk-import bodies (the hosted-zevvy wire format).

Two bodies carry readings:

* the path form, for a register named in the URL: ``[{"readAt": "...", "value": 1234}, ...]``;
* the body form: one object ``{"deviceName"|"deviceReference", "registerName"|"registerReference",
  "registerKind"?, "period"?, "unit"?, "measurements": [...]}`` or an array of such objects. The
  top-level JSON type decides: an object is one series, an array is the list form, and each of
  its elements must then be such an object (a reading found there is reported, not guessed at).

The whole request is validated and every problem is collected, each as an RFC 6901 pointer into
the body plus a stable code; `BodyInvalid` carries the first 100 (in body order) and the total.
Problem codes:

``invalid_json``       the body is not UTF-8 JSON (NaN/Infinity, trailing data, nesting too deep)
``expected_array``     the path-form body or a ``measurements`` member (also null) is not an array
``expected_object``    a series or a reading is not an object (also a body-form body that is
                       neither object nor array)
``expected_string``    a name, reference or unit is not a string
``required``           ``readAt``, ``value`` or ``measurements`` is missing, or neither of
                       deviceName/deviceReference (pointer ``/deviceName``) or of
                       registerName/registerReference (pointer ``/registerName``) is given;
                       null counts as absent for these optional members and for registerKind,
                       period and unit, and as a wrong type for readAt, value and measurements
``unknown_kind``       ``registerKind`` is not "counter" or "interval"
``invalid_period``     ``period`` is not a period `parse_period` accepts
``invalid_instant``    ``readAt`` is not a string in RFC 3339 with an explicit offset (see values)
``instant_too_early``  before the minimum instant (default 2000-01-01T00:00:00Z)
``instant_too_late``   more than the allowed window (default 24 h) ahead of now
``not_a_number``       ``value`` is a string, boolean, null, object or array
``out_of_range``       ``|value| >= 10**12`` (also 1e400 or a 400-digit integer)
``too_many_decimals``  more than 6 fractional digits once trailing zeros are dropped
                       (1.5000000 is fine, 1e-7 is not, 1.23e2 is 123)
``duplicate_instant``  a series holds the instant twice with different values (on the later
                       occurrence); instants are compared in UTC microseconds, and a reading
                       repeated with the same value is silently stored once
``duplicate_member``   an object names a member twice (``{"value": 1, "value": 2}``): JSON
                       parsers would silently keep one of them, so the request is refused

Values are exact: integers are taken as they are and fractions from their literal text through
`decimal`, never through a binary float. Readings come back sorted by instant and de-duplicated.

How: each measurements array is decoded at most twice. The fast path is a typed msgspec decode
in C (instants by msgspec's RFC 3339 parser; integer values with their range checked by msgspec
when the array holds no "." at all, else fractions as Decimal) plus bulk checks. When it
fails or anything looks wrong, the array is split into ``msgspec.Raw`` pieces (validating the
JSON without building numbers, so a 5,000-digit integer is still just a value to judge) and the
slow path examines reading by reading, finds every problem, and is the authority on what is
valid: the fast path only ever answers for arrays the slow path accepts identically (property
tests hold them to that). The body form's own members are always read from Raw pieces. Unknown
members are ignored. The caller bounds the body size; the reading limit (`TooManyReadings`) is
checked once the structure is known, before any reading is validated.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice, repeat
from operator import lt
from typing import Annotated, Any, Final, Literal

import msgspec

from zevvy_server.metering.periods import Period, parse_period
from zevvy_server.metering.values import (
    MAX_INSTANT_US,
    MICROS_PER_UNIT,
    MIN_INSTANT_US,
    VALUE_LIMIT,
    AwareDatetime,
    ValueProblem,
    instants_from_datetimes,
    micros_from_number_text,
    parse_instant,
)

INVALID_JSON: Final = "invalid_json"
EXPECTED_ARRAY: Final = "expected_array"
EXPECTED_OBJECT: Final = "expected_object"
EXPECTED_STRING: Final = "expected_string"
REQUIRED: Final = "required"
UNKNOWN_KIND: Final = "unknown_kind"
INVALID_PERIOD: Final = "invalid_period"
INVALID_INSTANT: Final = "invalid_instant"
INSTANT_TOO_EARLY: Final = "instant_too_early"
INSTANT_TOO_LATE: Final = "instant_too_late"
NOT_A_NUMBER: Final = "not_a_number"
OUT_OF_RANGE: Final = "out_of_range"
TOO_MANY_DECIMALS: Final = "too_many_decimals"
DUPLICATE_INSTANT: Final = "duplicate_instant"
DUPLICATE_MEMBER: Final = "duplicate_member"

DEFAULT_MIN_INSTANT_US: Final = parse_instant("2000-01-01T00:00:00Z")
DEFAULT_MAX_AHEAD_US: Final = 24 * 3_600 * 1_000_000
DEFAULT_MAX_READINGS: Final = 100_000
MAX_DETAILS: Final = 100

Kind = Literal["counter", "interval"]
_KINDS: Final[dict[str, Kind]] = {"counter": "counter", "interval": "interval"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: where (RFC 6901 pointer into the body) and what (a stable code)."""

    pointer: str
    problem: str


class BodyInvalid(Exception):
    """The body breaks the contract; nothing of it may be stored."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.total = len(problems)
        self.problems = list(problems[:MAX_DETAILS])
        only_duplicates = all(p.problem == DUPLICATE_INSTANT for p in problems)
        self.code = DUPLICATE_INSTANT if problems and only_duplicates else "validation_failed"
        super().__init__(f"{self.code}: {self.total} problem(s)")

    def details(self) -> list[dict[str, str]]:
        """The reported problems as wire dicts (at most 100)."""
        return [{"pointer": p.pointer, "problem": p.problem} for p in self.problems]


class TooManyReadings(Exception):
    """The request carries more readings than one request may."""

    def __init__(self, count: int, limit: int) -> None:
        self.count = count
        self.limit = limit
        super().__init__(f"{count} readings, at most {limit} per request")


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """Readings of one register: ascending unique instants (epoch µs) and parallel values (µ-units)."""

    instants: list[int]
    values: list[int]
    received: int  # readings in the body, before de-duplication


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesSpec(Series):
    """A body-form series: readings plus the register's address and creation-only options."""

    device_name: str | None = None
    device_reference: str | None = None
    register_name: str | None = None
    register_reference: str | None = None
    register_kind: Kind | None = None
    period: Period | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one request may carry: the instant window around `now_us` and the reading count."""

    now_us: int
    min_us: int = DEFAULT_MIN_INSTANT_US
    max_ahead_us: int = DEFAULT_MAX_AHEAD_US
    max_readings: int = DEFAULT_MAX_READINGS

    @property
    def low_us(self) -> int:
        """The earliest acceptable instant (clamped to the formattable range, like all paths)."""
        return max(self.min_us, MIN_INSTANT_US)

    @property
    def high_us(self) -> int:
        """The latest acceptable instant."""
        return min(self.now_us + self.max_ahead_us, MAX_INSTANT_US)


def _require_utf8(body: bytes) -> None:
    # msgspec skips unknown members without checking their UTF-8, so check the whole body once.
    if body.isascii():
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyInvalid([Problem("", INVALID_JSON)]) from None


def _sort_unique(instants: list[int], values: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Sorted, de-duplicated readings and the positions of readings that conflict.

    A reading conflicts when an earlier reading (in body order) has its instant and another value.
    """
    if all(map(lt, instants, islice(instants, 1, None))):
        return instants, values, []
    order = sorted(range(len(instants)), key=instants.__getitem__)  # stable: body order on ties
    out_instants: list[int] = []
    out_values: list[int] = []
    conflicts: list[int] = []
    previous = None
    for position in order:
        instant, value = instants[position], values[position]
        if instant == previous:
            if value != out_values[-1]:
                conflicts.append(position)
            continue
        previous = instant
        out_instants.append(instant)
        out_values.append(value)
    conflicts.sort()
    return out_instants, out_values, conflicts


# -- shared pieces --------------------------------------------------------------------------------

_ABSENT: Final = msgspec.Raw(b"")
_RAW = msgspec.json.Decoder(msgspec.Raw)
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])
_STRING = msgspec.json.Decoder(str)
_NUMBER_START: Final = frozenset(b"-0123456789")
# Problems carry a sort key so they are reported in body order: (series, member, reading, field).
_Found = list[tuple[tuple[int, ...], str, str]]


def _first_byte(raw: bytes | msgspec.Raw) -> int:
    return memoryview(raw)[0] if len(raw) else -1


def _is_missing(raw: msgspec.Raw) -> bool:
    # Absent, or null (which stands for absent where a member is optional).
    return len(raw) == 0 or (len(raw) == 4 and bytes(raw) == b"null")


def _raise_if_found(found: _Found) -> None:
    if found:
        found.sort(key=lambda entry: entry[0])
        raise BodyInvalid([Problem(pointer, code) for _, pointer, code in found])


# -- entry points ---------------------------------------------------------------------------------


def decode_path_body(body: bytes, limits: Limits) -> Series:
    """The readings of a path-form body; raises `BodyInvalid` or `TooManyReadings`."""
    return _decode_path(body, limits, fast=True)


def decode_body_form(body: bytes, limits: Limits) -> tuple[list[SeriesSpec], bool]:
    """The series of a body-form body and whether it was the list form; raises like above."""
    return _decode_body(body, limits, fast=True)


def _decode_path(body: bytes, limits: Limits, *, fast: bool) -> Series:
    _require_utf8(body)
    readings = _Measurements(body, fast=fast)
    if readings.not_an_array:
        raise BodyInvalid([Problem("", EXPECTED_ARRAY)])
    if len(readings) > limits.max_readings:
        raise TooManyReadings(len(readings), limits.max_readings)
    found: _Found = []
    series = readings.series("", (), limits, found)
    _raise_if_found(found)
    return series


def _decode_body(body: bytes, limits: Limits, *, fast: bool) -> tuple[list[SeriesSpec], bool]:
    _require_utf8(body)
    try:
        top = _RAW.decode(body)
    except (msgspec.DecodeError, RecursionError):
        raise BodyInvalid([Problem("", INVALID_JSON)]) from None
    first = _first_byte(top)
    if first not in (ord("{"), ord("[")):
        raise BodyInvalid([Problem("", EXPECTED_OBJECT)])
    is_list = first == ord("[")
    found: _Found = []
    # First the structure, so the reading limit is enforced before any reading is examined.
    parsed: list[tuple[int, str, _SeriesRaw, _Measurements | None]] = []
    for index, element in enumerate(_RAW_LIST.decode(top) if is_list else [top]):
        base = f"/{index}" if is_list else ""
        try:
            raw = _SERIES_RAW.decode(element)
        except msgspec.ValidationError:
            found.append(((index, 0), base, EXPECTED_OBJECT))
            continue
        data = bytes(element)
        if b"\\" in data or any(data.count(name) > 1 for name in _SERIES_NAMES):
            twice = _members_given_twice(element)
            if twice:
                found.extend(((index, 0), f"{base}/{name}", DUPLICATE_MEMBER) for name in twice)
                continue
        readings = None if len(raw.measurements) == 0 else _Measurements(raw.measurements, fast=fast)
        if readings is None or readings.not_an_array:
            problem = REQUIRED if readings is None else EXPECTED_ARRAY
            found.append(((index, 8), f"{base}/measurements", problem))
            readings = None
        parsed.append((index, base, raw, readings))
    count = sum(len(readings) for *_, readings in parsed if readings is not None)
    if count > limits.max_readings:
        raise TooManyReadings(count, limits.max_readings)
    specs = [_spec(index, base, raw, readings, limits, found) for index, base, raw, readings in parsed]
    _raise_if_found(found)
    return specs, is_list


# -- one measurements array -----------------------------------------------------------------------


class _Reading(msgspec.Struct, rename="camel", gc=False):
    # gc=False: decoded JSON cannot form reference cycles, and tracking 100,000 structs costs.
    read_at: AwareDatetime
    value: Any  # int stays int; fractions reach float_hook as their literal text


class _IntReading(msgspec.Struct, rename="camel", gc=False):
    # Integer values within the limit, checked by msgspec in C (a bool, 1.0 or 1e3 is refused).
    read_at: AwareDatetime
    value: Annotated[int, msgspec.Meta(gt=-VALUE_LIMIT, lt=VALUE_LIMIT)]


class _ReadingRaw(msgspec.Struct, rename="camel"):
    read_at: msgspec.Raw = _ABSENT
    value: msgspec.Raw = _ABSENT


_TYPED = msgspec.json.Decoder(list[_Reading], float_hook=Decimal)
_TYPED_INT = msgspec.json.Decoder(list[_IntReading])
# Whatever the typed decode raises sends the array to the slow path, which names the problem.
_TYPED_FAILURES = (msgspec.MsgspecError, ArithmeticError, RecursionError, ValueError)
# Exact decimal arithmetic: any rounding would raise instead of altering a value.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Inexact, decimal.Rounded],
)


class _Measurements:
    """A measurements array: typed readings when the fast decode worked, else raw elements."""

    def __init__(self, raw: bytes | msgspec.Raw, *, fast: bool) -> None:
        self.raw = raw
        self.typed: list[_Reading] | list[_IntReading] | None = None
        self.items: list[msgspec.Raw] = []
        self.not_an_array = False
        if fast:
            typed = _typed(raw)
            if typed is not None and _two_members_each(raw, len(typed)):
                self.typed = typed
                return
        try:
            self.items = _RAW_LIST.decode(raw)
        except msgspec.ValidationError:  # a subclass of DecodeError: test it first
            self.not_an_array = True
        except (msgspec.DecodeError, RecursionError):  # only a whole body can be malformed
            raise BodyInvalid([Problem("", INVALID_JSON)]) from None

    def __len__(self) -> int:
        return len(self.typed) if self.typed is not None else len(self.items)

    def series(self, base: str, key: tuple[int, ...], limits: Limits, found: _Found) -> Series:
        """The readings, or problems added to `found` (then the series is incomplete)."""
        if self.typed is not None:
            series = _fast_readings(self.typed, limits)
            if series is not None:
                return series
            self.items = _RAW_LIST.decode(self.raw)
        return _slow_readings(self.items, base, key, limits, found)


def _typed(raw: bytes | msgspec.Raw) -> list[_Reading] | list[_IntReading] | None:
    """The typed decode: integer values checked in C when no fraction can be in the array
    (no "." anywhere), else any number with fractions as Decimal; None when it fails."""
    if b"." not in (raw if isinstance(raw, bytes) else bytes(raw)):
        try:
            return _TYPED_INT.decode(raw)
        except _TYPED_FAILURES:
            pass
    try:
        return _TYPED.decode(raw)
    except _TYPED_FAILURES:
        return None


def _fast_readings(readings: list[_Reading] | list[_IntReading], limits: Limits) -> Series | None:
    """The series when every reading is valid (checked in bulk), else None."""
    if not readings:
        return Series(instants=[], values=[], received=0)
    instants = instants_from_datetimes([r.read_at for r in readings])
    ascending = all(map(lt, instants, islice(instants, 1, None)))
    low, high = (instants[0], instants[-1]) if ascending else (min(instants), max(instants))
    if low < limits.low_us or high > limits.high_us:
        return None
    raw_values = [r.value for r in readings]
    if isinstance(readings[0], _IntReading):
        values = [v * MICROS_PER_UNIT for v in raw_values]  # type and range checked by msgspec
    else:
        types = set(map(type, raw_values))
        if not types <= {int, Decimal}:
            return None  # bool, str, None, containers
        if min(raw_values) <= -VALUE_LIMIT or max(raw_values) >= VALUE_LIMIT:
            return None
        if types == {int}:
            values = [v * MICROS_PER_UNIT for v in raw_values]
        else:
            scaled = list(map(_EXACT.multiply, raw_values, repeat(MICROS_PER_UNIT)))
            values = list(map(int, scaled))
            if values != scaled:  # exact int == Decimal comparison: more than 6 decimals
                return None
    if not ascending:
        instants, values, conflicts = _sort_unique(instants, values)
        if conflicts:
            return None
    return Series(instants=instants, values=values, received=len(readings))


def _slow_readings(
    items: list[msgspec.Raw], base: str, key: tuple[int, ...], limits: Limits, found: _Found
) -> Series:
    instants: list[int] = []
    values: list[int] = []
    positions: list[int] = []
    for index, item in enumerate(items):
        pointer = f"{base}/{index}"
        try:
            reading = _READING_RAW.decode(item)
        except msgspec.ValidationError:
            found.append(((*key, index, 0), pointer, EXPECTED_OBJECT))
            continue
        if not _plainly_unique(item, 1):
            twice = _members_given_twice(item)
            if twice:
                found.extend(((*key, index, 2), f"{pointer}/{name}", DUPLICATE_MEMBER) for name in twice)
                continue
        instant = _slow_instant(reading.read_at, limits)
        value = _slow_value(reading.value)
        if isinstance(instant, str):
            found.append(((*key, index, 0), f"{pointer}/readAt", instant))
        if isinstance(value, str):
            found.append(((*key, index, 1), f"{pointer}/value", value))
        if isinstance(instant, int) and isinstance(value, int):
            instants.append(instant)
            values.append(value)
            positions.append(index)
    instants, values, conflicts = _sort_unique(instants, values)
    for position in conflicts:
        index = positions[position]
        found.append(((*key, index, 0), f"{base}/{index}/readAt", DUPLICATE_INSTANT))
    return Series(instants=instants, values=values, received=len(items))


def _slow_instant(raw: msgspec.Raw, limits: Limits) -> int | str:
    """Epoch µs, or the problem code."""
    if len(raw) == 0:
        return REQUIRED
    try:
        instant = parse_instant(_STRING.decode(raw), bounded=False)
    except (msgspec.ValidationError, ValueError):
        return INVALID_INSTANT
    if instant < limits.low_us:
        return INSTANT_TOO_EARLY
    if instant > limits.high_us:
        return INSTANT_TOO_LATE
    return instant


def _slow_value(raw: msgspec.Raw) -> int | str:
    """Micro-units, or the problem code."""
    if len(raw) == 0:
        return REQUIRED
    if _first_byte(raw) not in _NUMBER_START:
        return NOT_A_NUMBER
    try:
        return micros_from_number_text(bytes(raw).decode("ascii"))
    except ValueProblem as problem:
        return problem.problem


# -- the body form's series members ----------------------------------------------------------------


class _SeriesRaw(msgspec.Struct, rename="camel"):
    measurements: msgspec.Raw = _ABSENT
    device_name: msgspec.Raw = _ABSENT
    device_reference: msgspec.Raw = _ABSENT
    register_name: msgspec.Raw = _ABSENT
    register_reference: msgspec.Raw = _ABSENT
    register_kind: msgspec.Raw = _ABSENT
    period: msgspec.Raw = _ABSENT
    unit: msgspec.Raw = _ABSENT


_READING_RAW = msgspec.json.Decoder(_ReadingRaw)
_SERIES_RAW = msgspec.json.Decoder(_SeriesRaw)
_SERIES_NAMES: Final = tuple(
    f'"{name}"'.encode()
    for name in (
        "measurements",
        "deviceName",
        "deviceReference",
        "registerName",
        "registerReference",
        "registerKind",
        "period",
        "unit",
    )
)


# -- members given twice ---------------------------------------------------------------------------


def _plainly_unique(raw: bytes | msgspec.Raw, readings: int) -> bool:
    """True when `raw` (readings objects) cannot hide a repeated member.

    JSON parsers keep one of two equal member names silently, so `{"value": 1, "value": 2}` would
    store a value nobody can see was in doubt. Without escapes, each reading names "readAt" and
    "value" exactly once only if the byte strings occur once per reading; anything else goes to
    the exact check.
    """
    data = bytes(raw) if isinstance(raw, msgspec.Raw) else raw
    return b"\\" not in data and data.count(b'"readAt"') == readings and data.count(b'"value"') == readings


def _two_members_each(raw: bytes | msgspec.Raw, readings: int) -> bool:
    """True when each of the `readings` objects of `raw`, which the typed decode accepted, has
    exactly its two members, so none of them can be given twice (one pass over the bytes).

    Every accepted reading holds at least three JSON strings, six quote characters: the names
    "readAt" and "value" (escaped or not) and the readAt text. A further member, a repeated one
    or a string value adds at least two more, and an escaped quote inside a string adds one, so
    exactly six per reading leaves no room for anything else. Otherwise the slower path decides.
    """
    data = bytes(raw) if isinstance(raw, msgspec.Raw) else raw
    return data.count(b'"') == 6 * readings


def _members_given_twice(raw: bytes | msgspec.Raw) -> list[str]:
    """The member names the outermost object of `raw` gives more than once (exact, slower)."""
    outermost: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        # Called for every object, innermost first: the last call is the outermost object.
        names = [name for name, _ in items]
        outermost[:] = sorted({name for name in names if names.count(name) > 1})

    try:
        json.loads(bytes(raw), object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    return outermost


def _spec(
    index: int, base: str, raw: _SeriesRaw, readings: _Measurements | None, limits: Limits, found: _Found
) -> SeriesSpec:
    def text(member: msgspec.Raw, rank: int, name: str, problem: str = EXPECTED_STRING) -> str | None:
        if _is_missing(member):
            return None
        try:
            return _STRING.decode(member)
        except msgspec.ValidationError:
            found.append(((index, rank), f"{base}/{name}", problem))
            return None

    device_name = text(raw.device_name, 1, "deviceName")
    device_reference = text(raw.device_reference, 2, "deviceReference")
    if _is_missing(raw.device_name) and _is_missing(raw.device_reference):
        found.append(((index, 1), f"{base}/deviceName", REQUIRED))
    register_name = text(raw.register_name, 3, "registerName")
    register_reference = text(raw.register_reference, 4, "registerReference")
    if _is_missing(raw.register_name) and _is_missing(raw.register_reference):
        found.append(((index, 3), f"{base}/registerName", REQUIRED))
    kind_text = text(raw.register_kind, 5, "registerKind", UNKNOWN_KIND)
    kind = None if kind_text is None else _KINDS.get(kind_text)
    if kind is None and kind_text is not None:
        found.append(((index, 5), f"{base}/registerKind", UNKNOWN_KIND))
    period_text = text(raw.period, 6, "period", INVALID_PERIOD)
    period = None
    if period_text is not None:
        try:
            period = parse_period(period_text)
        except ValueError:
            found.append(((index, 6), f"{base}/period", INVALID_PERIOD))
    unit = text(raw.unit, 7, "unit")
    series = Series(instants=[], values=[], received=0)
    if readings is not None:
        series = readings.series(f"{base}/measurements", (index, 9), limits, found)
    return SeriesSpec(
        instants=series.instants,
        values=series.values,
        received=series.received,
        device_name=device_name,
        device_reference=device_reference,
        register_name=register_name,
        register_reference=register_reference,
        register_kind=kind,
        period=period,
        unit=unit,
    )
