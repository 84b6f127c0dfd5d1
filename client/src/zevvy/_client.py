"""`Client`: the synchronous SDK."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
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


class Client(ClientBase):
    """A connection to a zevvy server's metering API, logged in through its identity server.

    The API root and the auth root are separate settings: for the hosted zevvy
    ``https://api.zevvy.org`` and ``https://iam.zevvy.org/realms/zevvy-prod``; for a server of
    your own ``http://127.0.0.1:8000`` and ``http://127.0.0.1:8000/realms/zevvy``.

    ```python
    with zevvy.Client(api_url, auth_url=auth_url, token_store=zevvy.FileTokenStore("tokens.json")) as client:
        client.login(on_code=lambda a: print("Open", a.url, "and confirm", a.user_code))
        client.bulk_create("cs-p1", "energy", [(datetime.now(UTC), 1234)])
    ```

    `transport` or `http_client` replaces the network (``httpx.MockTransport`` in tests); a given
    `http_client` is not closed by `close`.
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
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
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
        self._http = http_client or httpx.Client(transport=transport, timeout=timeout, headers=self._headers)

    @classmethod
    def from_env(cls, *, token_store: TokenStore | None = None, **options: Any) -> Client:
        """A client set up from ``ZEVVY_API_URL``, ``ZEVVY_AUTH_URL``, ``ZEVVY_CLIENT_ID`` and ``_SECRET``."""
        settings: dict[str, Any] = dict(env_settings())
        api_url = settings.pop("api_url")
        settings.update(options)
        return cls(api_url, token_store=token_store, **settings)

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connections (unless the httpx client was given)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------------
    def _run(self, call: calls.Call[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    response = self._http.send(call.build(self.api_url), auth=self._auth)
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
            time.sleep(delay)

    def _send_oauth(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._http.send(request, auth=None)
        except httpx.TransportError as exc:
            raise NetworkError(
                f"{request.url.host}: {exc or type(exc).__name__}", code="network_error"
            ) from exc

    # -- login ------------------------------------------------------------------------------------
    def start_login(self, scope: str | None = None) -> DeviceAuthorization:
        """Start a device-flow login: the codes to show the user (then call `finish_login`)."""
        return _device_flow.start_sync(self._http, self._require_oauth(), scope or self.scope)

    def finish_login(
        self,
        authorization: DeviceAuthorization,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Tokens:
        """Poll until the user approves, then store and return the tokens.

        Raises `AuthorizationDenied` or `AuthorizationExpired` when the user denies or waits too long.
        """
        tokens = _device_flow.poll_sync(self._http, self._require_oauth(), authorization, sleep=sleep)
        self.token_store.save(tokens)
        return tokens

    def login(
        self,
        *,
        scope: str | None = None,
        on_code: Callable[[DeviceAuthorization], None] | None = None,
    ) -> Tokens:
        """Log in with the device flow: `on_code` shows the link and code, then this waits for approval.

        ```python
        client.login(on_code=lambda a: print(f"Open {a.url} and check the code {a.user_code}"))
        ```
        """
        authorization = self.start_login(scope)
        if on_code is None:
            print(f"To log in, open {authorization.url} and confirm the code {authorization.user_code}")
        else:
            on_code(authorization)
        return self.finish_login(authorization)

    def tokens(self) -> Tokens:
        """The tokens in use, refreshed first when they are about to expire."""
        return self._auth.sync_fresh_tokens(self._send_oauth)

    def logout(self) -> None:
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
            response = self._send_oauth(self._oauth.revocation_request(token, hint))
            if response.status_code >= 500 or response.status_code == 429:
                raise oauth_error_from_response(response)
        self.token_store.clear()

    # -- devices ----------------------------------------------------------------------------------
    def create_device(self, name: str, *, reference: str | None = None) -> Device:
        """Create a device; a taken reference raises `Conflict` (``existing_id`` names the holder)."""
        return self._run(calls.create_device(name, reference))

    def list_devices(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        name: str | None = None,
        reference: str | None = None,
        status: str | None = None,
    ) -> Page[Device]:
        """One page of the organization's devices."""
        return self._run(calls.list_devices(limit, cursor, name, reference, status))

    def iter_devices(self, **filters: str | None) -> Iterator[Device]:
        """Every device, page after page (filters: ``name``, ``reference``, ``status``)."""
        cursor: str | None = None
        while True:
            page = self._run(
                calls.list_devices(
                    None, cursor, filters.get("name"), filters.get("reference"), filters.get("status")
                )
            )
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_device(self, device_id: str) -> Device:
        """A device by id."""
        return self._run(calls.get_device(device_id))

    def get_device_by_reference(self, reference: str) -> Device:
        """A device by its reference."""
        return self._run(calls.get_device_by_reference(reference))

    # -- registers --------------------------------------------------------------------------------
    def create_register(
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
        return self._run(calls.create_register(device_id, name, reference, kind, period, unit, obis_code))

    def list_registers(
        self, device_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[Register]:
        """One page of a device's registers."""
        return self._run(calls.list_registers(device_id, limit, cursor))

    def iter_registers(self, device_id: str) -> Iterator[Register]:
        """Every register of a device."""
        cursor: str | None = None
        while True:
            page = self._run(calls.list_registers(device_id, None, cursor))
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_register(self, register_id: str) -> Register:
        """A register by id."""
        return self._run(calls.get_register(register_id))

    # -- bulk import ------------------------------------------------------------------------------
    def bulk_create(
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
        result = client.bulk_create("cs-p1", "energy", [("2024-06-03T00:15:00Z", 1234)])
        ```
        """
        return self._run(
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

    def bulk_create_series(
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
        client.bulk_create_series(readings, device_name="Charging station", register_name="Energy")
        ```
        """
        return self._run(
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
    def list_measurements(
        self,
        register_id: str,
        from_: TimeLike | None = None,
        to: TimeLike | None = None,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Measurement]:
        """One page of a register's stored readings in ``[from_, to)``."""
        return self._run(calls.list_measurements(register_id, from_, to, limit, cursor))

    def iter_measurements(
        self, register_id: str, from_: TimeLike | None = None, to: TimeLike | None = None
    ) -> Iterator[Measurement]:
        """Every stored reading of a register in ``[from_, to)``."""
        cursor: str | None = None
        while True:
            page = self._run(calls.list_measurements(register_id, from_, to, None, cursor))
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def consumption(
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
        days = client.consumption(register.id, date(2024, 6, 1), date(2024, 7, 1), interval="day")
        ```
        """
        return self._run(calls.consumption(register_id, from_, to, interval, time_zone))

    def list_imports(self, *, limit: int | None = None, cursor: str | None = None) -> Page[ImportBatch]:
        """One page of the organization's bulk-import requests, newest first."""
        return self._run(calls.list_imports(limit, cursor))

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json: Any = None
    ) -> Any:
        """Any other API call: ``client.request("GET", "/properties")`` returns the parsed JSON."""
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
        return self._run(call)
