"""Bearer tokens for API requests, refreshed inside an `httpx.Auth` flow.

A token is refreshed shortly before it expires and once more when the API answers 401. Refresh
tokens rotate (the old one dies soon after use), so refreshes never overlap: a lock (a
``threading.Lock`` for `Client`, an ``asyncio.Lock`` for `AsyncClient`) lets one caller refresh
while the others wait and then use its result. Before refreshing, the token store is read again,
so a refresh done meanwhile by another client or process sharing the store is used, not repeated.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator

import httpx

from zevvy._errors import AuthenticationError
from zevvy._models import Tokens
from zevvy._oauth import OAuthEndpoints, parse_tokens
from zevvy._tokens import TokenStore

RefreshFlow = Generator[httpx.Request, httpx.Response, Tokens]


class TokenAuth(httpx.Auth):
    """Adds ``Authorization: Bearer ...`` from a token store and keeps the token fresh.

    ```python
    auth = TokenAuth(OAuthEndpoints(auth_url, "zevvy-cli"), store)
    httpx.get(f"{api_url}/devices", auth=auth)
    ```
    """

    def __init__(
        self,
        oauth: OAuthEndpoints | None,
        store: TokenStore,
        *,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.oauth = oauth
        self.store = store
        self.leeway = leeway
        self.clock = clock
        self.refreshes = 0
        self._lock = threading.Lock()
        self._async_lock = asyncio.Lock()

    # -- state ------------------------------------------------------------------------------------
    def current(self) -> Tokens | None:
        """The tokens in use, read from the store every time (another process may have refreshed them)."""
        return self.store.load()

    def _stale(self, tokens: Tokens | None) -> bool:
        if tokens is None or not tokens.access_token:
            return True
        return tokens.expires_within(self.leeway, now=self.clock()) and tokens.can_refresh(self.clock())

    def _can_retry_401(self, tokens: Tokens | None) -> bool:
        return self.oauth is not None and tokens is not None and tokens.can_refresh(self.clock())

    def _refresh(self, used: Tokens | None) -> RefreshFlow:
        """Refresh, unless the store already holds newer tokens than `used`. Call with the lock held."""
        stored = self.store.load()
        if (
            stored is not None
            and stored.access_token
            and (used is None or stored.access_token != used.access_token)
            and not stored.expires_within(self.leeway, now=self.clock())
        ):
            return stored
        current = stored or used
        if current is None:
            raise AuthenticationError("not logged in: no tokens are stored", code="login_required")
        if not current.can_refresh(self.clock()) or current.refresh_token is None:
            raise AuthenticationError(
                "the login has expired and cannot be refreshed; log in again", code="login_required"
            )
        if self.oauth is None:
            raise AuthenticationError(
                "no auth_url is configured, so the token cannot be refreshed", code="login_required"
            )
        response = yield self.oauth.refresh_request(current.refresh_token)
        tokens = parse_tokens(response, previous=current, now=self.clock())
        self.refreshes += 1
        self.store.save(tokens)
        return tokens

    # -- flows ------------------------------------------------------------------------------------
    def _sync_refresh(self, used: Tokens | None) -> Generator[httpx.Request, httpx.Response, Tokens]:
        with self._lock:
            refresh = self._refresh(used)
            try:
                step = next(refresh)
                while True:
                    response = yield step
                    response.read()
                    step = refresh.send(response)
            except StopIteration as done:
                fresh: Tokens = done.value
                return fresh

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send `request` with a fresh token; refresh and resend once on 401."""
        tokens = self.current()
        if self._stale(tokens):
            tokens = yield from self._sync_refresh(tokens)
        assert tokens is not None
        request.headers["Authorization"] = f"Bearer {tokens.access_token}"
        response = yield request
        if response.status_code == 401 and self._can_retry_401(tokens):
            tokens = yield from self._sync_refresh(tokens)
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The same as `sync_auth_flow`, waiting on an ``asyncio.Lock``."""
        tokens = self.current()
        for attempt in range(2):
            if attempt == 1 or self._stale(tokens):
                # Async generators cannot delegate with `yield from`; drive the refresh by hand.
                async with self._async_lock:
                    refresh = self._refresh(tokens)
                    try:
                        step = next(refresh)
                        while True:
                            response = yield step
                            await response.aread()
                            step = refresh.send(response)
                    except StopIteration as done:
                        tokens = done.value
            assert tokens is not None
            request.headers["Authorization"] = f"Bearer {tokens.access_token}"
            response = yield request
            if response.status_code != 401 or attempt == 1 or not self._can_retry_401(tokens):
                return

    # -- outside a request ------------------------------------------------------------------------
    def sync_fresh_tokens(self, send: Callable[[httpx.Request], httpx.Response]) -> Tokens:
        """The tokens in use, refreshed first when they are about to expire."""
        tokens = self.current()
        if not self._stale(tokens):
            assert tokens is not None
            return tokens
        with self._lock:
            refresh = self._refresh(tokens)
            try:
                step = next(refresh)
                while True:
                    step = refresh.send(send(step))
            except StopIteration as done:
                fresh: Tokens = done.value
                return fresh

    async def async_fresh_tokens(self, send: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> Tokens:
        """The same as `sync_fresh_tokens`, for `AsyncClient`."""
        tokens = self.current()
        if not self._stale(tokens):
            assert tokens is not None
            return tokens
        async with self._async_lock:
            refresh = self._refresh(tokens)
            try:
                step = next(refresh)
                while True:
                    step = refresh.send(await send(step))
            except StopIteration as done:
                fresh: Tokens = done.value
                return fresh
