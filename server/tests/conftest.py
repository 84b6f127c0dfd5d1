"""Shared fixtures: test settings on SQLite or PostgreSQL, a live server on loopback, factories.

The suite runs on a fresh SQLite file by default and on PostgreSQL when
``ZEVVY_TEST_DATABASE_URL`` names a server: it then creates a throwaway database for the run and
drops it afterwards. ``ZEVVY_TEST_STRICT=1`` turns skips for missing system packages (Chromium)
into failures.
"""

from __future__ import annotations

import logging
import os
import re
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
import uvicorn
from fastapi import FastAPI

from zevvy_server.app import create_app
from zevvy_server.bootstrap import prepare_database
from zevvy_server.clock import AdjustableClock
from zevvy_server.identity.models import Organization, User
from zevvy_server.identity.service import IdentityService
from zevvy_server.logs import JsonFormatter
from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database
from zevvy_server.web.http1 import Http1Protocol

ADMIN_PASSWORD = "admin-password-for-tests"
STRICT = os.environ.get("ZEVVY_TEST_STRICT") == "1"

# Every secret the suite hands out (passwords, client secrets, codes, tokens): none may ever
# appear in a log line of the whole run (checked when the run ends, see `no_secrets_in_logs`).
SECRETS: set[str] = {ADMIN_PASSWORD}
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def remember_secret(*values: str | None) -> None:
    """Note secrets handed out in a test, for the end-of-run log check."""
    SECRETS.update(v for v in values if v and len(v) >= 8)


TEST_SIDE_LOGGERS = {"httpx", "httpcore", "urllib3", "keycloak", "requests", "hpack"}


class _Recorder(logging.Handler):
    """Keeps every log record of the run, formatted with all its fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The tests' own HTTP clients log the URLs they call (a test may put a token there on
        # purpose); what the server and its libraries log is what must stay clean.
        if record.name.split(".")[0] not in TEST_SIDE_LOGGERS:
            self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_logs() -> Iterator[None]:
    """Capture the logs of the whole run; at its end, no password, secret, code or token is in them."""
    recorder = _Recorder()
    root = logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.INFO)
    yield
    # Something replacing the root handlers mid-run would make this check void.
    assert recorder in root.handlers, "the log recorder was removed during the run"
    root.removeHandler(recorder)
    root.setLevel(level)
    leaks = [line for line in recorder.lines if JWT.search(line) or any(secret in line for secret in SECRETS)]
    assert not leaks, f"secrets or tokens found in {len(leaks)} log lines, e.g. {leaks[0][:300]}"


def needs_system_package(what: str, hint: str) -> None:
    """Skip (or, under ZEVVY_TEST_STRICT=1, fail) because a system package is missing."""
    message = f"{what} is not installed: {hint}"
    if STRICT:
        pytest.fail(message + " (ZEVVY_TEST_STRICT=1 makes this a failure)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_database(folder: Path) -> Iterator[str]:
    """A new empty database: a SQLite file in `folder`, or a PostgreSQL database when configured."""
    base = os.environ.get("ZEVVY_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{folder / 'zevvy.db'}"
        return
    import psycopg

    name = f"zevvy_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin_url = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    prefix, _, _ = admin_url.rpartition("/")
    try:
        yield f"{prefix}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database of the shared live server."""
    with throwaway_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, for one test."""
    with throwaway_database(tmp_path) as url:
        yield url


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a server under test."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "admin_password": ADMIN_PASSWORD,
        "metrics_addr": "off",
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class LiveServer:
    """A running server on a loopback port."""

    url: str
    settings: Settings
    clock: AdjustableClock
    db: Database
    app: FastAPI

    @property
    def issuer(self) -> str:
        """The identity server's base (authRoot)."""
        return self.settings.issuer


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One uvicorn server for the whole run, on 127.0.0.1, with its database prepared."""
    port = _free_port()
    settings = make_settings(database_url, tmp_path_factory.mktemp("data"), port=port)
    clock = AdjustableClock()
    db = Database(settings)
    prepare_database(db, settings, clock, migrate_schema=False)
    app = create_app(settings, clock=clock, db=db, metrics=False)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on", http=Http1Protocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings, clock=clock, db=db, app=app)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def fresh_attempt_window(live_server: LiveServer) -> None:
    """Failed attempts are counted in fixed windows (ten minutes, an hour: both end on every
    full hour and every ten minutes); a test that counts up to a limit must not straddle a
    window's end, so it starts at least two minutes before the next one."""
    left = 600 - live_server.clock.time() % 600
    if left < 120:
        live_server.clock.advance(left + 1)


@pytest.fixture
def db(live_server: LiveServer) -> Database:
    """The live server's database."""
    return live_server.db


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Account:
    """A user created for a test, with the password to log in."""

    user: User
    password: str
    organization: Organization
    role: str

    @property
    def username(self) -> str:
        """The login name."""
        return self.user.username


@pytest.fixture
def make_org(live_server: LiveServer) -> Callable[..., Organization]:
    """Create an organization with a unique name."""

    def make(name: str | None = None) -> Organization:
        with live_server.db.write() as session:
            return IdentityService(session, live_server.clock).create_organization(name or unique("org"))

    return make


@pytest.fixture
def make_user(live_server: LiveServer, make_org: Callable[..., Organization]) -> Callable[..., Account]:
    """Create an account (in a new organization unless one is given) with a role."""

    def make(org: Organization | None = None, role: str = "admin", password: str | None = None) -> Account:
        org = org or make_org()
        password = password or secrets.token_urlsafe(16)
        remember_secret(password)
        with live_server.db.write() as session:
            identity = IdentityService(session, live_server.clock)
            user = identity.create_user(unique("user"), "someone@example.org", password)
            identity.add_member(identity.get_organization(org.id), user, role)
        return Account(user=user, password=password, organization=org, role=role)

    return make


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
    "--disable-quic",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium for the run, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield instance
        instance.close()


@dataclass
class BrowserPage:
    """A page in a fresh browser context, with the JavaScript errors it logged."""

    page: Any
    errors: list[str]


@pytest.fixture
def page(browser: Any, live_server: LiveServer, request: pytest.FixtureRequest) -> Iterator[BrowserPage]:
    """A fresh context (no cookies) on the live server; screenshot saved if the test fails.

    Every test using it also asserts that no page logged a JavaScript error or a CSP violation.
    """
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    tab = context.new_page()
    errors: list[str] = []

    def on_console(msg: Any) -> None:
        # A page answered with an intended 4xx (a 429 page, say) logs "Failed to load resource";
        # failed sub-resources are caught below by their responses instead.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            errors.append(msg.text)

    def on_response(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} {response.request.resource_type} {response.url}")

    tab.on("console", on_console)
    tab.on("response", on_response)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield BrowserPage(page=tab, errors=errors)
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    if failed is not None and not failed.failed:
        assert errors == [], f"the page logged errors: {errors}"
