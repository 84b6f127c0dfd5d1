"""Real `zevvy-server serve` processes, tokens through the real device flow, and the figures.

Each test gets its own database (a SQLite file, or a throwaway PostgreSQL database when
``ZEVVY_TEST_DATABASE_URL`` is set) and its own server process, which it may kill and restart.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
from tests.conftest import ADMIN_PASSWORD, JWT, SECRETS, make_settings, remember_secret, unique

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.device import DeviceService
from zevvy_server.oauth.service import ClientService
from zevvy_server.storage.engine import Database

PROTOCOL = "/realms/zevvy/protocol/openid-connect"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALL_SCOPES = "device register measurement offline_access"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """`python -m zevvy_server serve` on a loopback port, its stderr kept in a file."""

    database_url: str
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Every server the run created, for the end-of-run log scan.
    started: ClassVar[list[ServerProcess]] = []

    def __post_init__(self) -> None:
        ServerProcess.started.append(self)

    @property
    def url(self) -> str:
        """Where it answers."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Every start's stderr, appended."""
        return self.data_dir / "server.log"

    def env(self) -> dict[str, str]:
        """The environment of the server process."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ZEVVY_")}
        return {
            **inherited,
            "ZEVVY_PORT": str(self.port),
            "ZEVVY_DATA_DIR": str(self.data_dir),
            "ZEVVY_DATABASE_URL": self.database_url,
            "ZEVVY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "ZEVVY_LOG_FORMAT": "json",
            "ZEVVY_METRICS_ADDR": "off",
            "ZEVVY_ACCESS_TOKEN_LIFETIME": "7200",
            "ZEVVY_CLIENT_REQUESTS_PER_MINUTE": "1000000",
            **self.extra_env,
        }

    def start(self, timeout: float = 60) -> None:
        """Start and wait until /healthz answers 200."""
        assert self.process is None or self.process.poll() is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "zevvy_server", "serve"],
                env=self.env(),
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the server did not start: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        """All it wrote to stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def database(server: ServerProcess) -> Database:
    """A connection pool on the server's database, for set-up and for checking what it stored."""
    return Database(make_settings(server.database_url, server.data_dir))


@dataclass
class Tenant:
    """An organization with an editor account, an API client and an access token for them."""

    organization_id: str
    username: str
    password: str
    client_id: str
    client_secret: str
    access_token: str
    refresh_token: str

    def http(self, server: ServerProcess, **options: Any) -> httpx.Client:
        """An HTTP client carrying the token."""
        options.setdefault("timeout", 120)
        return httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {self.access_token}"}, **options
        )


def make_tenant(server: ServerProcess, db: Database, role: str = "editor", scope: str = ALL_SCOPES) -> Tenant:
    """Create an organization, a member and a client, and get a token through the device flow."""
    clock = Clock()
    password = unique("pw")
    with db.write() as session:
        identity = IdentityService(session, clock)
        org = identity.create_organization(unique("org"))
        user = identity.create_user(unique("user"), "someone@example.org", password)
        identity.add_member(org, user, role)
        client, secret = ClientService(session, clock).create(
            unique("client"), org.id, redirect_uris=["http://127.0.0.1:9/callback"]
        )
        ids = (str(org.id), user.id, org.id, user.username, client.client_id)
    assert secret is not None
    org_id, user_id, org_uuid, username, client_id = ids
    credentials = {"client_id": client_id, "client_secret": secret}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        started = http.post(f"{PROTOCOL}/auth/device", data={**credentials, "scope": scope})
        assert started.status_code == 200, started.text
        with db.write() as session:
            DeviceService(session, clock, db.settings).approve(
                started.json()["user_code"], user_id=user_id, organization_id=org_uuid, ip=None
            )
        tokens = http.post(
            f"{PROTOCOL}/token",
            data={**credentials, "grant_type": DEVICE_GRANT, "device_code": started.json()["device_code"]},
        )
        assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    device_code = started.json()["device_code"]
    remember_secret(password, secret, device_code, body["access_token"], body.get("refresh_token"))
    return Tenant(
        org_id, username, password, client_id, secret, body["access_token"], body.get("refresh_token", "")
    )


def add_client(db: Database, organization_id: str) -> tuple[str, str]:
    """Another confidential API client of the organization; returns its id and secret."""
    with db.write() as session:
        client, secret = ClientService(session, Clock()).create(
            unique("client"), uuid.UUID(organization_id), redirect_uris=["http://127.0.0.1:9/callback"]
        )
        client_id = client.client_id
    assert secret is not None
    remember_secret(secret)
    return client_id, secret


def secret_leaks(log: str) -> list[str]:
    """The log lines that hold a token (any JWT) or a secret the suite handed out (the admin
    password, account passwords, client secrets, device codes, tokens)."""
    return [line[:300] for line in log.splitlines() if JWT.search(line) or any(s in line for s in SECRETS)]


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Figures:
    """Named measurements of one run, printed at the end and written as JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}

    def record(self, name: str, **values: Any) -> None:
        """Add (or replace) the figures of one case."""
        self.rows[name] = values
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.rows, indent=2, sort_keys=True))
