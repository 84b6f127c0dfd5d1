"""Device-flow polling rules that need no server: the local deadline and backing off on network errors.

What the server answers (authorization_pending, slow_down, access_denied, expired_token) is
tested against the real server in test_login_live.py.
"""

from __future__ import annotations

import pytest

import zevvy
from zevvy._device_flow import DevicePoller
from zevvy._oauth import OAuthEndpoints


def poller(now: list[float], interval: int = 5, expires_in: int = 600) -> DevicePoller:
    authorization = zevvy.DeviceAuthorization(
        device_code="d",
        user_code="BCDF-GHJK",
        verification_uri="https://id/device",
        verification_uri_complete=None,
        expires_in=expires_in,
        interval=interval,
        issued_at=0.0,
    )
    return DevicePoller(OAuthEndpoints("https://id/realms/r", "c"), authorization, clock=lambda: now[0])


def test_polls_wait_the_interval_and_5_seconds_when_interval_is_missing() -> None:
    """RFC 8628 §3.5: the server's interval, 5 s when it names none."""
    now = [0.0]
    assert poller(now, interval=3).wait() == 3.0
    assert poller(now, interval=0).wait() == 5.0


def test_network_failures_back_off_exponentially_up_to_a_minute() -> None:
    """§3.5: a client that gets no answer backs off before polling again."""
    now = [0.0]
    flow = poller(now, interval=5)
    waits = []
    for _ in range(6):
        flow.failed(zevvy.NetworkError("timeout"))
        waits.append(flow.wait())
    assert waits == [10.0, 20.0, 40.0, 65.0, 65.0, 65.0]


def test_retry_after_of_a_busy_server_is_waited() -> None:
    """A 429 or 503 with Retry-After pushes the next poll back by that much."""
    import httpx

    now = [0.0]
    flow = poller(now, interval=5)
    busy = httpx.Response(503, headers={"Retry-After": "30"}, request=httpx.Request("POST", "https://id"))
    assert flow.handle(busy) is None
    assert flow.wait() == 30.0


def test_polling_stops_when_the_code_has_expired_locally() -> None:
    """No poll is scheduled past expires_in: the user is told to start again."""
    now = [0.0]
    flow = poller(now, interval=5, expires_in=12)
    assert flow.wait() == 5.0
    now[0] = 7.5
    with pytest.raises(zevvy.AuthorizationExpired) as caught:
        flow.wait()
    assert caught.value.code == "expired_token"
