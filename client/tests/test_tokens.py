"""Token storage: private files, atomic replacement, and what a token says about itself."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import zevvy


def jwt(claims: dict[str, object]) -> str:
    """An unsigned JWT-shaped token (the client never checks signatures)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_the_token_file_is_private_and_its_folder_too(tmp_path: Path) -> None:
    """0600 for the file, 0700 for folders the store creates; no temporary files left behind."""
    store = zevvy.FileTokenStore(tmp_path / "zevvy" / "profile" / "tokens.json")
    store.save(zevvy.Tokens(access_token="a", refresh_token="r", expires_at=1.0))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in store.path.parent.iterdir()] == ["tokens.json"]


def test_saved_tokens_load_back_and_clear(tmp_path: Path) -> None:
    """What is saved is loaded (also by another store on the same file); clear forgets it."""
    tokens = zevvy.Tokens("a", "r", expires_at=10.5, refresh_expires_at=99.0, scope="device measurement")
    zevvy.FileTokenStore(tmp_path / "t.json").save(tokens)
    other = zevvy.FileTokenStore(tmp_path / "t.json")
    assert other.load() == tokens
    other.clear()
    assert other.load() is None
    other.clear()


def test_a_damaged_token_file_reads_as_no_login(tmp_path: Path) -> None:
    """A truncated or foreign file means "log in again", not a crash."""
    path = tmp_path / "t.json"
    path.write_text('{"accessTok')
    assert zevvy.FileTokenStore(path).load() is None
    path.write_text('{"something": "else"}')
    assert zevvy.FileTokenStore(path).load() is None


def test_token_responses_become_deadlines() -> None:
    """expires_in and refresh_expires_in count from now; Keycloak's 0 means no deadline."""
    now = 1_000.0
    tokens = zevvy.Tokens.from_token_response(
        {
            "access_token": "a",
            "expires_in": 300,
            "refresh_expires_in": 0,
            "refresh_token": "r",
            "scope": "x y",
        },
        now=now,
    )
    assert tokens.expires_at == 1_300.0
    assert tokens.refresh_expires_at is None
    assert tokens.scopes == ["x", "y"]
    assert tokens.expires_within(30, now=1_271.0)
    assert not tokens.expires_within(30, now=1_269.0)
    assert tokens.can_refresh(now=10**12)


def test_claims_are_read_without_a_signature_check() -> None:
    """whoami needs the claims only; the server verifies signatures."""
    token = jwt({"sub": "u1", "preferred_username": "alice", "org_id": "o1", "exp": int(time.time())})
    assert zevvy.Tokens(access_token=token).claims["preferred_username"] == "alice"
    assert zevvy.Tokens(access_token="opaque").claims == {}
