"""How a client is configured: two independent roots, from arguments or the ZEVVY_* variables."""

from __future__ import annotations

import pytest

import zevvy


def test_roots_are_kept_as_given() -> None:
    """Paths below a root stay; only a trailing slash goes; nothing is derived from the other root."""
    client = zevvy.Client(
        "https://gw.example/zevvy-api/", auth_url="https://id.example/auth/realms/zevvy-prod/"
    )
    with client:
        assert client.api_url == "https://gw.example/zevvy-api"
        assert client.auth_url == "https://id.example/auth/realms/zevvy-prod"
    bare = zevvy.Client("https://api.example")
    assert bare.auth_url is None
    with pytest.raises(ValueError, match="auth_url"):
        bare.start_login()
    bare.close()


def test_from_env_reads_the_shared_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same variables as the CLI and the guide's snippets."""
    monkeypatch.setenv("ZEVVY_API_URL", "https://api.zevvy.org")
    monkeypatch.setenv("ZEVVY_AUTH_URL", "https://iam.zevvy.org/realms/zevvy-prod")
    monkeypatch.setenv("ZEVVY_CLIENT_ID", "gateway")
    monkeypatch.setenv("ZEVVY_CLIENT_SECRET", "s3cret")
    with zevvy.Client.from_env() as client:
        assert (client.api_url, client.auth_url, client.client_id) == (
            "https://api.zevvy.org",
            "https://iam.zevvy.org/realms/zevvy-prod",
            "gateway",
        )
        assert "s3cret" not in repr(client)
    monkeypatch.delenv("ZEVVY_API_URL")
    with pytest.raises(ValueError, match="ZEVVY_API_URL"):
        zevvy.Client.from_env()


def test_urls_must_be_http() -> None:
    """A typo like 'api.zevvy.org' without a scheme is caught at construction."""
    with pytest.raises(ValueError, match="api_url"):
        zevvy.Client("api.zevvy.org")
