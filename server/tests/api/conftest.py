"""Fixtures for the identity server's HTTP tests: API clients, approvals, an HTTP client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Account, LiveServer, unique
from tests.support import console_login, csrf_from
from zevvy_server.identity.models import Organization
from zevvy_server.oauth.device import DeviceService
from zevvy_server.oauth.models import Client
from zevvy_server.oauth.service import ClientService


@dataclass
class ApiClient:
    """An OAuth client created for a test, with its secret (None for public clients)."""

    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        """The client's id."""
        return self.client.client_id

    def credentials(self) -> dict[str, str]:
        """client_secret_post form fields."""
        fields = {"client_id": self.client_id}
        if self.secret:
            fields["client_secret"] = self.secret
        return fields


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client for the live server (no redirects followed)."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def make_client(live_server: LiveServer, make_org: Callable[..., Organization]) -> Callable[..., ApiClient]:
    """Create an OAuth client (confidential unless public=True) in a new or given organization."""

    def make(org: Organization | None = None, **options: Any) -> ApiClient:
        org = org or make_org()
        options.setdefault("redirect_uris", ["http://127.0.0.1:9/callback"])
        with live_server.db.write() as session:
            client, secret = ClientService(session, live_server.clock).create(unique("client"), org.id, **options)
        return ApiClient(client, secret)

    return make


@pytest.fixture
def approve(live_server: LiveServer) -> Callable[..., None]:
    """Approve (or deny) a device request as `account`, through the device service."""

    def decide(user_code: str, account: Account, *, deny: bool = False) -> None:
        with live_server.db.write() as session:
            devices = DeviceService(session, live_server.clock, live_server.settings)
            if deny:
                devices.deny(user_code, user_id=account.user.id, ip=None)
            else:
                devices.approve(
                    user_code, user_id=account.user.id, organization_id=account.organization.id, ip=None
                )

    return decide


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@pytest.fixture
def browser_session(live_server: LiveServer) -> Callable[[Account], httpx.Client]:
    """An HTTP client signed in to the console as `account` (closed at the end of the test)."""
    opened: list[httpx.Client] = []

    def sign_in(account: Account) -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=30)
        opened.append(client)
        response = console_login(client, account.username, account.password)
        assert response.status_code == 303, response.text
        return client

    yield sign_in  # type: ignore[misc]
    for client in opened:
        client.close()


__all__ = ["ApiClient", "csrf_from", "pkce_pair"]
