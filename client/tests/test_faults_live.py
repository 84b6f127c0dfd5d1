"""Network faults between the SDK and the real server: retried, and never storing anything twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import Account, Server, log_in, unique
from faults import FaultyTransport, lost_answer, refused, status, timeout

import zevvy

START = datetime(2024, 6, 3, tzinfo=UTC)


def is_bulk(request: httpx.Request) -> bool:
    return request.url.path.endswith("/_bulk_create")


@pytest.fixture
def faulty(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> Callable[..., tuple[zevvy.Client, list[float]]]:
    """A logged-in client whose bulk requests meet the given faults first."""

    def make(*faults: Callable[..., httpx.Response]) -> tuple[zevvy.Client, list[float]]:
        transport = FaultyTransport([], matches=is_bulk)
        waits: list[float] = []
        retry = zevvy.Retry(attempts=4, backoff=0.05, on_retry=lambda n, delay, error: waits.append(delay))
        client = make_client(transport=transport, retry=retry)
        log_in(client, live_server, account)
        transport.faults.extend(faults)
        return client, waits

    return make


def readings(count: int) -> list[tuple[datetime, int]]:
    return [(START + timedelta(minutes=15 * i), 10 * i) for i in range(count)]


def test_a_lost_answer_is_retried_and_the_server_stores_the_batch_once(
    faulty: Callable[..., tuple[zevvy.Client, list[float]]],
) -> None:
    """The batch reached the server, the answer did not: the re-send is answered as unchanged."""
    client, waits = faulty(lost_answer)
    result = client.bulk_create(unique("cs"), "energy", readings(50))
    assert (result.created, result.unchanged) == (0, 50)
    assert len(waits) == 1
    assert result.register is not None
    assert len(list(client.iter_measurements(result.register.id))) == 50
    stored = [b for b in client.list_imports(limit=5) if result.register.id in b.register_ids]
    assert sorted((b.created, b.unchanged) for b in stored) == [(0, 50), (50, 0)]


def test_503_and_429_with_retry_after_are_waited_out(
    faulty: Callable[..., tuple[zevvy.Client, list[float]]],
) -> None:
    """The client waits what Retry-After says, then the real server stores the readings."""
    client, waits = faulty(status(503, retry_after="1"), status(429, retry_after="1"))
    started = time.monotonic()
    result = client.bulk_create(unique("cs"), "energy", readings(10))
    assert result.created == 10
    assert time.monotonic() - started >= 2.0
    assert all(w >= 1.0 for w in waits) and len(waits) == 2


def test_timeouts_and_refused_connections_are_retried(
    faulty: Callable[..., tuple[zevvy.Client, list[float]]],
) -> None:
    """No answer at all is retried with backoff too."""
    client, waits = faulty(timeout, refused)
    result = client.bulk_create(unique("cs"), "energy", readings(3))
    assert result.created == 3
    assert len(waits) == 2 and all(w < 1.0 for w in waits)


def test_after_the_last_try_the_error_says_what_happened(
    faulty: Callable[..., tuple[zevvy.Client, list[float]]],
) -> None:
    """Four 503s: ServerError with its status and Retry-After; nothing stored."""
    ref = unique("cs")
    client, _ = faulty(*[status(503, retry_after="0")] * 4)
    with pytest.raises(zevvy.ServerError) as caught:
        client.bulk_create(ref, "energy", readings(3))
    assert caught.value.status == 503 and caught.value.retry_after == 0.0
    with pytest.raises(zevvy.NotFound):
        client.get_device_by_reference(ref)
