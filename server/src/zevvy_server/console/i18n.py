"""Translations: English source strings as keys, one JSON catalogue per further language.

Adding a language is adding ``translations/<code>.json``; a missing entry falls back to English.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

TRANSLATIONS = Path(__file__).parent / "translations"
DEFAULT = "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The catalogue of `language` (empty for English)."""
    path = TRANSLATIONS / f"{language}.json"
    if language == DEFAULT or not path.is_file():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def languages() -> tuple[str, ...]:
    """Every language the console speaks."""
    return (DEFAULT, *sorted(p.stem for p in TRANSLATIONS.glob("*.json")))


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if we have it, else the best of Accept-Language, else English."""
    available = languages()
    if cookie in available:
        return cookie
    weighted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        weighted.append((q, lang.split("-")[0].lower()))
    for _, lang in sorted(weighted, key=lambda x: -x[0]):
        if lang in available:
            return lang
    return DEFAULT


def translate(language: str, text: str) -> str:
    """`text` in `language`, or English when not translated."""
    return catalogue(language).get(text, text)
