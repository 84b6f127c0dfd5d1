"""The SDK and CLI with the auth root and the API root on different servers, as with the hosted zevvy.

Two proxies stand in front of one real server: one serves only the identity server, below
``/iam``, the other only the metering API, below ``/api``, on another host name. Each refuses
what is not its own. If the SDK derived one root from the other, or dropped a root's path, its
requests would land on the wrong proxy (or outside the prefix) and fail, and the logs show it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Account, Server
from proxies import Proxy, run_proxy

import zevvy


@pytest.fixture
def roots(live_server: Server) -> Iterator[tuple[Proxy, Proxy]]:
    """(identity proxy, API proxy)."""
    realm = live_server.settings.realm
    with (
        run_proxy(live_server.url, prefix="/iam", allow=lambda p: p.startswith(f"/realms/{realm}/")) as iam,
        run_proxy(
            live_server.url, prefix="/api", allow=lambda p: not p.startswith("/realms"), host="localhost"
        ) as api,
    ):
        yield iam, api


def test_every_request_goes_to_its_own_root(
    live_server: Server, account: Account, roots: tuple[Proxy, Proxy]
) -> None:
    """Login, refresh and logout reach only the auth root; devices and readings only the API root."""
    iam, api = roots
    realm = live_server.settings.realm
    auth_url, api_url = f"{iam.url}/iam/realms/{realm}", f"{api.url}/api"
    with zevvy.Client(api_url, auth_url=auth_url) as client:
        authorization = client.start_login()
        live_server.approve(authorization.user_code, account)
        client.finish_login(authorization)
        start = datetime(2024, 6, 3, tzinfo=UTC)
        result = client.bulk_create(
            "split/roots", "energy", [(start + timedelta(minutes=15 * i), i) for i in range(4)]
        )
        assert result.created == 4
        assert result.register is not None
        assert len(list(client.iter_measurements(result.register.id))) == 4
        tokens = client.token_store.load()
        assert tokens is not None
        client.token_store.save(dataclasses.replace(tokens, expires_at=time.time()))
        client.get_device_by_reference("split/roots")
        client.logout()

    assert iam.refused == [] and api.refused == []
    protocol = f"/iam/realms/{realm}/protocol/openid-connect/"
    assert {path.split("?")[0].removeprefix(protocol) for _, path in iam.seen} == {
        "auth/device",
        "token",
        "revoke",
    }
    assert all(path.startswith("/api/") and "/realms/" not in path for _, path in api.seen)
    assert ("POST", "/api/deviceRef/split%2Froots/registerRef/energy/measurements/_bulk_create") in api.seen
