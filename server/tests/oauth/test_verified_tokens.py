"""The cache of access tokens already verified: expiry checked on every use, bounded."""

from __future__ import annotations

from zevvy_server.oauth.tokens import LEEWAY, VerifiedTokens


def test_a_remembered_token_is_given_back_until_it_expires() -> None:
    cache = VerifiedTokens()
    cache.put("t", {"exp": 1000, "sub": "u"})
    assert cache.get("t", 900) == {"exp": 1000, "sub": "u"}
    assert cache.get("t", 1000 + LEEWAY) is not None  # the leeway of the first verification
    assert cache.get("t", 1001 + LEEWAY) is None
    assert cache.get("t", 900) is None  # forgotten once expired


def test_unknown_tokens_and_tokens_without_expiry_are_not_given_back() -> None:
    cache = VerifiedTokens()
    cache.put("no-exp", {"sub": "u"})
    assert cache.get("no-exp", 0) is None
    assert cache.get("other", 0) is None


def test_the_oldest_entries_go_first_when_full() -> None:
    cache = VerifiedTokens(capacity=3)
    for name in "abcd":
        cache.put(name, {"exp": 10})
    assert cache.get("a", 0) is None
    assert [cache.get(name, 0) is not None for name in "bcd"] == [True, True, True]
