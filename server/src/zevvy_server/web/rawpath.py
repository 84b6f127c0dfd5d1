"""Route on the raw path so that ``%2F`` inside a segment is not a separator.

Uvicorn hands Starlette the decoded path, so ``/deviceRef/a%2Fb/...`` would route as three
segments. This middleware rebuilds ``scope["path"]`` from ``scope["raw_path"]`` keeping ``%2F`` and
``%25`` escaped inside each segment; `RefConvertor`, registered as the ``str`` convertor before any
route is declared, decodes each parameter exactly once. Starlette has declined to route on the raw
path (starlette#1828), so this stays ours.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from starlette.convertors import CONVERTOR_TYPES, Convertor
from starlette.types import ASGIApp, Receive, Scope, Send


def _segment(raw: str) -> str:
    return unquote(raw).replace("%", "%25").replace("/", "%2F")


class RefConvertor(Convertor[str]):
    """A path parameter that may contain any character, ``/`` included, as one segment."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


def install_convertor() -> None:
    """Make every plain ``{param}`` decode from the raw path (call before declaring routes)."""
    CONVERTOR_TYPES["str"] = RefConvertor()


class RawPathMiddleware:
    """Rebuild the routing path from the raw bytes, segment by segment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw: Any = scope.get("raw_path")
            if raw and b"%" in raw:
                text = raw.decode("latin-1")
                path = "/".join(_segment(s) for s in text.split("/"))
                # Re-encode as UTF-8 text: unquote gives str; keep the decoded characters.
                scope = dict(scope)
                scope["path"] = path
        await self.app(scope, receive, send)
