"""Tokens against the real identity server: refresh before expiry and on 401, one refresh at a time."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable

import httpx
import pytest
from conftest import Account, Server, log_in
from faults import FaultyTransport

import zevvy


def token_requests(transport: FaultyTransport) -> int:
    return sum(1 for r in transport.seen if r.url.path.endswith("/protocol/openid-connect/token"))


def expire(store: zevvy.TokenStore) -> zevvy.Tokens:
    """Make the stored access token look about to expire (as it would 5 minutes later)."""
    tokens = store.load()
    assert tokens is not None
    soon = dataclasses.replace(tokens, expires_at=time.time() + 1)
    store.save(soon)
    return soon


def test_the_token_is_refreshed_shortly_before_it_expires(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """A request with a token that expires within the leeway refreshes first; the refresh token rotates."""
    transport = FaultyTransport([])
    client = make_client(transport=transport)
    log_in(client, live_server, account)
    before = expire(client.token_store)
    client.list_devices()
    after = client.token_store.load()
    assert after is not None
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token
    assert token_requests(transport) == 2  # the login's and one refresh


def test_a_refused_token_is_refreshed_once_and_the_request_repeated(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """401 → refresh → the same request again, transparently."""
    transport = FaultyTransport([])
    client = make_client(transport=transport)
    tokens = log_in(client, live_server, account)
    client.token_store.save(dataclasses.replace(tokens, access_token="not-a-valid-token"))
    device = client.create_device("after a 401")
    assert device.name == "after a 401"
    statuses = [r.url.path for r in transport.seen if r.url.path == "/devices"]
    assert len(statuses) == 2
    assert token_requests(transport) == 2


def test_concurrent_threads_share_one_refresh(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """Eight threads needing a fresh token cause one refresh; all their requests succeed."""
    transport = FaultyTransport([])
    client = make_client(transport=transport)
    log_in(client, live_server, account)
    expire(client.token_store)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        try:
            barrier.wait()
            client.list_devices()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert token_requests(transport) == 2


def test_concurrent_tasks_share_one_refresh(live_server: Server, account: Account) -> None:
    """The async client serialises refreshes with an asyncio lock."""
    seen: list[str] = []

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return await super().handle_async_request(request)

    async def scenario() -> None:
        async with zevvy.AsyncClient(
            live_server.url, auth_url=live_server.auth_url, transport=Counting()
        ) as client:
            authorization = await client.start_login()
            live_server.approve(authorization.user_code, account)
            await client.finish_login(authorization)
            expire(client.token_store)
            await asyncio.gather(*(client.list_devices() for _ in range(8)))

    asyncio.run(scenario())
    assert sum(1 for p in seen if p.endswith("/token")) == 2
    assert seen.count("/devices") == 8


def test_clients_sharing_a_store_do_not_refresh_twice(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client], tmp_path: object
) -> None:
    """A second client (or process) on the same token file uses the refresh the first one did."""
    transport = FaultyTransport([])
    store = zevvy.FileTokenStore(f"{tmp_path}/tokens.json")
    first = make_client(token_store=store, transport=transport)
    log_in(first, live_server, account)
    second = make_client(token_store=store, transport=transport)
    second.list_devices()
    expire(store)
    first.list_devices()
    second.list_devices()
    assert token_requests(transport) == 2


def test_logout_revokes_the_login_at_the_server(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """After logout the old refresh token is refused: the login is over, not just forgotten."""
    client = make_client()
    tokens = log_in(client, live_server, account)
    client.logout()
    assert client.token_store.load() is None
    with pytest.raises(zevvy.AuthenticationError):
        client.list_devices()
    other = make_client(token_store=zevvy.MemoryTokenStore(dataclasses.replace(tokens, access_token="")))
    with pytest.raises(zevvy.AuthenticationError) as caught:
        other.list_devices()
    assert caught.value.code == "invalid_grant"


def test_a_client_without_auth_url_uses_its_token_until_refused(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """Without the identity server the SDK never guesses one: it sends the token and reports a 401."""
    logged_in = make_client()
    tokens = log_in(logged_in, live_server, account)
    bare = zevvy.Client(live_server.url, token_store=zevvy.MemoryTokenStore(tokens))
    with bare:
        assert bare.list_devices() is not None
        bare.token_store.save(dataclasses.replace(tokens, access_token="garbage"))
        with pytest.raises(zevvy.AuthenticationError) as caught:
            bare.list_devices()
    assert caught.value.status == 401


def test_the_async_client_refreshes_on_401_too(live_server: Server, account: Account) -> None:
    """A refused token is refreshed once and the request repeated, awaited."""

    async def scenario() -> zevvy.Device:
        async with zevvy.AsyncClient(live_server.url, auth_url=live_server.auth_url) as client:
            authorization = await client.start_login()
            live_server.approve(authorization.user_code, account)
            tokens = await client.finish_login(authorization)
            client.token_store.save(dataclasses.replace(tokens, access_token="not-a-valid-token"))
            return await client.create_device("async, after a 401")

    assert asyncio.run(scenario()).name == "async, after a 401"
