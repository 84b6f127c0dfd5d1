"""The scopes a token can carry, what they mean in plain words, and how grants narrow them."""

from __future__ import annotations

from collections.abc import Iterable

# Order matters: it is the order of `scope` in token responses and of the consent page's list.
ALL_SCOPES: tuple[str, ...] = (
    "device",
    "register",
    "measurement",
    "offline_access",
    "openid",
    "profile",
    "email",
)

DESCRIPTIONS: dict[str, str] = {
    "device": "See and manage your devices",
    "register": "See and manage the registers of your devices",
    "measurement": "Read and upload measurements",
    "offline_access": "Stay connected when you are not signed in",
    "openid": "Confirm who you are",
    "profile": "See your username",
    "email": "See your e-mail address",
}

OFFLINE_ACCESS = "offline_access"
OPENID = "openid"


def parse(value: str | None) -> list[str]:
    """The scopes named in a space-separated parameter, without repeats."""
    seen: list[str] = []
    for name in (value or "").split():
        if name not in seen:
            seen.append(name)
    return seen


def ordered(scopes: Iterable[str]) -> list[str]:
    """Known scopes in canonical order."""
    wanted = set(scopes)
    return [s for s in ALL_SCOPES if s in wanted]


def granted(requested: Iterable[str] | None, allowed: Iterable[str]) -> list[str]:
    """Requested ∩ allowed with unknown scopes dropped; every allowed scope when none was named."""
    allowed_set = set(allowed)
    if requested is None:
        return ordered(allowed_set)
    return ordered(set(requested) & allowed_set)


def narrowed(requested: Iterable[str], current: Iterable[str]) -> list[str] | None:
    """The scopes of a refresh that names `requested`; None when it asks for more than `current`."""
    wanted = set(requested)
    if not wanted <= set(current):
        return None
    return ordered(wanted)
