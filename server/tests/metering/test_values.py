"""Exact values and instants: canonical texts, exact parsing, and round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zevvy_server.metering.values import (
    MAX_INSTANT_US,
    MIN_INSTANT_US,
    NotANumber,
    TooManyDecimals,
    ValueOutOfRange,
    format_instant,
    format_instants,
    instant_from_datetime,
    instant_to_datetime,
    instants_from_datetimes,
    micros_from_decimal,
    micros_from_int,
    micros_from_number_text,
    parse_instant,
    value_to_decimal,
    value_to_json_text,
)

MICROS = st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1)
INSTANTS = st.integers(min_value=MIN_INSTANT_US, max_value=MAX_INSTANT_US)


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0"),
        (12_000_000, "12"),
        (-500_000, "-0.5"),
        (9_600_000, "9.6"),
        (1, "0.000001"),
        (-1, "-0.000001"),
        (1_000_010, "1.00001"),
        (10**18 - 1, "999999999999.999999"),
        (-(10**18) + 1, "-999999999999.999999"),
    ],
)
def test_value_text_is_shortest_and_exact(micros: int, text: str) -> None:
    assert value_to_json_text(micros) == text
    assert value_to_decimal(micros) == Decimal(text)
    assert str(value_to_decimal(micros)) == text


@given(MICROS)
def test_value_text_round_trips(micros: int) -> None:
    text = value_to_json_text(micros)
    assert "e" not in text.lower()
    assert not ("." in text and text.endswith("0"))
    assert micros_from_number_text(text) == micros
    assert Fraction(text) == Fraction(micros, 10**6)
    assert value_to_decimal(micros) * 10**6 == micros


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1234", 1_234_000_000),
        ("12345678901.234567", 12_345_678_901_234_567),
        ("1.5000000", 1_500_000),
        ("1.23e2", 123_000_000),
        ("1.23E+2", 123_000_000),
        ("-0", 0),
        ("-0.0", 0),
        ("0e99999999999999999999999", 0),
        ("0.0000001e1", 1),
        ("999999999999.999999", 10**18 - 1),
        ("1234567e-6", 1_234_567),
        ("0.1", 100_000),
    ],
)
def test_number_text_is_parsed_exactly(text: str, micros: int) -> None:
    assert micros_from_number_text(text) == micros


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1e-7", TooManyDecimals),
        ("0.0000001", TooManyDecimals),
        ("1.0000000000000000000000000001", TooManyDecimals),
        ("1e-99999999999999999999999", TooManyDecimals),
        ("1000000000000", ValueOutOfRange),
        ("-1000000000000", ValueOutOfRange),
        ("1e12", ValueOutOfRange),
        ("999999999999.9999999", TooManyDecimals),  # still below 10**12
        ("1000000000000.0000001", ValueOutOfRange),  # out of range wins over decimals
        ("1e400", ValueOutOfRange),
        ("1" + "0" * 400, ValueOutOfRange),
        ("9" * 5000, ValueOutOfRange),
        ("1e99999999999999999999", ValueOutOfRange),
        ("NaN", NotANumber),
        ("Infinity", NotANumber),
        ("01", NotANumber),
        ("1.", NotANumber),
        (".5", NotANumber),
        ("+1", NotANumber),
        ("\u0661", NotANumber),  # an Arabic-Indic digit is not a JSON digit
    ],
)
def test_number_text_problems(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        micros_from_number_text(text)


@given(
    negative=st.booleans(),
    whole=st.integers(min_value=0, max_value=10**14),
    fraction=st.text("0123456789", max_size=12),
    exponent=st.one_of(st.none(), st.integers(min_value=-20, max_value=20)),
)
def test_number_text_matches_rational_reference(
    negative: bool, whole: int, fraction: str, exponent: int | None
) -> None:
    text = ("-" if negative else "") + str(whole) + (f".{fraction}" if fraction else "")
    if exponent is not None:
        text += f"e{exponent}"
    exact = Fraction(text)
    if abs(exact) >= 10**12:
        expected: int | type[Exception] = ValueOutOfRange
    elif (exact * 10**6).denominator != 1:
        expected = TooManyDecimals
    else:
        expected = int(exact * 10**6)
    if isinstance(expected, int):
        assert micros_from_number_text(text) == expected
        assert micros_from_decimal(Decimal(text)) == expected
    else:
        with pytest.raises(expected):
            micros_from_number_text(text)


def test_int_range() -> None:
    assert micros_from_int(10**12 - 1) == (10**12 - 1) * 10**6
    with pytest.raises(ValueOutOfRange):
        micros_from_int(10**12)
    with pytest.raises(NotANumber):
        micros_from_decimal(Decimal("NaN"))


# -- instants -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-31T00:00:00Z", "2024-03-31T00:00:00Z"),
        ("2024-03-31T00:00:00.000Z", "2024-03-31T00:00:00Z"),
        ("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"),
        ("2023-12-31T23:00:00-01:00", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00-00:00", "2024-01-01T00:00:00Z"),
        ("2024-01-01t00:00:00z", "2024-01-01T00:00:00Z"),
        ("2024-01-01 00:00:00Z", "2024-01-01T00:00:00Z"),
        ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.500000Z"),
        ("2024-01-01T00:00:00.123456Z", "2024-01-01T00:00:00.123456Z"),
        # beyond the microsecond: rounded to the nearest one, halves up
        ("2024-01-01T00:00:00.0000005Z", "2024-01-01T00:00:00.000001Z"),
        ("2024-01-01T00:00:00.1234564999Z", "2024-01-01T00:00:00.123456Z"),
        ("2024-01-01T23:59:59.9999995Z", "2024-01-02T00:00:00Z"),
        ("1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"),
    ],
)
def test_parse_instant(text: str, expected: str) -> None:
    assert format_instant(parse_instant(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-01T00:00:00",  # naive
        "2024-01-01",  # date only
        "2024-01-01T00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:60Z",  # leap second
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00,5Z",
        "20240101T000000Z",
        " 2024-01-01T00:00:00Z",
        "",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC: no text
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    ],
)
def test_parse_instant_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


def test_unbounded_parse_keeps_instants_without_text() -> None:
    assert parse_instant("0001-01-01T00:00:00+01:00", bounded=False) == MIN_INSTANT_US - 3_600 * 10**6


@given(INSTANTS)
def test_instant_round_trips(epoch_us: int) -> None:
    text = format_instant(epoch_us)
    assert parse_instant(text) == epoch_us
    assert text.endswith("Z")
    assert len(text) in (20, 27)
    moment = instant_to_datetime(epoch_us)
    assert instant_from_datetime(moment) == epoch_us
    assert datetime.fromisoformat(text) == moment


@given(
    st.integers(min_value=MIN_INSTANT_US + 10**6 * 86_400, max_value=MAX_INSTANT_US - 10**6 * 86_400),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_offsets_name_the_same_instant(epoch_us: int, offset_minutes: int) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us)).astimezone(zone)
    assert parse_instant(local.isoformat()) == epoch_us


def test_format_instants_batch_and_bounds() -> None:
    base = parse_instant("2024-03-31T00:00:00Z")
    instants = [base + i * 900_000_000 for i in range(100)] + [base + 1]
    assert format_instants(instants) == [format_instant(i) for i in instants]
    assert format_instants([]) == []
    for bad in (MIN_INSTANT_US - 1, MAX_INSTANT_US + 1):
        with pytest.raises(ValueError):
            format_instant(bad)
        with pytest.raises(ValueError):
            format_instants([bad])
    with pytest.raises(ValueError):
        instant_from_datetime(datetime(2024, 1, 1))  # naive on purpose


# -- many instants at once (the bulk-import path) ----------------------------------------------------

OFFSETS = st.integers(min_value=-23 * 60 + 1, max_value=23 * 60 - 1).map(
    lambda m: timezone(timedelta(minutes=m))
)
MOMENTS = st.builds(
    lambda us, zone: instant_to_datetime(us).astimezone(zone),
    st.one_of(
        # whole seconds in the range MessagePack writes as a 32-bit timestamp, and around it
        st.integers(min_value=-(10**6), max_value=2**33).map(lambda s: s * 1_000_000),
        st.integers(
            min_value=instant_from_datetime(datetime(2, 1, 1, tzinfo=UTC)),
            max_value=instant_from_datetime(datetime(9998, 12, 31, tzinfo=UTC)),
        ),
    ),
    OFFSETS,
)


@given(st.lists(MOMENTS, max_size=40))
def test_many_instants_are_converted_exactly_like_one(moments: list[datetime]) -> None:
    assert instants_from_datetimes(moments) == [instant_from_datetime(m) for m in moments]


@pytest.mark.parametrize("count", [0, 1, 15, 16, 65_535, 65_536, 100_000])
def test_many_whole_second_instants_cross_every_array_header_size(count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    moments = [start + timedelta(minutes=15 * i) for i in range(count)]
    expected = [instant_from_datetime(m) for m in moments]
    assert instants_from_datetimes(moments) == expected
    if count:  # one sub-second or pre-1970 instant anywhere sends the whole list the exact slow way
        for odd in (timedelta(microseconds=1), -timedelta(days=365 * 60)):
            changed = [*moments[:-1], moments[-1] + odd]
            assert instants_from_datetimes(changed) == [*expected[:-1], instant_from_datetime(changed[-1])]


def test_instants_beyond_2106_and_near_the_ends_of_the_calendar() -> None:
    moments = [
        datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC),  # 2**32 - 1 seconds: the last 32-bit timestamp
        datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC),  # 2**32 seconds: a longer form
        datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # year 0 in UTC
        datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),  # year 10000 in UTC
    ]
    assert instants_from_datetimes(moments) == [instant_from_datetime(m) for m in moments]
