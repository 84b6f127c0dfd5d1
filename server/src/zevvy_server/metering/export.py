"""CSV renderings of readings and consumption: UTC and local-time columns, `,` or `;`.

Values keep the JSON number text (a `.` as decimal separator, whatever the delimiter), so a
spreadsheet import never meets a thousands separator or a rounded number. Local times carry
their offset (``2025-10-26T02:30:00+01:00``), which keeps the two 02:30 of a DST change apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta, tzinfo

from zevvy_server.metering.aggregation import Bucket
from zevvy_server.metering.errors import invalid
from zevvy_server.metering.values import EPOCH, format_instant, value_to_json_text

DELIMITERS = (",", ";")


def check_delimiter(delimiter: str) -> str:
    """`,` or `;`."""
    if delimiter not in DELIMITERS:
        raise invalid("/delimiter", "invalid_delimiter", "delimiter must be ',' or ';'")
    return delimiter


def local_text(epoch_us: int, tz: tzinfo) -> str:
    """The local time with its offset, ISO 8601."""
    return (EPOCH + timedelta(microseconds=epoch_us)).astimezone(tz).isoformat()


def readings_csv(instants: Sequence[int], values: Sequence[int], tz: tzinfo, delimiter: str) -> str:
    """``readAt,localTime,value`` lines with a header."""
    d = check_delimiter(delimiter)
    lines = [f"readAt{d}localTime{d}value"]
    lines.extend(
        f"{format_instant(t)}{d}{local_text(t, tz)}{d}{value_to_json_text(v)}"
        for t, v in zip(instants, values, strict=True)
    )
    return "\r\n".join(lines) + "\r\n"


def buckets_csv(buckets: Iterable[Bucket], tz: tzinfo, delimiter: str) -> str:
    """One line per bucket with UTC and local edges."""
    d = check_delimiter(delimiter)
    header = ["from", "to", "localFrom", "localTo", "value", "estimated", "partial", "resets"]
    header += ["expectedSlots", "receivedSlots"]
    lines = [d.join(header)]
    for b in buckets:
        value = "" if b.value is None else value_to_json_text(b.value)
        fields = [format_instant(b.from_us), format_instant(b.to_us), local_text(b.from_us, tz)]
        fields += [local_text(b.to_us, tz), value, str(b.estimated).lower(), str(b.partial).lower()]
        fields += [str(b.resets), str(b.expected_slots), str(b.received_slots)]
        lines.append(d.join(fields))
    return "\r\n".join(lines) + "\r\n"
