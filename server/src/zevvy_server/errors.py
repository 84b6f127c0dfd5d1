"""The root error types every domain raises.

    ZevvyError                     code, status, message, details
    ├── NotFound                   404 not_found
    ├── Conflict                   409 (code given by the subclass)
    ├── InvalidInput               422 validation_failed
    ├── PermissionDenied           403 forbidden
    │   └── InsufficientScope      403 insufficient_scope (scope)
    └── RateLimited                429 rate_limited (retry_after seconds)

Domains subclass these (``DeviceNotFound(NotFound)``); the web layer maps them to the JSON error
body ``{"error", "message", "details"}`` or the console's error page in one registry.
"""

from __future__ import annotations

from typing import Any


class ZevvyError(Exception):
    """A failure that is the caller's to fix, with a stable code."""

    code = "error"
    status = 400
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        self.details = details or []
        self.extra = extra or {}
        super().__init__(self.message)


class NotFound(ZevvyError):
    """The thing does not exist, or belongs to another organization."""

    code = "not_found"
    status = 404
    message = "Not found."


class Conflict(ZevvyError):
    """The request contradicts what is stored."""

    code = "conflict"
    status = 409
    message = "The request conflicts with the current state."


class InvalidInput(ZevvyError):
    """The request is malformed or breaks a rule."""

    code = "validation_failed"
    status = 422
    message = "The request is invalid."


class PermissionDenied(ZevvyError):
    """The caller may not do this."""

    code = "forbidden"
    status = 403
    message = "You are not allowed to do this."


class RateLimited(ZevvyError):
    """Too many attempts; retry after `retry_after` seconds."""

    code = "rate_limited"
    status = 429
    message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsufficientScope(PermissionDenied):
    """The access token lacks a scope the operation needs."""

    code = "insufficient_scope"
    message = "The access token lacks a required scope."

    def __init__(self, scope: str, message: str | None = None) -> None:
        super().__init__(message or f"This needs the scope '{scope}'.", extra={"scope": scope})
        self.scope = scope


class Unauthenticated(ZevvyError):
    """No valid access token: missing, malformed, expired, revoked or not ours."""

    code = "invalid_token"
    status = 401
    message = "The access token is missing or invalid."
