"""The device authorization grant (RFC 8628): show a code, then poll until the user decides.

Polling follows §3.5: wait `interval` seconds between polls (5 when the server names none), add 5
seconds for this and every later poll after ``slow_down``, keep going on
``authorization_pending``, stop on ``access_denied`` and ``expired_token`` (or when the code's
lifetime is over), and back off exponentially while the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from zevvy._errors import (
    AuthorizationExpired,
    NetworkError,
    RateLimited,
    ServerError,
    ZevvyError,
    oauth_error_from_response,
)
from zevvy._models import DeviceAuthorization, Tokens
from zevvy._oauth import OAuthEndpoints, parse_device_authorization, parse_tokens

SLOW_DOWN_STEP = 5.0
MAX_NETWORK_BACKOFF = 60.0


@dataclass
class DevicePoller:
    """The polling state of one device code; drivers send its requests and wait as it says.

    ```python
    poller = DevicePoller(oauth, authorization)
    while (tokens := poller.handle(http.send(poller.request()))) is None:
        time.sleep(poller.wait())
    ```
    """

    oauth: OAuthEndpoints
    authorization: DeviceAuthorization
    clock: Callable[[], float] = time.monotonic
    interval: float = field(init=False)
    polls: int = field(default=0, init=False)
    _extra_wait: float = field(default=0.0, init=False)
    _failures: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.interval = float(self.authorization.interval or 5)
        self.deadline = self.authorization.issued_at + self.authorization.expires_in

    def request(self) -> httpx.Request:
        """The next token request."""
        self.polls += 1
        return self.oauth.device_token_request(self.authorization.device_code)

    def wait(self) -> float:
        """Seconds to wait before the next poll; raises `AuthorizationExpired` when none is left."""
        wait = self.interval + self._extra_wait
        if self.clock() + wait >= self.deadline:
            raise AuthorizationExpired(
                "the code expired before it was approved; start the login again", code="expired_token"
            )
        return wait

    def handle(self, response: httpx.Response) -> Tokens | None:
        """Tokens when approved, None to keep polling; raises when the grant has ended."""
        self._extra_wait = 0.0
        if response.status_code < 500 and response.status_code != 429:
            self._failures = 0
        if response.status_code == 200:
            return parse_tokens(response)
        error = oauth_error_from_response(response)
        if error.code == "authorization_pending":
            return None
        if error.code == "slow_down":
            self.interval += SLOW_DOWN_STEP
            return None
        if isinstance(error, RateLimited | ServerError):
            self.failed(error)
            return None
        raise error

    def failed(self, error: ZevvyError) -> None:
        """Note a poll that got no answer (or a 429/5xx): back off before the next one."""
        if isinstance(error, RateLimited | ServerError) and error.retry_after is not None:
            self._extra_wait = max(0.0, error.retry_after - self.interval)
            return
        self._failures += 1
        self._extra_wait = min(MAX_NETWORK_BACKOFF, self.interval * (2**self._failures - 1))


def start_sync(http: httpx.Client, oauth: OAuthEndpoints, scope: str | None) -> DeviceAuthorization:
    """Ask the identity server for a device code."""
    return parse_device_authorization(_send_sync(http, oauth.device_authorization_request(scope)))


def poll_sync(
    http: httpx.Client,
    oauth: OAuthEndpoints,
    authorization: DeviceAuthorization,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Tokens:
    """Poll until the user approves (tokens) or the grant ends (an `AuthenticationError`)."""
    poller = DevicePoller(oauth, authorization, clock=clock)
    while True:
        sleep(poller.wait())
        try:
            response = _send_sync(http, poller.request())
        except NetworkError as exc:
            poller.failed(exc)
            continue
        tokens = poller.handle(response)
        if tokens is not None:
            return tokens


async def start_async(
    http: httpx.AsyncClient, oauth: OAuthEndpoints, scope: str | None
) -> DeviceAuthorization:
    """Ask the identity server for a device code."""
    return parse_device_authorization(await _send_async(http, oauth.device_authorization_request(scope)))


async def poll_async(
    http: httpx.AsyncClient,
    oauth: OAuthEndpoints,
    authorization: DeviceAuthorization,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Tokens:
    """Poll until the user approves (tokens) or the grant ends (an `AuthenticationError`)."""
    poller = DevicePoller(oauth, authorization, clock=clock)
    while True:
        await sleep(poller.wait())
        try:
            response = await _send_async(http, poller.request())
        except NetworkError as exc:
            poller.failed(exc)
            continue
        tokens = poller.handle(response)
        if tokens is not None:
            return tokens


def _send_sync(http: httpx.Client, request: httpx.Request) -> httpx.Response:
    try:
        return http.send(request, auth=None)
    except httpx.TransportError as exc:
        raise NetworkError(f"{request.url.host}: {exc or type(exc).__name__}", code="network_error") from exc


async def _send_async(http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    try:
        return await http.send(request, auth=None)
    except httpx.TransportError as exc:
        raise NetworkError(f"{request.url.host}: {exc or type(exc).__name__}", code="network_error") from exc
