"""Bulk-import bodies: exact decoding, every problem with its pointer, fast path == slow path."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zevvy_server.metering.codec import (
    BodyInvalid,
    Limits,
    Series,
    SeriesSpec,
    TooManyReadings,
    _decode_body,
    _decode_path,
    decode_body_form,
    decode_path_body,
)
from zevvy_server.metering.periods import Period
from zevvy_server.metering.values import parse_instant

NOW = parse_instant("2024-06-01T12:00:00Z")
LIMITS = Limits(now_us=NOW)
T0 = parse_instant("2024-03-31T00:00:00Z")
Q = 900 * 10**6


def path(body: bytes | str, limits: Limits = LIMITS) -> Series:
    return decode_path_body(body.encode() if isinstance(body, str) else body, limits)


def problems(body: bytes | str, *, form: str = "path", limits: Limits = LIMITS) -> list[tuple[str, str]]:
    raw = body.encode() if isinstance(body, str) else body
    decode = decode_path_body if form == "path" else decode_body_form
    with pytest.raises(BodyInvalid) as caught:
        decode(raw, limits)
    return [(p.pointer, p.problem) for p in caught.value.problems]


def reading(read_at: str, value: str) -> str:
    return f'{{"readAt": "{read_at}", "value": {value}}}'


# -- path form ------------------------------------------------------------------------------------


def test_values_are_exact_and_readings_sorted() -> None:
    body = (
        "["
        + ",".join(
            [
                reading("2024-03-31T00:15:00Z", "12345678901.234567"),
                reading("2024-03-31T00:00:00.000Z", "1234"),
                reading("2024-03-31T00:30:00Z", "0.1"),
                reading("2024-03-31T00:45:00Z", "1.23e2"),
                reading("2024-03-31T01:00:00Z", "-0.000001"),
                reading("2024-03-31T01:15:00Z", "1.5000000"),
            ]
        )
        + "]"
    )
    series = path(body)
    assert series.instants == [T0 + i * Q for i in range(6)]
    assert series.values == [1_234_000_000, 12_345_678_901_234_567, 100_000, 123_000_000, -1, 1_500_000]
    assert series.received == 6


def test_same_instant_same_value_counts_once() -> None:
    body = (
        "["
        + ",".join(
            [
                reading("2024-01-01T00:00:00Z", "5"),
                reading("2024-01-01T01:00:00+01:00", "5.0"),
                reading("2024-01-01T00:15:00Z", "6"),
            ]
        )
        + "]"
    )
    series = path(body)
    assert series.instants == [parse_instant("2024-01-01T00:00:00Z"), parse_instant("2024-01-01T00:15:00Z")]
    assert series.values == [5_000_000, 6_000_000]
    assert series.received == 3


def test_duplicate_instants_with_other_values() -> None:
    body = (
        "["
        + ",".join(
            [
                reading("2024-01-01T00:00:00Z", "5"),
                reading("2024-01-01T00:15:00Z", "6"),
                reading("2024-01-01T01:00:00+01:00", "7"),
                reading("2024-01-01T00:00:00.000000Z", "5"),
            ]
        )
        + "]"
    )
    with pytest.raises(BodyInvalid) as caught:
        path(body)
    assert caught.value.code == "duplicate_instant"
    assert caught.value.details() == [{"pointer": "/2/readAt", "problem": "duplicate_instant"}]
    # with any other problem, the request is plainly invalid
    body = body[:-1] + ',{"readAt": "2024-01-01T00:30:00Z", "value": "7"}]'
    with pytest.raises(BodyInvalid) as caught:
        path(body)
    assert caught.value.code == "validation_failed"
    assert caught.value.total == 2


def test_every_reading_problem_with_its_pointer() -> None:
    body = (
        "["
        '{"readAt": "2024-03-31", "value": "1"},'
        '{"readAt": "1999-12-31T23:59:59Z", "value": 1e-7},'
        '{"readAt": "2024-06-02T12:00:01Z", "value": 1e400},'
        "5,"
        '{"value": null},'
        '{"readAt": null, "value": true},'
        '{"readAt": "2024-03-31T00:00:00", "value": {}},'
        '{"readAt": 20240331, "value": []},'
        '{"readAt": "2024-03-31T00:00:00Z", "value": 1000000000000},'
        '{"readAt": "2024-03-31T00:00:00Z", "value": 0.0000001},'
        '{"readAt": "2024-03-31T00:15:00Z"}'
        "]"
    )
    assert problems(body) == [
        ("/0/readAt", "invalid_instant"),
        ("/0/value", "not_a_number"),
        ("/1/readAt", "instant_too_early"),
        ("/1/value", "too_many_decimals"),
        ("/2/readAt", "instant_too_late"),
        ("/2/value", "out_of_range"),
        ("/3", "expected_object"),
        ("/4/readAt", "required"),
        ("/4/value", "not_a_number"),
        ("/5/readAt", "invalid_instant"),
        ("/5/value", "not_a_number"),
        ("/6/readAt", "invalid_instant"),
        ("/6/value", "not_a_number"),
        ("/7/readAt", "invalid_instant"),
        ("/7/value", "not_a_number"),
        ("/8/value", "out_of_range"),
        ("/9/value", "too_many_decimals"),
        ("/10/value", "required"),
    ]


def test_window_edges() -> None:
    limits = Limits(now_us=NOW, min_us=T0, max_ahead_us=Q)
    ok = path(f"[{reading('2024-03-31T00:00:00Z', '1')}, {reading('2024-06-01T12:15:00Z', '1')}]", limits)
    assert ok.instants == [T0, NOW + Q]
    late = f"[{reading('2024-03-30T23:59:59.999999Z', '1')}, {reading('2024-06-01T12:15:00.000001Z', '1')}]"
    assert problems(late, limits=limits) == [
        ("/0/readAt", "instant_too_early"),
        ("/1/readAt", "instant_too_late"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[1,2",
        b"[1,2] x",
        b"[NaN]",
        b'[{"readAt": "2024-03-31T00:00:00Z", "value": Infinity}]',
        b'[{"readAt": "2024-03-31T00:00:00Z", "value": -Infinity}]',
        b"[1,]",
        b'[{"readAt": "\xff"}]',
        b'[{"readAt": "2024-03-31T00:00:00Z", "value": 1, "note": "\xed\xa0\x80"}]',  # a UTF-8 surrogate
        b'[{"readAt": "2024-03-31T00:00:00Z", "value": 1, "note": "\xc3"}]',
        b"\xef\xbb\xbf[]",  # a byte-order mark is not JSON
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_invalid_json(body: bytes) -> None:
    assert problems(body) == [("", "invalid_json")]
    assert problems(body, form="body") == [("", "invalid_json")]


@pytest.mark.parametrize("body", [b"{}", b'"x"', b"1", b"null"])
def test_path_form_needs_an_array(body: bytes) -> None:
    assert problems(body) == [("", "expected_array")]


def test_unknown_members_are_ignored_even_when_odd() -> None:
    body = '[{"readAt": "2024-03-31T00:00:00Z", "value": 2, "x": 1' + "0" * 5000 + ', "y": [[{"z": 1e999}]]}]'
    assert path(body).values == [2_000_000]
    assert path("[]") == Series(instants=[], values=[], received=0)


def test_huge_numbers_do_not_hang() -> None:
    started = time.perf_counter()
    for literal in (
        "1" * 400,
        "1" * 5000,
        "1e400",
        "1" * 100_000 + ".5",
        "-" + "9" * 5000,
        "1e99999999999999999999",
    ):
        assert problems(f"[{reading('2024-03-31T00:00:00Z', literal)}]") == [("/0/value", "out_of_range")]
    assert problems(f"[{reading('2024-03-31T00:00:00Z', '1e-99999999999999999999')}]") == [
        ("/0/value", "too_many_decimals")
    ]
    assert path(f"[{reading('2024-03-31T00:00:00Z', '0e99999999999999999999')}]").values == [0]
    assert path(f"[{reading('2024-03-31T00:00:00Z', '0.' + '0' * 5000 + '1e5001')}]").values == [1_000_000]
    assert time.perf_counter() - started < 5


def test_details_are_capped_at_100_with_the_total() -> None:
    body = "[" + ",".join(reading("2024-03-31T00:00:00Z", '"x"') for _ in range(250)) + "]"
    with pytest.raises(BodyInvalid) as caught:
        path(body)
    assert caught.value.total == 250
    assert len(caught.value.problems) == 100
    assert caught.value.problems[99].pointer == "/99/value"


def test_too_many_readings_is_checked_before_validation() -> None:
    limits = Limits(now_us=NOW, max_readings=3)
    good = "[" + ",".join(reading(f"2024-03-31T0{i}:00:00Z", "1") for i in range(4)) + "]"
    bad = "[" + ",".join(reading("nonsense", "true") for _ in range(4)) + "]"
    for body in (good, bad):
        with pytest.raises(TooManyReadings) as caught:
            path(body, limits)
        assert (caught.value.count, caught.value.limit) == (4, 3)
    assert len(path(good[:-1].rsplit(",", 2)[0] + "]", limits).instants) == 3
    series = ",".join(f'{{"deviceName": "d", "registerName": "r", "measurements": {bad}}}' for _ in range(2))
    with pytest.raises(TooManyReadings) as caught:
        decode_body_form(f"[{series}]".encode(), Limits(now_us=NOW, max_readings=7))
    assert caught.value.count == 8


# -- body form ------------------------------------------------------------------------------------


def test_body_form_single_and_list() -> None:
    measurements = f"[{reading('2024-03-31T00:15:00Z', '2')}, {reading('2024-03-31T00:00:00Z', '1')}]"
    single = f'{{"deviceName": "Meter", "registerReference": "1-0:1.8.0", "measurements": {measurements}}}'
    specs, is_list = decode_body_form(single.encode(), LIMITS)
    assert not is_list
    assert specs == [
        SeriesSpec(
            instants=[T0, T0 + Q],
            values=[1_000_000, 2_000_000],
            received=2,
            device_name="Meter",
            register_reference="1-0:1.8.0",
        )
    ]
    full = (
        '{"deviceReference": "m-1", "registerName": "Bezug", "registerKind": "interval", '
        f'"period": "PT60M", "unit": "kWh", "extra": 1, "measurements": {measurements}}}'
    )
    specs, is_list = decode_body_form(f"[{full}, {single}]".encode(), LIMITS)
    assert is_list
    assert [s.device_reference for s in specs] == ["m-1", None]
    assert specs[0].register_kind == "interval"
    assert specs[0].period == Period(3_600)
    assert specs[0].unit == "kWh"
    assert decode_body_form(b"[]", LIMITS) == ([], True)


def test_body_form_problems() -> None:
    body = (
        '[{"deviceName": 5, "registerKind": "gauge", "period": "PT7M", "unit": 3, "measurements": ['
        + reading("2024-03-31T00:00:00Z", "1")
        + ","
        + reading("2024-03-31T01:00:00+01:00", "2")
        + "]},"
        ' 3, {"deviceName": "a", "registerName": "b", "measurements": {}},'
        ' {"deviceName": null, "registerName": "b", "registerKind": 1, "period": 15, "measurements": null},'
        ' {"deviceReference": "a", "registerReference": "b"},'
        ' {"deviceName": "a", "registerName": "b", "measurements": ['
        + reading("2024-03-31T00:00:00Z", '"x"')
        + "]}]"
    )
    assert problems(body, form="body") == [
        ("/0/deviceName", "expected_string"),
        ("/0/registerName", "required"),
        ("/0/registerKind", "unknown_kind"),
        ("/0/period", "invalid_period"),
        ("/0/unit", "expected_string"),
        ("/0/measurements/1/readAt", "duplicate_instant"),
        ("/1", "expected_object"),
        ("/2/measurements", "expected_array"),
        ("/3/deviceName", "required"),
        ("/3/registerKind", "unknown_kind"),
        ("/3/period", "invalid_period"),
        ("/3/measurements", "expected_array"),
        ("/4/measurements", "required"),
        ("/5/measurements/0/value", "not_a_number"),
    ]
    single = '{"measurements": [{"readAt": "2024-03-31T00:00:00Z", "value": 1}]}'
    assert problems(single, form="body") == [("/deviceName", "required"), ("/registerName", "required")]
    assert problems(b'"x"', form="body") == [("", "expected_object")]
    assert problems(b"[[]]", form="body") == [("/0", "expected_object")]


# -- the fast path never decides differently from the slow path ----------------------------------

_GOOD_INSTANTS = [
    '"2024-03-31T00:00:00Z"',
    '"2024-03-31T00:00:00.000Z"',
    '"2024-03-31T01:00:00+01:00"',
    '"2024-03-31T00:15:00Z"',
    '"2024-03-31T00:15:00.0000004Z"',
    '"2024-03-31T00:15:00.0000005Z"',
    '"2024-03-31t00:30:00z"',
    '"2024-03-31 00:30:00Z"',
    '"2024-03-31T02:30:00+0200"',
    '"2024-03-31T00:45:00.123456789Z"',
    '"2000-01-01T00:00:00Z"',
    '"2024-06-02T12:00:00Z"',
    '"2024\\u002d03-31T00:00:00Z"',
]
_BAD_INSTANTS = [
    '"2024-03-31T00:45:00"',
    '"2024-03-31"',
    '"2024-03-31T24:00:00Z"',
    '"2024-02-30T00:00:00Z"',
    '"1999-12-31T23:59:59.999999Z"',
    '"2024-06-02T12:00:00.000001Z"',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-01:00"',
    "20240331",
    "null",
    "true",
    "{}",
]
_GOOD_VALUES = st.one_of(
    st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1).map(str),
    st.sampled_from(
        ["0", "-0", "1", "2", "-0.0", "1.5", "1.50", "0.1", "1e0", "1.5e1", "2E-6", "0e999999999999999999999"]
    ),
    st.builds(
        lambda whole, frac: f"{whole}.{frac}",
        st.integers(min_value=-(10**11), max_value=10**11),
        st.text("0123456789", min_size=1, max_size=6),
    ),
)
_ANY_VALUES = st.one_of(
    _GOOD_VALUES,
    st.integers(min_value=-(10**13), max_value=10**13).map(str),
    st.builds(
        lambda whole, frac, exp: f"{whole}.{frac}{exp}",
        st.integers(min_value=-(10**12), max_value=10**12),
        st.text("0123456789", min_size=1, max_size=9),
        st.sampled_from(["", "e0", "e1", "E-2", "e+3", "e-7", "e12"]),
    ),
    st.sampled_from(
        ['"1"', "true", "false", "null", "[]", "{}", "1e400", "1" * 30, "1" * 5000, "9e999999999999999999999"]
    ),
)


@st.composite
def _styled_instant(draw: st.DrawFn) -> str:
    moment = datetime(2024, 3, 31, tzinfo=UTC) + timedelta(minutes=15 * draw(st.integers(0, 300)))
    offset = draw(st.sampled_from([0, 60, -150, 14 * 60]))
    local = moment.astimezone(timezone(timedelta(minutes=offset)))
    text = local.strftime("%Y-%m-%d") + draw(st.sampled_from("Tt ")) + local.strftime("%H:%M:%S")
    text += draw(st.sampled_from(["", ".000", ".0000004", ".000000000"]))
    if offset == 0 and draw(st.booleans()):
        return f'"{text}{draw(st.sampled_from("Zz"))}"'
    sign, minutes = ("-" if offset < 0 else "+"), abs(offset)
    colon = draw(st.sampled_from([":", ""]))
    return f'"{text}{sign}{minutes // 60:02d}{colon}{minutes % 60:02d}"'


@st.composite
def _readings(draw: st.DrawFn) -> str:
    # Mostly valid bodies in half of the cases, so the fast path's answers get compared too.
    careful = draw(st.booleans())
    good_instants = st.one_of(st.sampled_from(_GOOD_INSTANTS), _styled_instant(), _styled_instant())
    any_instants = st.sampled_from(_GOOD_INSTANTS + _BAD_INSTANTS)
    items = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        if not careful and draw(st.integers(min_value=0, max_value=20)) == 0:
            items.append(draw(st.sampled_from(["1", "null", '"x"', "[]"])))
            continue
        slip = not careful or draw(st.integers(min_value=0, max_value=30)) == 0
        members = []
        # Member names, sometimes escaped, sometimes given twice (refused as duplicate_member).
        read_at = draw(st.sampled_from(['"readAt"', '"readAt"', '"read\\u0041t"']))
        value = draw(st.sampled_from(['"value"', '"value"', '"v\\u0061lue"']))
        if careful or draw(st.integers(min_value=0, max_value=15)):
            members.append(f"{read_at}: {draw(any_instants if slip else good_instants)}")
        if careful or draw(st.integers(min_value=0, max_value=15)):
            members.append(f"{value}: {draw(_ANY_VALUES if slip else _GOOD_VALUES)}")
        if draw(st.integers(min_value=0, max_value=10)) == 0:
            members.append(draw(st.sampled_from([f"{read_at}: {draw(good_instants)}", f"{value}: 7"])))
        if draw(st.booleans()):
            extra = [
                '"x": 1' + "0" * 5000,
                '"note": "Zähler"',
                '"v": [1e999]',
                '"q": "a\\"b"',
                '"n": {"value": 1}',
            ]
            members.append(draw(st.sampled_from(extra)))
        items.append("{" + ", ".join(draw(st.permutations(members))) + "}")
    return "[" + ", ".join(items) + "]"


def _outcome(decode: Callable[..., object], body: bytes, **fast: bool) -> object:
    try:
        return decode(body, LIMITS, **fast)
    except BodyInvalid as exc:
        return ("invalid", exc.code, exc.total, exc.details())
    except TooManyReadings as exc:
        return ("too_many", exc.count)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_readings())
def test_path_fast_path_agrees_with_slow_path(body_text: str) -> None:
    body = body_text.encode()
    json.loads(body_text, parse_int=str)  # the strategy writes valid JSON
    assert _outcome(decode_path_body, body) == _outcome(_decode_path, body, fast=False)


@st.composite
def _body_forms(draw: st.DrawFn) -> str:
    careful = draw(st.booleans())  # then only the readings may be wrong

    def one() -> str:
        members = [f'"measurements": {draw(_readings())}']
        for name, good, bad in (
            ("deviceName", ['"d"', '""'], ["null", "1"]),
            ("deviceReference", ['"ref"'], ["null", "[]"]),
            ("registerName", ['"r"'], ["null", "{}"]),
            ("registerReference", ['"1-0:1.8.0"'], ["[]", "null"]),
            ("registerKind", ['"counter"', '"interval"', "null"], ['"gauge"', "2"]),
            ("period", ['"PT15M"', '"P1D"', '"PT24H"', "null"], ['"PT7M"', "900"]),
            ("unit", ['"kWh"', "null"], ["1"]),
        ):
            required = careful and name in ("deviceName", "registerName")
            if required or draw(st.booleans()):
                value = draw(st.sampled_from(good if careful else good + bad))
                members.append(f'"{name}": {value}')
        return "{" + ", ".join(draw(st.permutations(members))) + "}"

    if draw(st.booleans()):
        return one()
    return "[" + ", ".join(one() for _ in range(draw(st.integers(min_value=0, max_value=3)))) + "]"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_body_forms())
def test_body_fast_path_agrees_with_slow_path(body_text: str) -> None:
    body = body_text.encode()
    assert _outcome(decode_body_form, body) == _outcome(_decode_body, body, fast=False)


@st.composite
def _mutated_instant(draw: st.DrawFn) -> str:
    text = list(draw(st.sampled_from(["2024-03-31T00:15:00Z", "2024-03-31T01:15:00.123456+01:00"])))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        where = draw(st.integers(min_value=0, max_value=len(text)))
        char = draw(st.sampled_from("0123456789-:.TtZz +,"))
        operation = draw(st.sampled_from(["insert", "replace", "delete"]))
        if operation == "insert":
            text.insert(where, char)
        elif where < len(text):
            text[where : where + 1] = [char] if operation == "replace" else []
    return "".join(text)


@settings(max_examples=500)
@given(_mutated_instant())
def test_instant_texts_decide_the_same_on_both_paths(text: str) -> None:
    body = json.dumps([{"readAt": text, "value": 1}]).encode()
    assert _outcome(decode_path_body, body) == _outcome(_decode_path, body, fast=False)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1, "value": 2}]', "/0/value"),
        (b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1, "val\\u0075e": 2}]', "/0/value"),
        (b'[{"readAt": "2024-01-01T00:00:00Z", "readAt": "2024-01-01T01:00:00Z", "value": 1}]', "/0/readAt"),
        (
            b'[{"read\\u0041t": "2024-01-01T00:00:00Z", "readAt": "2024-01-01T01:00:00Z", "value": 1}]',
            "/0/readAt",
        ),
        (
            b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1},'
            b' {"value": 3, "readAt": "2024-01-01T01:00:00Z", "value": 2}]',
            "/1/value",
        ),
        (b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1.5, "value": 2.5}]', "/0/value"),
    ],
)
def test_a_member_given_twice_in_a_reading_is_refused(body: bytes, pointer: str) -> None:
    """JSON parsers keep one of two equal members silently; we refuse instead of guessing."""
    with pytest.raises(BodyInvalid) as caught:
        decode_path_body(body, Limits(now_us=NOW_FOR_DUPLICATES))
    assert caught.value.details() == [{"pointer": pointer, "problem": "duplicate_member"}]


def test_a_series_member_given_twice_is_refused_and_nested_repeats_are_not_confused() -> None:
    """deviceName twice is refused; a repeated name inside an ignored nested object is fine."""
    limits = Limits(now_us=NOW_FOR_DUPLICATES)
    twice = b'{"deviceName": "a", "deviceName": "b", "registerName": "r", "measurements": []}'
    with pytest.raises(BodyInvalid) as caught:
        decode_body_form(twice, limits)
    assert caught.value.details() == [{"pointer": "/deviceName", "problem": "duplicate_member"}]
    nested = b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1, "meta": {"value": 3, "value": 4}}]'
    assert decode_path_body(nested, limits).values == [1_000_000]
    escaped = (
        b'[{"read\\u0041t": "2024-01-01T00:00:00Z", "v\\u0061lue": 2},'
        b' {"readAt": "2024-01-01T01:00:00Z", "value": 3}]'
    )
    assert decode_path_body(escaped, limits).values == [2_000_000, 3_000_000]
    extra = (
        b'[{"readAt": "2024-01-01T00:00:00Z", "value": 1, "note": "x"},'
        b' {"readAt": "2024-01-01T01:00:00Z", "value": 2}]'
    )
    assert decode_path_body(extra, limits).values == [1_000_000, 2_000_000]


NOW_FOR_DUPLICATES = 1_800_000_000_000_000
