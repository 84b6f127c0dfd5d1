"""Reading a file of readings (CSV or JSON) into exact, UTC-stamped rows, all checked before sending."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from zevvy._wire import instant_text, number_text

MAX_REPORTED = 20


@dataclass(frozen=True, slots=True)
class Row:
    """One reading of the file: where it was, its instant (RFC 3339, UTC) and its exact value."""

    line: int
    read_at: str
    value: Decimal


class InputError(Exception):
    """The file cannot be read, or some rows are invalid (up to 20 listed)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Format:
    """How to read the file."""

    kind: str = "auto"
    time_column: str = "readAt"
    value_column: str = "value"
    delimiter: str = ","
    timezone: ZoneInfo | None = None


class _Stamper:
    """Turns timestamps into UTC instants; naive ones are local times in the given zone.

    In the hour repeated when clocks go back, a naive time seen a second time (or earlier than the
    previous row) is taken as the later of the two instants, so a chronological file of local
    times maps one to one onto instants.
    """

    def __init__(self, zone: ZoneInfo | None) -> None:
        self.zone = zone
        self.previous: datetime | None = None
        self.seen_ambiguous: set[datetime] = set()

    def __call__(self, text: str) -> str:
        text = text.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from None
        if moment.tzinfo is not None and moment.utcoffset() is not None:
            return instant_text(moment)
        if self.zone is None:
            raise ValueError(f"{text!r} has no UTC offset; give --timezone (e.g. Europe/Zurich)")
        return instant_text(self._localize(moment, self.zone))

    def _localize(self, naive: datetime, zone: ZoneInfo) -> datetime:
        early = naive.replace(tzinfo=zone, fold=0)
        late = naive.replace(tzinfo=zone, fold=1)
        if early.utcoffset() != late.utcoffset():
            # Either the repeated hour (fold picks) or the skipped hour (does not exist).
            back = (late.astimezone(ZoneInfo("UTC")) - early.astimezone(ZoneInfo("UTC"))) > timedelta(0)
            if not back:
                raise ValueError(f"{naive.isoformat()} does not exist in {zone.key} (clocks went forward)")
            repeated = naive in self.seen_ambiguous or (self.previous is not None and naive <= self.previous)
            self.seen_ambiguous.add(naive)
            self.previous = naive
            return late if repeated else early
        self.previous = naive
        return early


def _value(raw: Any, delimiter: str) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"not a number: {raw!r}")
    if isinstance(raw, int | Decimal):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(number_text(raw))
    text = str(raw).strip()
    if "," in text and delimiter != ",":
        # A decimal comma, as Swiss and German exports write it.
        text = text.replace("'", "").replace(".", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _csv_rows(path: Path, fmt: Format) -> Iterator[tuple[int, Any, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter=fmt.delimiter)
        columns = reader.fieldnames or []
        missing = [c for c in (fmt.time_column, fmt.value_column) if c not in columns]
        if missing:
            wanted = ", ".join(repr(c) for c in missing)
            raise InputError(
                f"{path}: no column {wanted} (columns: {', '.join(columns) or 'none'}); "
                "name them with --time-column / --value-column, and check --delimiter"
            )
        for record in reader:
            yield reader.line_num, record.get(fmt.time_column), record.get(fmt.value_column)


def _json_rows(path: Path) -> Iterator[tuple[int, Any, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("measurements"), list):
        data = data["measurements"]
    if not isinstance(data, list):
        raise InputError(f'{path}: expected a JSON array of {{"readAt", "value"}} objects')
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            yield index, None, None
            continue
        yield index, item.get("readAt"), item.get("value")


def read_rows(path: Path, fmt: Format) -> list[Row]:
    """Every row of `path`, or `InputError` listing the first problems (nothing is sent then)."""
    kind = fmt.kind
    if kind == "auto":
        kind = "json" if path.suffix.lower() == ".json" else "csv"
    try:
        source = _json_rows(path) if kind == "json" else _csv_rows(path, fmt)
        stamp = _Stamper(fmt.timezone)
        rows: list[Row] = []
        problems: list[str] = []
        count = 0
        where = "item" if kind == "json" else "line"
        for position, read_at, value in source:
            try:
                if not isinstance(read_at, str) or not read_at.strip():
                    raise ValueError("no timestamp")
                rows.append(Row(position, stamp(read_at), _value(value, fmt.delimiter)))
            except ValueError as exc:
                count += 1
                if len(problems) < MAX_REPORTED:
                    problems.append(f"{where} {position}: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not valid CSV ({exc})") from None
    if problems:
        raise InputError(f"{path}: {count} invalid row(s); nothing was sent", problems)
    return rows
