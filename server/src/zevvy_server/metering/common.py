"""What every metering service shares: the acting caller, pages and cursors, names."""

from __future__ import annotations

import base64
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from zevvy_server.errors import InsufficientScope, PermissionDenied
from zevvy_server.metering.errors import invalid

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_NAME = 200
MAX_REFERENCE = 255


@dataclass(frozen=True)
class Actor:
    """Who acts: a user through an API client, within one organization, with granted scopes."""

    organization_id: uuid.UUID
    user_id: uuid.UUID | None = None
    client_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    role: str = "editor"

    def require_scope(self, scope: str) -> None:
        """Raise `InsufficientScope` unless the token carries `scope`."""
        if scope not in self.scopes:
            raise InsufficientScope(scope)

    def require_writer(self) -> None:
        """Viewers read; only editors and admins change data."""
        if self.role == "viewer":
            raise PermissionDenied("A viewer cannot change data.")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None at the end)."""

    items: list[T]
    next_cursor: str | None


def normalize_name(name: str) -> str:
    """Names compare in Unicode NFC form."""
    return unicodedata.normalize("NFC", name)


def check_text(value: str, pointer: str, max_length: int) -> str:
    """A required name or reference: 1..max_length characters, no control characters."""
    if not value or not value.strip():
        raise invalid(pointer, "empty", "must not be empty")
    if len(value) > max_length:
        raise invalid(pointer, "too_long", f"at most {max_length} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise invalid(pointer, "control_character", "must not contain control characters")
    return value


def check_limit(limit: int | None) -> int:
    """A list's page size: default 100, 1..1000."""
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("/limit", "out_of_range", f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    """An opaque cursor continuing after `key` in a list of `kind`."""
    raw = orjson.dumps([kind, *key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(kind: str, cursor: str | None, *types: type) -> list[Any] | None:
    """The key a cursor continues after (members of `types`), or None for the first page;
    422 for a cursor of another list or a tampered one (text with a NUL is tampered: no stored
    key holds one)."""
    if cursor is None:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        data = None
    if (
        not isinstance(data, list)
        or len(data) != len(types) + 1
        or data[0] != kind
        or not all(type(v) is t for v, t in zip(data[1:], types, strict=True))
        or any(isinstance(v, str) and "\x00" in v for v in data[1:])
    ):
        raise invalid("/cursor", "invalid_cursor", "the cursor does not belong to this list")
    return data[1:]
