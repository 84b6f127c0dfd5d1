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

from tests.conftest import Account, LiveServer, remember_secret, unique
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
            client, secret = ClientService(session, live_server.clock).create(
                unique("client"), org.id, **options
            )
        remember_secret(secret)
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
def browser_session(live_server: LiveServer) -> Iterator[Callable[[Account], httpx.Client]]:
    """An HTTP client signed in to the console as `account` (closed at the end of the test)."""
    opened: list[httpx.Client] = []

    def sign_in(account: Account) -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=30)
        opened.append(client)
        response = console_login(client, account.username, account.password)
        assert response.status_code == 303, response.text
        return client

    yield sign_in
    for client in opened:
        client.close()


DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REALM = "/realms/zevvy"
PROTOCOL = f"{REALM}/protocol/openid-connect"


def start_device(http: httpx.Client, client: ApiClient, scope: str | None = None) -> dict[str, Any]:
    """POST auth/device with client_secret_post; returns the JSON answer."""
    data = client.credentials()
    if scope is not None:
        data["scope"] = scope
    response = http.post(f"{PROTOCOL}/auth/device", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(http: httpx.Client, client: ApiClient, device_code: str, **extra: str) -> httpx.Response:
    """One device-code token request."""
    return http.post(
        f"{PROTOCOL}/token",
        data={**client.credentials(), "grant_type": DEVICE_GRANT, "device_code": device_code, **extra},
    )


def refresh(http: httpx.Client, client: ApiClient, refresh_token: str, **extra: str) -> httpx.Response:
    """One refresh-token request."""
    return http.post(
        f"{PROTOCOL}/token",
        data={**client.credentials(), "grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
    )


@pytest.fixture
def device_tokens(
    http: httpx.Client, approve: Callable[..., None], make_user: Callable[..., Account]
) -> Callable[..., dict[str, Any]]:
    """Run a device flow for `client` approved by `account` (a new one by default); returns the tokens."""

    def run(client: ApiClient, scope: str | None = None, account: Account | None = None) -> dict[str, Any]:
        started = start_device(http, client, scope)
        approve(started["user_code"], account or make_user())
        response = poll(http, client, started["device_code"])
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        remember_secret(started["device_code"], tokens.get("access_token"), tokens.get("refresh_token"))
        return tokens

    return run


@pytest.fixture
def api_token(
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
    make_user: Callable[..., Account],
) -> Callable[..., str]:
    """An access token for the metering API, through the real device flow (all scopes by default)."""

    def mint(
        scope: str = "device register measurement offline_access", account: Account | None = None
    ) -> str:
        account = account or make_user()
        client = make_client(org=account.organization)
        token: str = device_tokens(client, scope, account)["access_token"]
        return token

    return mint


ALL = "device register measurement"


@dataclass
class Caller:
    """An HTTP client holding a token of `account`."""

    http: httpx.Client
    account: Account


@pytest.fixture
def connect(
    live_server: LiveServer, api_token: Callable[..., str], make_user: Callable[..., Account]
) -> Iterator[Callable[..., Caller]]:
    """Open a client with a real token: `scope`, `role`, and the organization of `like` or a new one."""
    opened: list[httpx.Client] = []

    def make(
        scope: str = ALL, role: str = "editor", like: Caller | None = None, url: str | None = None
    ) -> Caller:
        account = make_user(org=like.account.organization if like else None, role=role)
        token = api_token(scope, account)
        http = httpx.Client(
            base_url=url or live_server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        opened.append(http)
        return Caller(http, account)

    yield make
    for http in opened:
        http.close()


__all__ = ["ALL", "ApiClient", "Caller", "csrf_from", "pkce_pair"]
