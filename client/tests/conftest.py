"""Fixtures: a real zevvy server on a loopback port, accounts in it, and logged-in SDK clients.

The server is the real application (``zevvy_server``), started with uvicorn in a thread, on a
fresh SQLite file (or a throwaway PostgreSQL database when ``ZEVVY_TEST_DATABASE_URL`` is set).
Only network faults are ever faked (see ``faults.py``). ``ZEVVY_TEST_STRICT=1`` turns skips for
missing system packages (Chromium) into failures.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import zevvy

STRICT = os.environ.get("ZEVVY_TEST_STRICT") == "1"
ADMIN_PASSWORD = "admin-password-for-client-tests"


def pytest_configure(config: pytest.Config) -> None:
    """Markers of this suite (registered here so they work in any rootdir)."""
    config.addinivalue_line("markers", "browser: drives headless Chromium")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def needs_system_package(what: str, hint: str) -> None:
    """Skip (or, under ZEVVY_TEST_STRICT=1, fail) because a system package is missing."""
    message = f"{what} is not installed: {hint}"
    if STRICT:
        pytest.fail(message + " (ZEVVY_TEST_STRICT=1 makes this a failure)")
    pytest.skip(message)


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@contextmanager
def throwaway_database(folder: Path) -> Iterator[str]:
    """A new empty database: a SQLite file in `folder`, or a PostgreSQL database when configured."""
    base = os.environ.get("ZEVVY_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{folder / 'zevvy.db'}"
        return
    import psycopg

    name = f"zevvy_client_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_url = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    prefix, _, _ = admin_url.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Account:
    """A user of the server with the password to log in, acting for its organization."""

    username: str
    password: str
    user_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass
class Server:
    """A running zevvy server: its API root (`url`), its auth root (`auth_url`) and its innards."""

    url: str
    settings: Any
    clock: Any
    db: Any

    @property
    def auth_url(self) -> str:
        """The identity server's root (the issuer)."""
        return str(self.settings.issuer)

    def make_account(self, role: str = "admin", organization_id: uuid.UUID | None = None) -> Account:
        """A new user, in a new organization unless one is given."""
        from zevvy_server.identity.service import IdentityService

        password = secrets.token_urlsafe(16)
        with self.db.write() as session:
            identity = IdentityService(session, self.clock)
            org = (
                identity.get_organization(organization_id)
                if organization_id
                else identity.create_organization(unique("org"))
            )
            user = identity.create_user(unique("user"), "someone@example.org", password)
            identity.add_member(org, user, role)
            return Account(user.username, password, user.id, org.id)

    def make_client(
        self, account: Account, *, public: bool = False, scopes: list[str] | None = None
    ) -> tuple[str, str | None]:
        """A new OAuth client of the account's organization: its id and secret."""
        from zevvy_server.oauth.service import ClientService

        with self.db.write() as session:
            client, secret = ClientService(session, self.clock).create(
                unique("client"), account.organization_id, public=public, scopes=scopes
            )
            return client.client_id, secret

    def approve(self, user_code: str, account: Account) -> None:
        """Approve a device request as `account` (what the device page does)."""
        from zevvy_server.oauth.device import DeviceService

        with self.db.write() as session:
            DeviceService(session, self.clock, self.settings).approve(
                user_code, user_id=account.user_id, organization_id=account.organization_id, ip=None
            )

    def deny(self, user_code: str, account: Account) -> None:
        """Deny a device request as `account`."""
        from zevvy_server.oauth.device import DeviceService

        with self.db.write() as session:
            DeviceService(session, self.clock, self.settings).deny(
                user_code, user_id=account.user_id, ip=None
            )


@contextmanager
def run_server(folder: Path, **overrides: Any) -> Iterator[Server]:
    """Start the real server on a free loopback port with `overrides` of its settings."""
    try:
        import uvicorn

        from zevvy_server.app import create_app
        from zevvy_server.bootstrap import prepare_database
        from zevvy_server.clock import AdjustableClock
        from zevvy_server.settings import Settings
        from zevvy_server.storage.engine import Database
    except ImportError as exc:  # pragma: no cover - the suite installs the server
        pytest.skip(f"the live tests need zevvy-server installed ({exc})")
    port = free_port()
    with throwaway_database(folder) as database_url:
        values: dict[str, Any] = {
            "data_dir": folder,
            "database_url": database_url,
            "admin_password": ADMIN_PASSWORD,
            "metrics_addr": "off",
            "log_level": "warning",
            "port": port,
            "device_poll_interval": 1,
        }
        values.update(overrides)
        settings = Settings(**values)
        clock = AdjustableClock()
        db = Database(settings)
        prepare_database(db, settings, clock, migrate_schema=False)
        app = create_app(settings, clock=clock, db=db, metrics=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        try:
            yield Server(url=f"http://127.0.0.1:{port}", settings=settings, clock=clock, db=db)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            db.dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the run (device-code poll interval 1 s, to keep logins quick)."""
    with run_server(tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture
def account(live_server: Server) -> Account:
    """A new admin in a new organization."""
    return live_server.make_account()


def log_in(client: zevvy.Client, server: Server, account: Account, scope: str | None = None) -> zevvy.Tokens:
    """A device-flow login of `client`, approved by `account` as soon as the code is issued."""
    authorization = client.start_login(scope)
    server.approve(authorization.user_code, account)
    return client.finish_login(authorization)


@pytest.fixture
def make_client(live_server: Server) -> Iterator[Callable[..., zevvy.Client]]:
    """SDK clients of the live server (closed at the end of the test); log them in with `log_in`."""
    opened: list[zevvy.Client] = []

    def make(**options: Any) -> zevvy.Client:
        options.setdefault("auth_url", live_server.auth_url)
        client = zevvy.Client(options.pop("api_url", live_server.url), **options)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.fixture
def client(live_server: Server, account: Account, make_client: Callable[..., zevvy.Client]) -> zevvy.Client:
    """An SDK client logged in as `account` through the public zevvy-cli client."""
    sdk = make_client()
    log_in(sdk, live_server, account)
    return sdk


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium for browser tests: ZEVVY_CHROMIUM or the PATH."""
    path = os.environ.get("ZEVVY_CHROMIUM") or next(
        (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if not path:
        needs_system_package("Chromium", "install Debian's `chromium` package or set ZEVVY_CHROMIUM")
    try:
        import playwright  # noqa: F401
    except ImportError:
        needs_system_package("Playwright", "pip install playwright")
    assert path is not None
    return path


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
