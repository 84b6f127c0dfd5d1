"""`AsyncClient`: the SDK for asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from zevvy import _calls as calls
from zevvy import _device_flow
from zevvy._base import DEFAULT_CLIENT_ID, ClientBase, env_settings
from zevvy._calls import MeasurementLike, OnConflict, TimeLike
from zevvy._errors import NetworkError, ZevvyError, oauth_error_from_response
from zevvy._models import (
    BulkResult,
    Consumption,
    Device,
    DeviceAuthorization,
    ImportBatch,
    Measurement,
    Page,
    Register,
    Tokens,
)
from zevvy._retry import Retry
from zevvy._tokens import TokenStore

T = TypeVar("T")


class AsyncClient(ClientBase):
    """`Client` for asyncio: the same methods, awaited; token refreshes wait on an ``asyncio.Lock``.

    ```python
    async with zevvy.AsyncClient(api_url, auth_url=auth_url, token_store=store) as client:
        result = await client.bulk_create("cs-p1", "energy", readings)
    ```
    """

    def __init__(
        self,
        api_url: str,
        *,
        auth_url: str | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str | None = None,
        token_store: TokenStore | None = None,
        scope: str | None = None,
        retry: Retry | None = Retry(),
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_url,
            auth_url=auth_url,
            client_id=client_id,
            client_secret=client_secret,
            token_store=token_store,
            scope=scope,
            retry=retry,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport, timeout=timeout, headers=self._headers
        )

    @classmethod
    def from_env(cls, *, token_store: TokenStore | None = None, **options: Any) -> AsyncClient:
        """A client set up from ``ZEVVY_API_URL``, ``ZEVVY_AUTH_URL``, ``ZEVVY_CLIENT_ID`` and ``_SECRET``."""
        settings: dict[str, Any] = dict(env_settings())
        api_url = settings.pop("api_url")
        settings.update(options)
        return cls(api_url, token_store=token_store, **settings)

    # -- lifecycle --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connections (unless the httpx client was given)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- sending ----------------------------------------------------------------------------------
    async def _run(self, call: calls.Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    response = await self._http.send(call.build(self.api_url), auth=self._auth)
                except httpx.TransportError as exc:
                    raise NetworkError(
                        f"{self.api_url}: {exc or type(exc).__name__}", code="network_error"
                    ) from exc
                return call.result(response)
            except ZevvyError as error:
                delay = self.retry.delay(attempt, error) if self.retry and call.repeatable else None
                if delay is None:
                    raise
                if self.retry and self.retry.on_retry:
                    self.retry.on_retry(attempt, delay, error)
            await asyncio.sleep(delay)

    async def _send_oauth(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._http.send(request, auth=None)
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{request.url.host}: {exc or type(exc).__name__}", code="network_error"
            ) from exc

    # -- login ------------------------------------------------------------------------------------
    async def start_login(self, scope: str | None = None) -> DeviceAuthorization:
        """Start a device-flow login: the codes to show the user (then call `finish_login`)."""
        return await _device_flow.start_async(self._http, self._require_oauth(), scope or self.scope)

    async def finish_login(
        self,
        authorization: DeviceAuthorization,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Tokens:
        """Poll until the user approves, then store and return the tokens.

        Raises `AuthorizationDenied` or `AuthorizationExpired` when the user denies or waits too long.
        """
        tokens = await _device_flow.poll_async(self._http, self._require_oauth(), authorization, sleep=sleep)
        self.token_store.save(tokens)
        return tokens

    async def login(
        self,
        *,
        scope: str | None = None,
        on_code: Callable[[DeviceAuthorization], None] | None = None,
    ) -> Tokens:
        """Log in with the device flow: `on_code` shows the link and code, then this waits for approval.

        ```python
        await client.login(on_code=lambda a: print(f"Open {a.url} and check the code {a.user_code}"))
        ```
        """
        authorization = await self.start_login(scope)
        if on_code is None:
            print(f"To log in, open {authorization.url} and confirm the code {authorization.user_code}")
        else:
            on_code(authorization)
        return await self.finish_login(authorization)

    async def tokens(self) -> Tokens:
        """The tokens in use, refreshed first when they are about to expire."""
        return await self._auth.async_fresh_tokens(self._send_oauth)

    async def logout(self) -> None:
        """Revoke the login at the identity server (its refresh token and access tokens) and forget it.

        When the server cannot be reached the tokens are kept and the error is raised, so the
        revocation can be tried again.
        """
        tokens = self.token_store.load()
        if tokens is not None and self._oauth is not None:
            token, hint = (
                (tokens.refresh_token, "refresh_token")
                if tokens.refresh_token
                else (tokens.access_token, "access_token")
            )
            response = await self._send_oauth(self._oauth.revocation_request(token, hint))
            if response.status_code >= 500 or response.status_code == 429:
                raise oauth_error_from_response(response)
        self.token_store.clear()

    # -- devices ----------------------------------------------------------------------------------
    async def create_device(self, name: str, *, reference: str | None = None) -> Device:
        """Create a device; a taken reference raises `Conflict` (``existing_id`` names the holder)."""
        return await self._run(calls.create_device(name, reference))

    async def list_devices(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        name: str | None = None,
        reference: str | None = None,
        status: str | None = None,
    ) -> Page[Device]:
        """One page of the organization's devices."""
        return await self._run(calls.list_devices(limit, cursor, name, reference, status))

    async def iter_devices(self, **filters: str | None) -> AsyncIterator[Device]:
        """Every device, page after page (filters: ``name``, ``reference``, ``status``)."""
        cursor: str | None = None
        while True:
            page = await self._run(
                calls.list_devices(
                    None, cursor, filters.get("name"), filters.get("reference"), filters.get("status")
                )
            )
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get_device(self, device_id: str) -> Device:
        """A device by id."""
        return await self._run(calls.get_device(device_id))

    async def get_device_by_reference(self, reference: str) -> Device:
        """A device by its reference."""
        return await self._run(calls.get_device_by_reference(reference))

    # -- registers --------------------------------------------------------------------------------
    async def create_register(
        self,
        device_id: str,
        name: str,
        *,
        reference: str | None = None,
        kind: str | None = None,
        period: str | None = None,
        unit: str | None = None,
        obis_code: str | None = None,
    ) -> Register:
        """Create a register on a device (kind ``counter`` or ``interval``; period ``PT15M``; unit ``Wh``)."""
        return await self._run(
            calls.create_register(device_id, name, reference, kind, period, unit, obis_code)
        )

    async def list_registers(
        self, device_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Register]:
        """One page of a device's registers."""
        return await self._run(calls.list_registers(device_id, limit, cursor))

    async def iter_registers(self, device_id: str) -> AsyncIterator[Register]:
        """Every register of a device."""
        cursor: str | None = None
        while True:
            page = await self._run(calls.list_registers(device_id, None, cursor))
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def get_register(self, register_id: str) -> Register:
        """A register by id."""
        return await self._run(calls.get_register(register_id))

    # -- bulk import ------------------------------------------------------------------------------
    async def bulk_create(
        self,
        device_ref: str,
        register_ref: str,
        measurements: Iterable[MeasurementLike],
        *,
        on_conflict: OnConflict = "keep",
        dry_run: bool = False,
        register_kind: str | None = None,
        period: str | None = None,
        unit: str | None = None,
        raise_on_conflict: bool = False,
    ) -> BulkResult:
        """Store readings of the register `register_ref` of the device `device_ref` (created when missing).

        Returns the result for 201 and 409 alike: readings that differ from stored values are kept
        as conflicts (`BulkResult.conflicts`), the rest is stored. ``raise_on_conflict=True`` raises
        `BulkConflict` instead; ``on_conflict="overwrite"`` replaces the stored values.

        ```python
        result = await client.bulk_create("cs-p1", "energy", [("2024-06-03T00:15:00Z", 1234)])
        ```
        """
        return await self._run(
            calls.bulk_create(
                device_ref,
                register_ref,
                measurements,
                on_conflict=on_conflict,
                dry_run=dry_run,
                register_kind=register_kind,
                period=period,
                unit=unit,
                raise_on_conflict=raise_on_conflict,
            )
        )

    async def bulk_create_series(
        self,
        measurements: Iterable[MeasurementLike],
        *,
        device_name: str | None = None,
        device_reference: str | None = None,
        register_name: str | None = None,
        register_reference: str | None = None,
        on_conflict: OnConflict = "keep",
        dry_run: bool = False,
        register_kind: str | None = None,
        period: str | None = None,
        unit: str | None = None,
        raise_on_conflict: bool = False,
    ) -> BulkResult:
        """Store readings, naming the device and register in the body (``POST /measurements/_bulk_create``).

        ```python
        await client.bulk_create_series(readings, device_name="Charging station", register_name="Energy")
        ```
        """
        return await self._run(
            calls.bulk_create_series(
                measurements,
                device_name=device_name,
                device_reference=device_reference,
                register_name=register_name,
                register_reference=register_reference,
                on_conflict=on_conflict,
                dry_run=dry_run,
                register_kind=register_kind,
                period=period,
                unit=unit,
                raise_on_conflict=raise_on_conflict,
            )
        )

    # -- readings and consumption -----------------------------------------------------------------
    async def list_measurements(
        self,
        register_id: str,
        from_: TimeLike | None = None,
        to: TimeLike | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Measurement]:
        """One page of a register's stored readings in ``[from_, to)``."""
        return await self._run(calls.list_measurements(register_id, from_, to, limit, cursor))

    async def iter_measurements(
        self, register_id: str, from_: TimeLike | None = None, to: TimeLike | None = None
    ) -> AsyncIterator[Measurement]:
        """Every stored reading of a register in ``[from_, to)``."""
        cursor: str | None = None
        while True:
            page = await self._run(calls.list_measurements(register_id, from_, to, None, cursor))
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def consumption(
        self,
        register_id: str,
        from_: TimeLike,
        to: TimeLike,
        *,
        interval: str = "day",
        time_zone: str | None = None,
    ) -> Consumption:
        """Consumption per ``15min``, ``hour``, ``day``, ``month`` or ``year`` (days cut in `time_zone`).

        ```python
        days = await client.consumption(register.id, date(2024, 6, 1), date(2024, 7, 1), interval="day")
        ```
        """
        return await self._run(calls.consumption(register_id, from_, to, interval, time_zone))

    async def list_imports(self, *, limit: int | None = None, cursor: str | None = None) -> Page[ImportBatch]:
        """One page of the organization's bulk-import requests, newest first."""
        return await self._run(calls.list_imports(limit, cursor))

    async def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> Any:
        """Any other API call: ``await client.request("GET", "/properties")`` returns the parsed JSON."""
        from zevvy._wire import dumps, loads

        call: calls.Call[Any] = calls.Call(
            method.upper(),
            path if path.startswith("/") else "/" + path,
            lambda r: loads(r.content) if r.content else None,
            params=dict(params or {}),
            content=dumps(json).encode() if json is not None else None,
            ok=frozenset(range(200, 300)),
            repeatable=method.upper() in {"GET", "HEAD", "OPTIONS"},
        )
        return await self._run(call)
