"""`pip install ./client` in a fresh virtualenv installs the SDK without any server dependency."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from conftest import STRICT

CLIENT = Path(__file__).resolve().parents[1]
SERVER_ONLY = {
    "zevvy-server",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "authlib",
    "joserfc",
    "argon2-cffi",
    "jinja2",
    "psycopg",
    "pydantic",
    "pydantic-settings",
    "msgspec",
    "orjson",
    "prometheus-client",
}
ALLOWED = {
    "zevvy",
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "idna",
    "certifi",
    "sniffio",
    "typing-extensions",
    "pip",
}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_sdk_installs_alone(tmp_path: Path) -> None:
    """Only httpx and its own dependencies come along; the command explains how to get its extras."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(CLIENT),
        ],
        check=True,
    )
    wheel = next(wheels.glob("zevvy-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    if install.returncode != 0:
        reason = f"pip could not install the dependencies (offline?): {install.stderr.strip()[-300:]}"
        if STRICT:
            pytest.fail(reason)
        pytest.skip(reason)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    installed = {item["name"].lower().replace("_", "-") for item in json.loads(listed.stdout)}
    assert not installed & SERVER_ONLY
    assert installed - {"setuptools"} <= ALLOWED, installed - ALLOWED
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import sys, zevvy; zevvy.Client('http://127.0.0.1:9'); print(sorted(sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "zevvy_server" not in check.stdout
    command = subprocess.run([str(env_dir / "bin" / "zevvy"), "--version"], capture_output=True, text=True)
    assert command.returncode == 1
    assert "pip install 'zevvy[cli]'" in command.stderr
