"""What `Client` and `AsyncClient` share: their settings and the token flow."""

from __future__ import annotations

import os
from collections.abc import Mapping

from zevvy._auth import TokenAuth
from zevvy._oauth import DEFAULT_SCOPE, OAuthEndpoints
from zevvy._retry import Retry
from zevvy._tokens import MemoryTokenStore, TokenStore

DEFAULT_CLIENT_ID = "zevvy-cli"
"""The public client every zevvy server creates for device logins."""
USER_AGENT = "zevvy-python"


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """``ZEVVY_API_URL``, ``ZEVVY_AUTH_URL``, ``ZEVVY_CLIENT_ID``, ``ZEVVY_CLIENT_SECRET`` as arguments."""
    env = os.environ if environ is None else environ
    api_url = env.get("ZEVVY_API_URL")
    if not api_url:
        raise ValueError("ZEVVY_API_URL is not set")
    return {
        "api_url": api_url,
        "auth_url": env.get("ZEVVY_AUTH_URL") or None,
        "client_id": env.get("ZEVVY_CLIENT_ID") or DEFAULT_CLIENT_ID,
        "client_secret": env.get("ZEVVY_CLIENT_SECRET") or None,
    }


class ClientBase:
    """Settings shared by the sync and async clients; the two roots are taken as given, never derived."""

    def __init__(
        self,
        api_url: str,
        *,
        auth_url: str | None,
        client_id: str,
        client_secret: str | None,
        token_store: TokenStore | None,
        scope: str | None,
        retry: Retry | None,
    ) -> None:
        from zevvy import __version__

        if not api_url.startswith(("http://", "https://")):
            raise ValueError(f"api_url must be an http(s) URL, not {api_url!r}")
        if auth_url is not None and not auth_url.startswith(("http://", "https://")):
            raise ValueError(f"auth_url must be an http(s) URL, not {auth_url!r}")
        self.api_url = api_url.rstrip("/")
        self.auth_url = auth_url.rstrip("/") if auth_url else None
        self.client_id = client_id
        self.scope = scope if scope is not None else DEFAULT_SCOPE
        self.retry = retry
        self.token_store: TokenStore = token_store if token_store is not None else MemoryTokenStore()
        self._oauth = OAuthEndpoints(self.auth_url, client_id, client_secret) if self.auth_url else None
        self._auth = TokenAuth(self._oauth, self.token_store)
        self._headers = {"User-Agent": f"{USER_AGENT}/{__version__}"}

    def _require_oauth(self) -> OAuthEndpoints:
        if self._oauth is None:
            raise ValueError(
                "this needs the identity server: pass auth_url (e.g. https://iam.zevvy.org/realms/zevvy-prod)"
            )
        return self._oauth

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"<{name} api_url={self.api_url!r} auth_url={self.auth_url!r} client_id={self.client_id!r}>"
