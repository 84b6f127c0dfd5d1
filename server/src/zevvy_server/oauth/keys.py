"""Token signing keys, kept in the database so every worker and host signs and verifies alike.

The newest key signs. `rotate` adds a key; the retired ones stay published in ``certs`` (and keep
verifying) until every token they signed has expired. `KeyRing` caches the keys per process and
reloads them when a token names a key id it has not seen (another host rotated) or after a while.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.oauth.models import SigningKey
from zevvy_server.storage.engine import Database

ALGORITHM = "RS256"
KEY_SIZE = 2048
# Tokens signed just before a rotation must still verify: publish retired keys this much longer
# than the longest token lifetime (clock skew between hosts, cache reload delay).
RETIRED_KEY_MARGIN = timedelta(minutes=5)


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(KEY_SIZE, parameters={"alg": ALGORITHM, "use": "sig"})
    key.ensure_kid()  # RFC 7638 thumbprint
    return key


def _store(session: Session, clock: Clock, key: RSAKey) -> str:
    kid = key.kid
    assert kid is not None
    session.add(
        SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            private_jwk=json.dumps(key.as_dict(private=True)),
            created_at=clock.now(),
            retired_at=None,
        )
    )
    session.flush()
    return kid


def ensure_signing_key(session: Session, clock: Clock) -> None:
    """Create the first signing key (RSA 2048) unless one exists."""
    if session.scalar(select(SigningKey.kid).limit(1)) is None:
        _store(session, clock, _new_key())


def rotate(session: Session, clock: Clock) -> str:
    """Add a new active signing key and retire the others; returns the new key id."""
    now = clock.now()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
    return _store(session, clock, _new_key())


@dataclass(frozen=True)
class Keys:
    """A snapshot of the keys: the one that signs and every one that verifies."""

    signing: RSAKey
    verifying: KeySet
    loaded_at: float

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set published at ``certs``."""
        keys = []
        for key in self.verifying.keys:
            data = dict(key.as_dict(private=False))
            keys.append(
                {
                    "kid": data["kid"],
                    "kty": "RSA",
                    "alg": ALGORITHM,
                    "use": "sig",
                    "n": data["n"],
                    "e": data["e"],
                }
            )
        return {"keys": keys}

    def public_key_der_b64(self) -> str:
        """The signing key's public part as base64 DER (Keycloak's realm ``public_key``)."""
        assert isinstance(self.signing, RSAKey)
        return base64.b64encode(self.signing.as_der(private=False)).decode()


def load_keys(
    session: Session, clock: Clock, publish_for: timedelta, imported_keys: dict[str, RSAKey] | None = None
) -> Keys:
    """Read the keys: the newest active one signs; retired ones verify for `publish_for` more.

    `imported_keys` (kid -> key) spares importing a key seen before: an RSA private key import
    checks the key and costs milliseconds."""
    now = clock.now()
    rows = list(session.scalars(select(SigningKey).order_by(SigningKey.created_at)))
    if not rows:
        raise RuntimeError("no signing key: the database is not initialised")
    active = [r for r in rows if r.retired_at is None] or rows[-1:]
    signing_row = max(active, key=lambda r: r.created_at)
    verifying = [
        r
        for r in rows
        if r.retired_at is None or r.retired_at + publish_for + RETIRED_KEY_MARGIN > now or r is signing_row
    ]

    known = {} if imported_keys is None else imported_keys

    def imported(row: SigningKey) -> RSAKey:
        key = known.get(row.kid)
        if key is None:
            key = known[row.kid] = RSAKey.import_key(json.loads(row.private_jwk))
        return key

    signing = imported(signing_row)
    return Keys(signing=signing, verifying=KeySet([imported(r) for r in verifying]), loaded_at=clock.time())


class KeyRing:
    """The process-wide cache of the signing keys, reloaded from the database when stale."""

    def __init__(self, db: Database, clock: Clock, *, publish_for: timedelta, max_age: float = 60.0) -> None:
        self.db = db
        self.clock = clock
        self.publish_for = publish_for
        self.max_age = max_age
        self._keys: Keys | None = None
        self._lock = threading.Lock()
        self._imported: dict[str, RSAKey] = {}

    def current(self, *, session: Session | None = None) -> Keys:
        """The cached keys, reloaded once they are older than `max_age` seconds."""
        keys = self._keys
        if keys is None or self.clock.time() - keys.loaded_at > self.max_age:
            keys = self.reload(
                session=session, unless_newer_than=-math.inf if keys is None else keys.loaded_at
            )
        return keys

    def reload(self, *, session: Session | None = None, unless_newer_than: float | None = None) -> Keys:
        """Read the keys from the database now; with `unless_newer_than`, keep what another
        thread loaded after that moment while this one waited for the lock."""
        with self._lock:
            keys = self._keys
            if keys is not None and unless_newer_than is not None and keys.loaded_at > unless_newer_than:
                return keys
            if session is not None:
                keys = load_keys(session, self.clock, self.publish_for, self._imported)
            else:
                with self.db.read() as own:
                    keys = load_keys(own, self.clock, self.publish_for, self._imported)
            self._keys = keys
            return keys

    def for_kid(self, kid: str | None) -> Keys:
        """Keys that know `kid`, reloading once if this process has not seen it (rate-limited)."""
        keys = self.current()
        unknown = kid and not any(k.kid == kid for k in keys.verifying.keys)
        if unknown and self.clock.time() - keys.loaded_at > 1.0:
            keys = self.reload(unless_newer_than=keys.loaded_at)
        return keys
