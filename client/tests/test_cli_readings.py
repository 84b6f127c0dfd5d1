"""Reading files for `zevvy push`: columns, delimiters, decimal commas, time zones and DST."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from zevvy.cli._readings import Format, InputError, read_rows

ZURICH = ZoneInfo("Europe/Zurich")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_named_columns_delimiter_and_decimal_comma(tmp_path: Path) -> None:
    """Swiss exports: ';' between columns, ',' in numbers, timestamps with an offset."""
    path = write(
        tmp_path, "a.csv", "Zeit;Zählerstand\n2024-06-03T00:15:00+02:00;1234,5\n2024-06-03 00:30:00Z;1235\n"
    )
    rows = read_rows(path, Format("auto", "Zeit", "Zählerstand", ";"))
    assert [(r.line, r.read_at, r.value) for r in rows] == [
        (2, "2024-06-02T22:15:00Z", Decimal("1234.5")),
        (3, "2024-06-03T00:30:00Z", Decimal("1235")),
    ]


def test_naive_timestamps_need_a_time_zone(tmp_path: Path) -> None:
    """Without --timezone a local time is ambiguous, so nothing is sent."""
    path = write(tmp_path, "a.csv", "readAt,value\n2024-06-03T00:15:00,1\n")
    with pytest.raises(InputError) as caught:
        read_rows(path, Format())
    assert "--timezone" in caught.value.problems[0]
    rows = read_rows(path, Format(timezone=ZURICH))
    assert rows[0].read_at == "2024-06-02T22:15:00Z"


def test_the_repeated_autumn_hour_maps_to_distinct_instants(tmp_path: Path) -> None:
    """On 27 Oct 2024 02:00-03:00 happens twice in Zurich; a chronological file keeps eight instants."""
    times = ["02:00", "02:15", "02:30", "02:45", "02:00", "02:15", "02:30", "02:45", "03:00"]
    lines = "".join(f"2024-10-27T{t}:00,{i}\n" for i, t in enumerate(times))
    rows = read_rows(write(tmp_path, "a.csv", "readAt,value\n" + lines), Format(timezone=ZURICH))
    instants = [r.read_at for r in rows]
    assert instants[0] == "2024-10-27T00:00:00Z" and instants[4] == "2024-10-27T01:00:00Z"
    assert instants[-1] == "2024-10-27T02:00:00Z"
    assert len(set(instants)) == len(instants) == 9


def test_a_local_time_skipped_in_spring_is_reported(tmp_path: Path) -> None:
    """02:30 on 31 Mar 2024 does not exist in Zurich."""
    path = write(tmp_path, "a.csv", "readAt,value\n2024-03-31T02:30:00,1\n")
    with pytest.raises(InputError) as caught:
        read_rows(path, Format(timezone=ZURICH))
    assert "does not exist" in caught.value.problems[0]


def test_every_bad_row_is_listed_with_its_line_and_nothing_is_sent(tmp_path: Path) -> None:
    """Problems are collected (up to 20 shown) before any request."""
    text = (
        "readAt,value\n2024-06-03T00:00:00Z,1\nyesterday,2\n"
        "2024-06-03T00:30:00Z,lots\n2024-06-03T00:45:00Z,\n"
    )
    with pytest.raises(InputError) as caught:
        read_rows(write(tmp_path, "a.csv", text), Format())
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 3", "line 4", "line 5"]
    assert "3 invalid row(s)" in str(caught.value)


def test_a_missing_column_names_the_columns_found(tmp_path: Path) -> None:
    """A wrong --time-column (or delimiter) says what the header holds."""
    with pytest.raises(InputError, match="columns: timestamp;value"):
        read_rows(write(tmp_path, "a.csv", "timestamp;value\n"), Format())


def test_json_files_keep_values_exact(tmp_path: Path) -> None:
    """[{"readAt", "value"}] with 6 decimals stays exact."""
    data = (
        '[{"readAt": "2024-06-03T00:00:00Z", "value": 1234.123456},'
        ' {"readAt": "2024-06-03T00:15:00Z", "value": 7}]'
    )
    rows = read_rows(write(tmp_path, "a.json", data), Format())
    assert [r.value for r in rows] == [Decimal("1234.123456"), Decimal(7)]


def test_json_must_be_an_array_of_readings(tmp_path: Path) -> None:
    """Anything else is refused with a hint."""
    with pytest.raises(InputError, match="JSON array"):
        read_rows(write(tmp_path, "a.json", json.dumps({"x": 1})), Format())
