"""Every error the SDK raises, in one tree.

    ZevvyError                    code, status, message, details, response
    ├── NetworkError              no answer: connection refused or reset, timeout
    ├── AuthenticationError       401, a refused token request, or no stored login
    │   ├── AuthorizationDenied   device flow: the user pressed "Deny"
    │   └── AuthorizationExpired  device flow: nobody approved the code in time
    ├── PermissionDenied          403 (scope: the missing scope, when the server names it)
    ├── NotFound                  404
    ├── Conflict                  409 reference_taken, name_taken, device_has_data, ...
    │   └── BulkConflict          a bulk import kept conflicts and raise_on_conflict=True (result)
    ├── PayloadTooLarge           413 (max_readings, max_bytes)
    ├── ValidationError           422 validation_failed, duplicate_instant (details, total)
    ├── RateLimited               429 (retry_after seconds)
    └── ServerError               5xx

`code` is the API's error code (``"not_found"``, ``"validation_failed"``, ...) or the OAuth
error (``"invalid_grant"``, ``"access_denied"``, ...).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from zevvy._models import BulkResult

__all__ = [
    "AuthenticationError",
    "AuthorizationDenied",
    "AuthorizationExpired",
    "BulkConflict",
    "Conflict",
    "NetworkError",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "ValidationError",
    "ZevvyError",
]


class ZevvyError(Exception):
    """Root of every SDK error.

    ```python
    try:
        client.get_device(device_id)
    except zevvy.ZevvyError as exc:
        print(exc.status, exc.code, exc.message)
    ```
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        status: int | None = None,
        details: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details: list[dict[str, Any]] = details or []
        self.body: dict[str, Any] = body or {}
        self.response = response

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status else ""
        return f"{prefix}{self.code}: {self.message}"


class NetworkError(ZevvyError):
    """The server could not be reached or did not answer (connection, timeout)."""


class AuthenticationError(ZevvyError):
    """No valid login: the token was refused, could not be refreshed, or none is stored."""


class AuthorizationDenied(AuthenticationError):
    """The user denied the device-flow request."""


class AuthorizationExpired(AuthenticationError):
    """The device code expired before the user approved it."""


class PermissionDenied(ZevvyError):
    """The token lacks a scope or the user's role forbids the action; `scope` names the missing scope."""

    @property
    def scope(self) -> str | None:
        """The scope the server asked for, if it named one."""
        scope = self.body.get("scope")
        if isinstance(scope, str):
            return scope
        header = self.response.headers.get("WWW-Authenticate", "") if self.response is not None else ""
        match = re.search(r'scope="([^"]*)"', header)
        return match.group(1) if match else None


class NotFound(ZevvyError):
    """The thing does not exist, or belongs to another organization."""


class Conflict(ZevvyError):
    """The request contradicts what is stored (a taken reference or name, data to confirm...)."""

    @property
    def existing_id(self) -> str | None:
        """The id of the device or register that holds the reference or name, when given."""
        value = self.body.get("existingId")
        return value if isinstance(value, str) else None


class BulkConflict(Conflict):
    """A bulk import stored what it could and kept conflicts; raised only with ``raise_on_conflict=True``."""

    def __init__(self, result: BulkResult, *, response: httpx.Response | None = None) -> None:
        super().__init__(
            f"{result.conflicts} reading(s) differ from stored values and were kept as conflicts",
            code="conflict",
            status=409,
            response=response,
        )
        self.result = result


class PayloadTooLarge(ZevvyError):
    """The request carries more readings or bytes than the server takes in one request."""

    @property
    def max_readings(self) -> int | None:
        """The most readings one request may carry, when the server says."""
        value = self.body.get("maxReadings")
        return value if isinstance(value, int) else None

    @property
    def max_bytes(self) -> int | None:
        """The most bytes one request may carry, when the server says."""
        value = self.body.get("maxBytes")
        return value if isinstance(value, int) else None


class ValidationError(ZevvyError):
    """The request was refused as a whole; `details` lists ``{"pointer", "problem"}`` per problem."""

    @property
    def total(self) -> int:
        """How many problems the server found (details lists at most 100)."""
        value = self.body.get("total")
        return value if isinstance(value, int) else len(self.details)


class RateLimited(ZevvyError):
    """Too many requests; `retry_after` is the number of seconds the server asks to wait."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before trying again, from ``Retry-After``."""
        if self.response is None:
            return None
        return parse_retry_after(self.response.headers.get("Retry-After"))


class ServerError(ZevvyError):
    """The server failed (5xx); retrying later may help."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asks to wait (503 ``Retry-After``), if it says."""
        if self.response is None:
            return None
        return parse_retry_after(self.response.headers.get("Retry-After"))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_BY_STATUS: dict[int, type[ZevvyError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationError,
    429: RateLimited,
}


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = json.loads(response.content) if response.content else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def error_from_response(response: httpx.Response) -> ZevvyError:
    """The exception for an API answer that is not a success."""
    body = _json_object(response)
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ZevvyError)
    code = body.get("error")
    message = body.get("message") or body.get("error_description")
    details = body.get("details")
    return kind(
        str(message) if message else f"HTTP {status} {response.reason_phrase}".strip(),
        code=str(code) if code else _default_code(status),
        status=status,
        details=[d for d in details if isinstance(d, dict)] if isinstance(details, list) else None,
        body=body,
        response=response,
    )


def oauth_error_from_response(response: httpx.Response) -> ZevvyError:
    """The exception for a refused OAuth request (``{"error", "error_description"}``)."""
    body = _json_object(response)
    status = response.status_code
    code = str(body.get("error") or _default_code(status))
    message = str(body.get("error_description") or body.get("message") or code)
    if status == 429:
        return RateLimited(message, code=code, status=status, body=body, response=response)
    if status >= 500:
        return ServerError(message, code=code, status=status, body=body, response=response)
    if code == "access_denied":
        return AuthorizationDenied(message, code=code, status=status, body=body, response=response)
    if code == "expired_token":
        return AuthorizationExpired(message, code=code, status=status, body=body, response=response)
    return AuthenticationError(message, code=code, status=status, body=body, response=response)


def _default_code(status: int) -> str:
    return {
        401: "invalid_token",
        403: "forbidden",
        404: "not_found",
        409: "conflict",
        413: "payload_too_large",
        422: "validation_failed",
        429: "rate_limited",
    }.get(status, "server_error" if status >= 500 else "error")
