"""Shared pieces of the benchmarks: a real server process, a real access token, the data set.

Nothing here is used by the test suite; see README.md in this folder for the commands.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.device import DeviceService
from zevvy_server.oauth.service import ClientService
from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database

START = datetime(2025, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
READINGS_PER_YEAR = 35_040
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_database(postgres_url: str | None, folder: Path) -> Iterator[str]:
    """A new empty database: SQLite in `folder`, or a fresh PostgreSQL database dropped afterwards."""
    if not postgres_url:
        yield f"sqlite:///{folder / 'zevvy.db'}"
        return
    import psycopg

    name = f"zevvy_bench_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """A `zevvy-server serve` process on loopback."""

    url: str
    settings: Settings
    process: subprocess.Popen[bytes]

    @property
    def issuer(self) -> str:
        """The identity server's base URL."""
        return f"{self.url}/realms/{self.settings.realm}"

    def rss_kib(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


@contextlib.contextmanager
def running_server(postgres_url: str | None = None, **env: str) -> Iterator[Server]:
    """Start a server on a fresh database and stop it afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="zevvy-bench-") as tmp,
        throwaway_database(postgres_url, Path(tmp)) as db_url,
    ):
        port = free_port()
        variables = {
            **os.environ,
            "ZEVVY_PORT": str(port),
            "ZEVVY_DATA_DIR": tmp,
            "ZEVVY_DATABASE_URL": db_url,
            "ZEVVY_ADMIN_PASSWORD": secrets.token_urlsafe(16),
            "ZEVVY_METRICS_ADDR": "off",
            "ZEVVY_LOG_LEVEL": "warning",
            "ZEVVY_ACCESS_TOKEN_LIFETIME": "7200",
            "ZEVVY_CLIENT_REQUESTS_PER_MINUTE": "1000000",
            **env,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "zevvy_server", "serve"], env=variables, stderr=subprocess.DEVNULL
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            settings = Settings(data_dir=Path(tmp), database_url=db_url, port=port)
            yield Server(url=url, settings=settings, process=process)
        finally:
            process.terminate()
            process.wait(timeout=30)


def access_token(server: Server) -> str:
    """A real access token with every metering scope, through the device flow.

    The user's approval, which a person gives on the device page, is given through the same
    service the page calls.
    """
    db = Database(server.settings)
    clock = Clock()
    try:
        with db.write() as session:
            identity = IdentityService(session, clock)
            org = identity.create_organization(f"bench-{secrets.token_hex(3)}")
            user = identity.create_user(
                f"bench-{secrets.token_hex(3)}", "bench@example.org", secrets.token_urlsafe(16)
            )
            identity.add_member(org, user, "editor")
            client, _ = ClientService(session, clock).create("benchmark", org.id, public=True)
        scope = "device register measurement offline_access"
        auth = httpx.post(
            f"{server.issuer}/protocol/openid-connect/auth/device",
            data={"client_id": client.client_id, "scope": scope},
        ).json()
        with db.write() as session:
            DeviceService(session, clock, server.settings).approve(
                auth["user_code"], user_id=user.id, organization_id=org.id, ip=None
            )
        token = httpx.post(
            f"{server.issuer}/protocol/openid-connect/token",
            data={
                "client_id": client.client_id,
                "grant_type": DEVICE_GRANT,
                "device_code": auth["device_code"],
            },
        )
        token.raise_for_status()
        return str(token.json()["access_token"])
    finally:
        db.dispose()


def year_of_counter(seed: int, readings: int = READINGS_PER_YEAR) -> tuple[list[str], list[int]]:
    """One register's cumulative integer Wh counter, every 15 minutes from 2025-01-01T00:00:00Z."""
    import random

    rng = random.Random(seed)
    stamps = [(START + i * STEP).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(readings)]
    values, total = [], rng.randrange(1_000_000)
    for _ in range(readings):
        total += rng.randrange(0, 500)
        values.append(total)
    return stamps, values


def bodies(stamps: list[str], values: list[int], batch: int) -> list[bytes]:
    """The JSON bodies of the path form, `batch` readings each."""
    return [
        orjson.dumps(
            [
                {"readAt": t, "value": v}
                for t, v in zip(stamps[i : i + batch], values[i : i + batch], strict=True)
            ]
        )
        for i in range(0, len(stamps), batch)
    ]


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
