"""examples/charging_station.py runs end to end against a real server, and a second run changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Account, Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "charging_station.py"


def run_example(server: Server, account: Account, env: dict[str, str]) -> str:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if first.startswith("Open "):
        server.approve(first.rsplit(" ", 1)[1].strip(), account)
        first = ""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return first + out


def test_the_charging_station_example(live_server: Server, account: Account, tmp_path: Path) -> None:
    """Login, 97 readings created by name, the day's consumption read back; then all unchanged."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEVVY_")}
    env.update(
        ZEVVY_API_URL=live_server.url,
        ZEVVY_AUTH_URL=live_server.auth_url,
        ZEVVY_TOKEN_FILE=str(tmp_path / "tokens.json"),
    )
    first = run_example(live_server, account, env)
    assert "97 readings: 97 created, 0 unchanged, 0 conflicts" in first
    assert "2024-06-02 22:00Z to 2024-06-03 22:00Z: 48946 Wh" in first
    second = run_example(live_server, account, env)
    assert "97 readings: 0 created, 97 unchanged, 0 conflicts" in second
