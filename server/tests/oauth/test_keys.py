"""Signing keys: created once, rotated, retired keys published until their tokens expired."""

from __future__ import annotations

from datetime import timedelta

from joserfc import jwt
from sqlalchemy import func, select

from tests.oauth.conftest import Transaction
from zevvy_server.clock import AdjustableClock
from zevvy_server.oauth import keys
from zevvy_server.oauth.models import SigningKey


def test_ensure_signing_key_creates_one_key_only_once(
    transaction: Transaction, clock: AdjustableClock
) -> None:
    """The first start made one; calling again adds none."""
    with transaction() as session:
        before = session.scalar(select(func.count()).select_from(SigningKey))
        keys.ensure_signing_key(session, clock)
        assert session.scalar(select(func.count()).select_from(SigningKey)) == before
        assert before and before >= 1


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_until_its_tokens_expired(
    transaction: Transaction, clock: AdjustableClock
) -> None:
    """Old tokens verify after a rotation; the retired key leaves the set after the token lifetime."""
    window = timedelta(seconds=300)
    with transaction() as session:
        before = keys.load_keys(session, clock, window)
        old_token = jwt.encode({"alg": "RS256", "kid": before.signing.kid}, {"sub": "x"}, before.signing)
        kid = keys.rotate(session, clock)
        after = keys.load_keys(session, clock, window)
    assert after.signing.kid == kid != before.signing.kid
    published = {k["kid"] for k in after.public_jwks()["keys"]}
    assert {kid, before.signing.kid} <= published
    assert jwt.decode(old_token, after.verifying, algorithms=["RS256"]).claims == {"sub": "x"}
    clock.advance(window + keys.RETIRED_KEY_MARGIN + timedelta(seconds=1))
    with transaction() as session:
        later = keys.load_keys(session, clock, window)
    assert before.signing.kid not in {k["kid"] for k in later.public_jwks()["keys"]}
    assert later.signing.kid == kid


def test_private_keys_are_never_published(transaction: Transaction, clock: AdjustableClock) -> None:
    """certs carries n and e only."""
    with transaction() as session:
        current = keys.load_keys(session, clock, timedelta(seconds=300))
    for entry in current.public_jwks()["keys"]:
        assert set(entry) == {"kid", "kty", "alg", "use", "n", "e"}
