"""Retries: backoff with jitter, Retry-After honoured, only for requests that are safe to repeat.

The server is never reached here: every request meets a network fault.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from faults import refused, status, timeout

import zevvy
from zevvy._errors import parse_retry_after


def faulty_client(handler: Any, **retry: Any) -> tuple[zevvy.Client, list[tuple[int, float, str]]]:
    waits: list[tuple[int, float, str]] = []
    policy = zevvy.Retry(on_retry=lambda n, delay, error: waits.append((n, delay, error.code)), **retry)
    token = zevvy.Tokens(access_token="a-token", expires_at=None)
    client = zevvy.Client(
        "http://127.0.0.1:9",
        token_store=zevvy.MemoryTokenStore(token),
        transport=httpx.MockTransport(lambda request: handler(request, httpx.HTTPTransport())),
        retry=policy,
    )
    return client, waits


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    """Waits stay within [d/2, d] for d = backoff * 2^(try-1), capped at max_backoff."""
    policy = zevvy.Retry(attempts=10, backoff=0.5, max_backoff=4.0)
    error = zevvy.NetworkError("down")
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (9, 4.0)]:
        delays = {policy.delay(attempt, error) for _ in range(50)}
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1, "jitter spreads the waits"
    assert policy.delay(10, error) is None


def test_only_transient_failures_are_retried() -> None:
    """Network errors, 429 and 5xx may pass later; a 4xx will not."""
    policy = zevvy.Retry()
    assert policy.delay(1, zevvy.ValidationError("bad", status=422)) is None
    assert policy.delay(1, zevvy.NotFound("gone", status=404)) is None
    assert policy.delay(1, zevvy.AuthenticationError("who?", status=401)) is None


def test_retry_after_is_honoured_for_429_and_503() -> None:
    """The client waits at least what the server asked, plus at most a second of jitter."""
    client, waits = faulty_client(status(429, retry_after="2"), attempts=3, backoff=0.01)
    with pytest.raises(zevvy.RateLimited) as caught:
        client.list_devices()
    assert caught.value.retry_after == 2.0
    assert caught.value.code == "rate_limited"
    assert [n for n, _, _ in waits] == [1, 2]
    assert all(2.0 <= delay <= 2.01 for _, delay, _ in waits)


def test_a_retry_after_longer_than_allowed_ends_the_retries() -> None:
    """A server asking for an hour is not waited for; the error says how long it asked."""
    client, waits = faulty_client(status(503, retry_after="3600"), attempts=5, max_retry_after=60)
    with pytest.raises(zevvy.ServerError) as caught:
        client.list_devices()
    assert waits == []
    assert caught.value.retry_after == 3600.0


def test_timeouts_and_refused_connections_become_network_errors_after_the_retries() -> None:
    """httpx errors never leak: they are NetworkError, retried with backoff first."""
    for fault in (timeout, refused):
        client, waits = faulty_client(fault, attempts=3, backoff=0.01)
        with pytest.raises(zevvy.NetworkError) as caught:
            client.get_device("00000000-0000-0000-0000-000000000000")
        assert isinstance(caught.value.__cause__, httpx.TransportError)
        assert len(waits) == 2


def test_creating_a_device_is_not_retried() -> None:
    """A POST that is not idempotent fails at once: a retry could create the device twice."""
    client, waits = faulty_client(timeout, attempts=5, backoff=0.01)
    with pytest.raises(zevvy.NetworkError):
        client.create_device("Charging station")
    assert waits == []


def test_a_bulk_import_is_retried_because_resending_is_harmless() -> None:
    """Bulk imports are repeatable: the server answers re-sent readings as unchanged."""
    client, waits = faulty_client(status(503, retry_after="0"), attempts=3, backoff=0.01)
    with pytest.raises(zevvy.ServerError):
        client.bulk_create("cs", "energy", [("2024-06-03T00:00:00Z", 1)])
    assert [code for _, _, code in waits] == ["unavailable", "unavailable"]


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), (None, None), ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)]
)
def test_retry_after_reads_seconds_and_past_dates(header: str | None, seconds: float | None) -> None:
    """Delay-seconds and HTTP dates are understood; garbage is ignored."""
    assert parse_retry_after(header) == seconds


def test_async_client_retries_the_same_way() -> None:
    """AsyncClient shares the policy: Retry-After honoured, then the error raised."""
    waits: list[float] = []
    answer = status(429, retry_after="1")

    async def handler(request: httpx.Request) -> httpx.Response:
        return answer(request, httpx.HTTPTransport())

    async def run() -> None:
        client = zevvy.AsyncClient(
            "http://127.0.0.1:9",
            token_store=zevvy.MemoryTokenStore(zevvy.Tokens(access_token="t")),
            transport=httpx.MockTransport(handler),
            retry=zevvy.Retry(attempts=2, on_retry=lambda n, delay, error: waits.append(delay)),
        )
        async with client:
            with pytest.raises(zevvy.RateLimited):
                await client.list_devices()

    asyncio.run(run())
    assert len(waits) == 1 and 1.0 <= waits[0] <= 1.5
