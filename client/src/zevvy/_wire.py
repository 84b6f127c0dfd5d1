"""JSON on the wire: exact numbers both ways, instants in RFC 3339.

Values never pass through ``float`` on the way in: JSON numbers are read as ``Decimal``. On the way
out an ``int`` or ``Decimal`` is written digit for digit and a ``float`` as its shortest text
(``0.1`` stays ``0.1``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Number = int | float | Decimal
"""What the SDK accepts as a reading's value."""


def loads(content: bytes | str) -> Any:
    """Parse JSON, with every non-integer number as an exact ``Decimal``."""
    return json.loads(content, parse_float=Decimal)


def number_text(value: object) -> str:
    """The exact JSON text of a number; refuses booleans, NaN, infinities and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"a value must be a number (int, float or Decimal), not {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a value must be finite, not {value!r}")
        value = Decimal(repr(value))
    if not value.is_finite():
        raise ValueError(f"a value must be finite, not {value!r}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def to_decimal(value: Any) -> Decimal:
    """A JSON number read by `loads` as a ``Decimal`` (ints included)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected a JSON number, got {value!r}")
    return Decimal(value)


def instant_text(moment: datetime | str) -> str:
    """An aware datetime as RFC 3339 in UTC (``...Z``); a string is passed through as given."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} has no time zone; give an aware datetime (e.g. tzinfo=UTC)")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant from the server as an aware datetime in UTC."""
    return datetime.fromisoformat(text).astimezone(UTC)


def dumps(value: Any) -> str:
    """Compact JSON with exact numbers (``Decimal`` and ``float`` as in `number_text`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return number_text(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return json.dumps(instant_text(value))
    if isinstance(value, Mapping):
        return (
            "{"
            + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def camel(name: str) -> str:
    """``last_read_at`` → ``lastReadAt``; ``from_`` → ``from``."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def as_json(value: Any) -> Any:
    """A model (dataclass) as JSON-ready data: camelCase members, instants as text, exact numbers kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    return value
