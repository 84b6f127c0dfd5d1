"""Text no backend stores: NUL characters, refused at the edge with a 4xx on every backend.

PostgreSQL's text cannot hold U+0000 and SQLite's can, so a NUL that reached a query would be a
500 on one backend and stored data on the other. Names and references in JSON bodies already
refuse every control character (`metering.common.check_text`); this module covers what arrives
outside them: the path, the query string and form fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from zevvy_server.errors import InvalidInput

NUL = "\x00"
PROBLEM = "nul_character"
MESSAGE = "must not contain NUL characters"


def nul_fields(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    """The names of the fields whose name or text value holds a NUL, in order, once each."""
    found: list[str] = []
    for name, value in pairs:
        if (NUL in name or (isinstance(value, str) and NUL in value)) and name not in found:
            found.append(name)
    return found


def refused(names: list[str]) -> InvalidInput:
    """A 422 validation_failed naming each field that held a NUL."""
    details = [
        {
            "pointer": "/" + name.replace(NUL, "").replace("~", "~0").replace("/", "~1"),
            "problem": PROBLEM,
            "message": MESSAGE,
        }
        for name in names
    ]
    return InvalidInput(f"Text {MESSAGE}.", details=details)


async def refuse_nul(request: Request) -> None:
    """Every route's first dependency: 422 when the path or the query string holds a NUL.

    The common case costs one scan of the raw bytes; only a query string that may hold one is
    parsed.
    """
    scope = request.scope
    raw = scope.get("query_string", b"")
    names: list[str] = []
    if NUL in scope["path"]:
        names.extend(nul_fields(request.path_params.items()) or ["path"])
    if b"%00" in raw or b"\x00" in raw:
        names.extend(nul_fields(request.query_params.multi_items()))
    if names:
        raise refused(names)
