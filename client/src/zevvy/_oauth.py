"""The identity server's endpoints under the auth root (Keycloak paths), as requests and answers."""

from __future__ import annotations

import time

import httpx

from zevvy._errors import oauth_error_from_response
from zevvy._models import DeviceAuthorization, Tokens
from zevvy._wire import loads

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_SCOPE = "offline_access device register measurement"
"""What a gateway needs: the metering scopes, and a refresh token that outlives the session."""

_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class OAuthEndpoints:
    """Builds the identity server's requests for one client; knows nothing about sending them.

    `auth_url` is the realm's root (``https://iam.zevvy.org/realms/zevvy-prod``), the issuer.
    Client authentication is ``client_secret_post`` when a secret is given, as the hosted zevvy's
    clients do; public clients send their ``client_id`` alone.
    """

    def __init__(self, auth_url: str, client_id: str, client_secret: str | None = None) -> None:
        self.auth_url = auth_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret or None

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return f"{self.auth_url}/protocol/openid-connect/token"

    @property
    def device_authorization_url(self) -> str:
        """The device authorization endpoint (RFC 8628 §3.1)."""
        return f"{self.auth_url}/protocol/openid-connect/auth/device"

    @property
    def revocation_url(self) -> str:
        """The revocation endpoint (RFC 7009)."""
        return f"{self.auth_url}/protocol/openid-connect/revoke"

    def _form(self, **fields: str | None) -> dict[str, str]:
        form = {"client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        form.update({k: v for k, v in fields.items() if v is not None})
        return form

    def device_authorization_request(self, scope: str | None) -> httpx.Request:
        """Ask for a device code and a user code."""
        return httpx.Request(
            "POST", self.device_authorization_url, data=self._form(scope=scope), headers=_FORM
        )

    def device_token_request(self, device_code: str) -> httpx.Request:
        """Poll for the tokens of an approved device code."""
        return httpx.Request(
            "POST",
            self.token_url,
            data=self._form(grant_type=DEVICE_CODE_GRANT, device_code=device_code),
            headers=_FORM,
        )

    def refresh_request(self, refresh_token: str) -> httpx.Request:
        """Trade a refresh token for new tokens."""
        return httpx.Request(
            "POST",
            self.token_url,
            data=self._form(grant_type="refresh_token", refresh_token=refresh_token),
            headers=_FORM,
        )

    def revocation_request(self, token: str, token_type_hint: str | None = None) -> httpx.Request:
        """Revoke a token (a refresh token revokes its whole grant)."""
        return httpx.Request(
            "POST",
            self.revocation_url,
            data=self._form(token=token, token_type_hint=token_type_hint),
            headers=_FORM,
        )


def parse_device_authorization(response: httpx.Response) -> DeviceAuthorization:
    """The device authorization answer, or the error it carries."""
    if response.status_code != 200:
        raise oauth_error_from_response(response)
    return DeviceAuthorization.from_json(loads(response.content))


def parse_tokens(
    response: httpx.Response, previous: Tokens | None = None, now: float | None = None
) -> Tokens:
    """A token answer as `Tokens`, or the error it carries.

    When a refresh answer brings no new refresh token, the previous one stays in use.
    """
    if response.status_code != 200:
        raise oauth_error_from_response(response)
    tokens = Tokens.from_token_response(loads(response.content), now=time.time() if now is None else now)
    if tokens.refresh_token is None and previous is not None and previous.refresh_token:
        tokens = Tokens(
            access_token=tokens.access_token,
            refresh_token=previous.refresh_token,
            expires_at=tokens.expires_at,
            refresh_expires_at=previous.refresh_expires_at,
            scope=tokens.scope or previous.scope,
            token_type=tokens.token_type,
        )
    return tokens
