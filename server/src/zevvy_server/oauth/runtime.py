"""The OAuth domain's long-lived, per-process helpers: the key ring and the revocation cache."""

from __future__ import annotations

from datetime import timedelta

from zevvy_server.clock import Clock
from zevvy_server.oauth.keys import KeyRing
from zevvy_server.oauth.revocations import RevocationCache
from zevvy_server.oauth.tokens import VerifiedTokens
from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database


class OAuthRuntime:
    """What every request of one process shares: cached signing keys, revocations and tokens
    already verified."""

    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        # Tokens live at most this long: retired keys and revocations matter no longer.
        token_life = timedelta(seconds=max(settings.access_token_lifetime, settings.session_idle) + 60)
        self.keys = KeyRing(db, clock, publish_for=token_life, max_age=settings.revocation_cache_seconds)
        self.revocations = RevocationCache(
            db, clock, max_age=settings.revocation_cache_seconds, horizon=token_life
        )
        self.verified = VerifiedTokens()
