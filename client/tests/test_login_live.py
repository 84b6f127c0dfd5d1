"""The device flow against the real identity server, polled as RFC 8628 §3.5 says."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Account, Server, run_server

import zevvy
from zevvy._device_flow import DevicePoller


def test_login_waits_while_pending_then_gets_tokens(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """authorization_pending keeps the client polling until the user approves."""
    client = make_client()
    authorization = client.start_login()
    assert (
        authorization.verification_uri_complete
        and authorization.user_code in authorization.verification_uri_complete
    )
    assert authorization.interval == 1
    approve = threading.Timer(2.5, live_server.approve, (authorization.user_code, account))
    approve.start()
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        time.sleep(seconds)

    started = time.monotonic()
    tokens = client.finish_login(authorization, sleep=sleep)
    approve.join()
    assert time.monotonic() - started >= 2.5
    assert len(polls) >= 3
    assert {"device", "register", "measurement", "offline_access"} <= set(tokens.scopes)
    assert tokens.claims["org_id"] == str(account.organization_id)
    assert client.token_store.load() == tokens


def test_polling_too_fast_gets_slow_down_and_adds_five_seconds(
    live_server: Server, make_client: Callable[..., zevvy.Client]
) -> None:
    """A poll inside the interval is answered slow_down; the interval grows by 5 s for good."""
    client = make_client()
    authorization = client.start_login()
    assert client._oauth is not None
    poller = DevicePoller(client._oauth, authorization)
    answers = []
    for _ in range(3):
        response = client._http.send(poller.request(), auth=None)
        answers.append(response.json()["error"])
        assert poller.handle(response) is None
    assert "slow_down" in answers
    assert poller.interval == 1 + 5 * answers.count("slow_down")


def test_a_denied_request_ends_the_login(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """access_denied raises AuthorizationDenied; nothing is stored."""
    client = make_client()
    authorization = client.start_login()
    live_server.deny(authorization.user_code, account)
    with pytest.raises(zevvy.AuthorizationDenied) as caught:
        client.finish_login(authorization)
    assert caught.value.code == "access_denied"
    assert client.token_store.load() is None


def test_an_expired_code_ends_the_login(tmp_path: Path) -> None:
    """expired_token from the server raises AuthorizationExpired."""
    with run_server(tmp_path) as server, zevvy.Client(server.url, auth_url=server.auth_url) as client:
        authorization = client.start_login()
        server.clock.advance(authorization.expires_in + 5)
        assert client._oauth is not None
        poller = DevicePoller(client._oauth, authorization, clock=lambda: authorization.issued_at)
        with pytest.raises(zevvy.AuthorizationExpired) as caught:
            poller.handle(client._http.send(poller.request(), auth=None))
        assert caught.value.code == "expired_token"


def test_a_confidential_client_logs_in_with_its_secret(
    live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]
) -> None:
    """client_secret_post, as the hosted zevvy's clients do; a wrong secret is refused."""
    client_id, secret = live_server.make_client(account)
    good = make_client(client_id=client_id, client_secret=secret)
    authorization = good.start_login()
    live_server.approve(authorization.user_code, account)
    assert good.finish_login(authorization).access_token
    assert good.create_device("via a confidential client").id
    bad = make_client(client_id=client_id, client_secret="wrong")
    with pytest.raises(zevvy.AuthenticationError) as caught:
        bad.start_login()
    assert caught.value.status == 401
