"""OAuth errors that render themselves as RFC 6749 §5.2 bodies, with Keycloak's strings.

Authlib's `OAuth2Error` is the base: it renders ``{"error", "error_description"}`` with its status
and headers; `invalid_client` adds ``WWW-Authenticate: Basic realm="{realm}"`` when the client used
HTTP Basic. Domain errors for the browser pages (codes typed by people) are `ZevvyError`s.

    OAuth2Error (Authlib)
    ├── InvalidClient            401 invalid_client
    ├── RealmNotFound            404 {"error": "Realm does not exist"}
    ├── InvalidTokenError        401 invalid_token (userinfo), with a Bearer challenge
    └── InsufficientScopeError   403 insufficient_scope (userinfo without openid)
    ZevvyError
    ├── InvalidClientSettings    422 (bad redirect URI, grant type or scope)
    ├── InvalidUserCode          422 (the device page re-shows the form)
    ├── AuthorizationRefused     400 (unknown client or redirect URI: a page, never a redirect)
    ├── LogoutRefused            400 (invalid ID token hint, unregistered redirect URI)
    ├── ClientNotFound           404
    ├── ClientIdTaken            409 client_id_taken
    ├── UserCodeNotUsable        409 (expired, denied or used code)
    └── TooManyAttempts          429 (identity's, reused for wrong user codes)
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc8628 import AuthorizationPendingError, ExpiredTokenError, SlowDownError

from zevvy_server.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "AccessDeniedError",
    "AuthorizationPendingError",
    "AuthorizationRefused",
    "ClientIdTaken",
    "ClientNotFound",
    "ExpiredTokenError",
    "InsufficientScopeError",
    "InvalidClient",
    "InvalidClientSettings",
    "InvalidGrantError",
    "InvalidRequestError",
    "InvalidScopeError",
    "InvalidTokenError",
    "InvalidUserCode",
    "LogoutRefused",
    "OAuth2Error",
    "RealmNotFound",
    "SlowDownError",
    "UnauthorizedClientError",
    "UnsupportedGrantTypeError",
    "UnsupportedTokenTypeError",
    "UserCodeNotUsable",
]

INVALID_CLIENT_TEXT = "Invalid client or Invalid client credentials"


class InvalidClient(OAuth2Error):  # type: ignore[misc]
    """Client authentication failed: 401, with a Basic challenge when the client used Basic."""

    error = "invalid_client"
    status_code = 401

    def __init__(self, realm: str, *, basic: bool, description: str = INVALID_CLIENT_TEXT) -> None:
        super().__init__(description=description)
        self.realm = realm
        self.basic = basic

    def get_headers(self) -> list[tuple[str, str]]:
        """JSON headers, plus the Basic challenge RFC 6749 §5.2 asks for."""
        headers: list[tuple[str, str]] = list(super().get_headers())
        if self.basic:
            headers.append(("WWW-Authenticate", f'Basic realm="{self.realm}"'))
        return headers


class RealmNotFound(OAuth2Error):  # type: ignore[misc]
    """A realm other than ours: Keycloak's 404 body has no description."""

    error = "Realm does not exist"
    status_code = 404


class InsufficientScopeError(OAuth2Error):  # type: ignore[misc]
    """The token lacks a scope the endpoint needs (userinfo: ``openid``)."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, realm: str, description: str) -> None:
        super().__init__(description=description)
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        """JSON headers plus the Bearer challenge (RFC 6750 §3)."""
        challenge = (
            f'Bearer realm="{self.realm}", error="insufficient_scope", error_description="{self.description}"'
        )
        return [*super().get_headers(), ("WWW-Authenticate", challenge)]


class InvalidTokenError(OAuth2Error):  # type: ignore[misc]
    """A bearer token userinfo cannot accept: 401 with Keycloak's challenge."""

    error = "invalid_token"
    status_code = 401

    def __init__(self, realm: str) -> None:
        super().__init__(description="Token verification failed")
        self.realm = realm

    def get_headers(self) -> list[tuple[str, str]]:
        """JSON headers plus the Bearer challenge."""
        challenge = (
            f'Bearer realm="{self.realm}", error="invalid_token", '
            'error_description="Token verification failed"'
        )
        return [*super().get_headers(), ("WWW-Authenticate", challenge)]


def render_error(error: OAuth2Error) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
    """Status, JSON body and headers of an OAuth error."""
    status, body, headers = error()
    return int(status), dict(body), list(headers)


class InvalidUserCode(InvalidInput):
    """No pending device request has this code (typo, or guessed)."""

    code = "invalid_user_code"
    message = "This code is not valid. Check it and try again."


class UserCodeNotUsable(Conflict):
    """The code exists but can no longer be approved: expired, already used or denied."""

    code = "user_code_not_usable"
    message = "This code has expired or was already used. Start again on your device."


class ClientNotFound(NotFound):
    """No such API client (or it was deleted)."""

    message = "No such API client."


class ClientIdTaken(Conflict):
    """Another client already has this client_id."""

    code = "client_id_taken"
    message = "This client_id is taken."


class InvalidClientSettings(InvalidInput):
    """A redirect URI, grant type or scope a client may not have."""

    code = "invalid_client_settings"


class AuthorizationRefused(InvalidInput):
    """An authorization request that cannot be sent back to the client (unknown client, bad
    redirect URI): shown as an error page, never redirected (RFC 9700 §4.11)."""

    code = "invalid_request"
    status = 400


class LogoutRefused(InvalidInput):
    """A logout request with an invalid ID token or an unregistered redirect URI."""

    code = "invalid_request"
    status = 400
