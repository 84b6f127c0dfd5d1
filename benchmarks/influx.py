"""InfluxDB 1.x as the yardstick: its own process on loopback, data in a temporary folder, every
write fsynced before it is answered (``wal-fsync-delay = "0s"``).

Prerequisite: Debian's ``influxdb`` package (the ``influxd`` binary on PATH), not running as a
service is fine: this starts its own.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
from harness import free_port

DATABASE = "bench"

_CONFIG = """reporting-disabled = true
bind-address = "127.0.0.1:{admin}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  trace-logging-enabled = false
[coordinator]
  log-queries-after = "0s"
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
"""


@dataclass
class Influx:
    """A running influxd."""

    url: str
    process: subprocess.Popen[bytes]

    def write_path(self) -> str:
        """The write endpoint, second precision, default retention."""
        return f"/write?db={DATABASE}&precision=s"

    def query(self, text: str) -> dict:  # type: ignore[type-arg]
        """Run an InfluxQL query (epoch seconds) and return the JSON answer."""
        response = httpx.get(
            f"{self.url}/query", params={"db": DATABASE, "q": text, "epoch": "s"}, timeout=300
        )
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def query_path(self, text: str) -> str:
        """The GET path of a query, for the load generator."""
        return "/query?" + urlencode({"db": DATABASE, "q": text, "epoch": "s"}, quote_via=quote)

    def version(self) -> str:
        """The server's version header."""
        return httpx.get(f"{self.url}/ping").headers.get("X-Influxdb-Version", "?")


def available() -> bool:
    """Whether influxd is installed."""
    return shutil.which("influxd") is not None


@contextlib.contextmanager
def running() -> Iterator[Influx]:
    """A fresh influxd with an empty `bench` database, stopped and deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="zevvy-bench-influx-") as root:
        port, admin = free_port(), free_port()
        config = Path(root) / "influxdb.conf"
        config.write_text(_CONFIG.format(root=root, port=port, admin=admin))
        process = subprocess.Popen(
            ["influxd", "run", "-config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        server = Influx(url=f"http://127.0.0.1:{port}", process=process)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{server.url}/ping", timeout=1).status_code == 204:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("influxd did not start")
                time.sleep(0.1)
            httpx.post(f"{server.url}/query", data={"q": f"CREATE DATABASE {DATABASE}"}).raise_for_status()
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


def lines(register: str, epochs: list[int], values: list[int]) -> bytes:
    """Line protocol of one register's integer readings."""
    prefix = f"energy,register={register} value="
    return "".join(f"{prefix}{v}i {t}\n" for t, v in zip(epochs, values, strict=True)).encode()


def stored(server: Influx, register: str) -> list[tuple[int, int]]:
    """Every stored (epoch s, value) of a register, ascending."""
    answer = server.query(f"SELECT value FROM energy WHERE register = '{register}'")
    series = answer["results"][0].get("series") or [{"values": []}]
    return [(int(t), int(v)) for t, v in series[0]["values"]]


def daily_query(register: str, start: str, end: str) -> str:
    """A year's daily consumption of one register: sum of differences per local day."""
    return (
        f"SELECT sum(d) FROM (SELECT difference(value) AS d FROM energy WHERE register = '{register}'"
        f" AND time >= '{start}' AND time < '{end}') WHERE time >= '{start}' AND time < '{end}'"
        " GROUP BY time(1d) tz('Europe/Zurich')"
    )
