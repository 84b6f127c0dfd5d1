"""The import quota: requests per key and fixed one-minute window, in this process."""

from __future__ import annotations

import threading

import pytest

from zevvy_server.errors import RateLimited
from zevvy_server.metering.quota import RequestQuota


def test_counts_per_key_and_starts_again_in_the_next_window() -> None:
    quota = RequestQuota()
    assert [quota.count("a", 120.0 + i) for i in range(3)] == [1, 2, 3]
    assert quota.count("b", 130.0) == 1
    assert quota.count("a", 180.0) == 1  # a new minute


def test_over_the_limit_raises_with_the_seconds_to_the_next_window() -> None:
    quota = RequestQuota()
    quota.check("a", 2, 600.0)
    quota.check("a", 2, 610.0)
    with pytest.raises(RateLimited) as caught:
        quota.check("a", 2, 645.5)
    assert caught.value.retry_after == 15
    quota.check("a", 2, 660.0)  # the next minute allows it again
    quota.check("other", 2, 645.5)


def test_no_limit_counts_nothing() -> None:
    quota = RequestQuota()
    for _ in range(100):
        quota.check("a", 0, 0.0)
    assert quota.count("a", 0.0) == 1


def test_a_clock_step_back_counts_in_the_current_window() -> None:
    quota = RequestQuota()
    quota.count("a", 300.0)
    assert quota.count("a", 200.0) == 2


def test_threads_lose_no_count() -> None:
    quota = RequestQuota()

    def hammer() -> None:
        for _ in range(1000):
            quota.count("a", 60.0)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert quota.count("a", 60.0) == 8001
