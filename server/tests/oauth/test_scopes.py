"""Scope arithmetic (pure functions)."""

from __future__ import annotations

from zevvy_server.oauth.scopes import ALL_SCOPES, DESCRIPTIONS, granted, narrowed, parse


def test_granted_is_requested_intersected_with_allowed_in_canonical_order() -> None:
    """Unknown scopes are dropped, order follows ALL_SCOPES."""
    assert granted(["email", "measurement", "bogus"], ALL_SCOPES) == ["measurement", "email"]
    assert granted(["register"], ["device"]) == []


def test_none_requested_grants_everything_allowed() -> None:
    """Device flow without a scope: all of the client's scopes."""
    assert granted(None, ["offline_access", "device"]) == ["device", "offline_access"]


def test_parse_splits_on_whitespace_without_repeats() -> None:
    """`scope=a  b a` is [a, b]."""
    assert parse(" device  register device ") == ["device", "register"]
    assert parse(None) == parse("") == []


def test_narrowed_refuses_widening() -> None:
    """A refresh may ask for a subset only."""
    assert narrowed(["device"], ["device", "register"]) == ["device"]
    assert narrowed(["device", "email"], ["device"]) is None


def test_every_scope_has_plain_words_for_the_consent_page() -> None:
    """The consent page never shows a bare scope name alone."""
    assert set(DESCRIPTIONS) == set(ALL_SCOPES)
