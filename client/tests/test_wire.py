"""Values cross the wire exactly; instants are RFC 3339 with an offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from zevvy._calls import readings_json
from zevvy._wire import dumps, instant_text, loads, number_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234, "1234"),
        (Decimal("1234.567891"), "1234.567891"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.100"), "0.1"),
        (Decimal("-0.0"), "0"),
        (0.1, "0.1"),
        (1234.5, "1234.5"),
        (123456789012.123456, "123456789012.12346"),
        (10**15, "1000000000000000"),
    ],
)
def test_numbers_are_written_digit_for_digit(value: int | float | Decimal, text: str) -> None:
    """ints and Decimals are exact; a float is written as its shortest text, never its binary expansion."""
    assert number_text(value) == text


@pytest.mark.parametrize("value", [True, "12", None, float("nan"), float("inf"), Decimal("NaN")])
def test_non_numbers_are_refused_before_sending(value: object) -> None:
    """Booleans, strings and non-finite values never reach the server as values."""
    with pytest.raises((TypeError, ValueError)):
        number_text(value)


def test_numbers_are_read_as_exact_decimals() -> None:
    """JSON numbers with decimals come back as Decimal, never through float."""
    data = loads(b'{"value": 1234.000001, "big": 999999999999.999999, "int": 7}')
    assert data["value"] == Decimal("1234.000001")
    assert data["big"] == Decimal("999999999999.999999")
    assert data["int"] == 7


def test_instants_are_utc_with_z_and_microseconds_only_when_present() -> None:
    """Aware datetimes of any zone go out in UTC; naive ones are refused."""
    zurich_summer = timezone(timedelta(hours=2))
    assert instant_text(datetime(2024, 6, 3, 2, 15, tzinfo=zurich_summer)) == "2024-06-03T00:15:00Z"
    assert instant_text(datetime(2024, 6, 3, 0, 0, 0, 500, tzinfo=UTC)) == "2024-06-03T00:00:00.0005Z"
    with pytest.raises(ValueError, match="no time zone"):
        instant_text(datetime(2024, 6, 3, 0, 0))


def test_readings_accept_pairs_mappings_and_measurements() -> None:
    """Every accepted shape of a reading serialises to the same wire form."""
    from zevvy import Measurement

    moment = datetime(2024, 6, 3, tzinfo=UTC)
    text = readings_json(
        [
            (moment, 1),
            {"readAt": "2024-06-03T00:15:00+02:00", "value": Decimal("2.5")},
            Measurement(moment, Decimal("3.000001")),
        ]
    )
    assert text == (
        '[{"readAt":"2024-06-03T00:00:00Z","value":1},'
        '{"readAt":"2024-06-03T00:15:00+02:00","value":2.5},'
        '{"readAt":"2024-06-03T00:00:00Z","value":3.000001}]'
    )


def test_dumps_keeps_unicode_and_exact_numbers() -> None:
    """Bodies keep names as written and numbers exact."""
    assert dumps({"name": "Zähler 1/2", "v": Decimal("0.000001"), "n": None}) == (
        '{"name":"Zähler 1/2","v":0.000001,"n":null}'
    )
