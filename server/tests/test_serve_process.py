"""`zevvy-server serve` as a real process: first start, JSON request log, metrics, restart."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(
    tmp_path: Path, database_url: str, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    inherited = {k: v for k, v in os.environ.items() if k != "ZEVVY_ADMIN_PASSWORD"}
    env = {
        **inherited,
        "ZEVVY_PORT": str(port),
        "ZEVVY_DATA_DIR": str(tmp_path / "data"),
        "ZEVVY_DATABASE_URL": database_url,
        "ZEVVY_LOG_FORMAT": "json",
        "ZEVVY_METRICS_ADDR": "off",
        **extra_env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "zevvy_server", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"server did not start: {err.decode()[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    _, err = process.communicate(timeout=30)
    return err.decode()


def test_first_start_prints_the_admin_password_once_outside_the_json_log(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """The password block is plain text on stderr; every log line is JSON without the password."""
    metrics_port = _port()
    process, port = _serve(tmp_path, fresh_database_url, {"ZEVVY_METRICS_ADDR": f"127.0.0.1:{metrics_port}"})
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz?probe=1").status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        assert "zevvy_http_requests_total" in metrics
    finally:
        err = _stop(process)
    password_lines = [line for line in err.splitlines() if line.strip().startswith("password:")]
    assert len(password_lines) == 1
    password = password_lines[0].split(":", 1)[1].strip()
    assert len(password) >= 16
    json_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [line for line in json_lines if line.get("logger") == "zevvy.request"]
    assert any(
        line["path"] == "/healthz" and line["status"] == 200 and line["request_id"] for line in requests
    )
    assert all("probe=1" not in json.dumps(line) for line in requests)  # query strings are not logged
    assert password not in "\n".join(json.dumps(line) for line in json_lines)

    # A second start on the same database neither re-initialises nor prints a password.
    process, _ = _serve(tmp_path, fresh_database_url, {})
    err = _stop(process)
    assert "password:" not in err


def test_the_admin_password_from_the_environment_is_used_and_never_printed(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """ZEVVY_ADMIN_PASSWORD sets the admin password; nothing is shown."""
    process, _ = _serve(tmp_path, fresh_database_url, {"ZEVVY_ADMIN_PASSWORD": ADMIN_PASSWORD})
    err = _stop(process)
    assert "password:" not in err
    assert ADMIN_PASSWORD not in err


def test_binding_a_wildcard_address_without_a_public_url_is_refused(tmp_path: Path) -> None:
    """Settings validation stops the start with a clear message."""
    result = subprocess.run(
        [sys.executable, "-m", "zevvy_server", "serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],  # noqa: S104
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("ZEVVY_")},
    )
    assert result.returncode == 2
    assert "ZEVVY_PUBLIC_URL" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_post_offering_an_http2_upgrade_keeps_its_body(
    tmp_path: Path, fresh_database_url: str, workers: str
) -> None:
    """Java's default client sends `Upgrade: h2c` over http; the form body must still arrive,
    with one process and in worker processes (which get the protocol handed down)."""
    process, port = _serve(tmp_path, fresh_database_url, {"ZEVVY_WORKERS": workers})
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/realms/zevvy/protocol/openid-connect/auth/device",
            data={"client_id": "zevvy-cli", "scope": "measurement"},
            headers={
                "Connection": "Upgrade, HTTP2-Settings",
                "Upgrade": "h2c",
                "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA",
            },
        )
    finally:
        _stop(process)
    assert response.status_code == 200, response.text
    assert response.json()["user_code"]
