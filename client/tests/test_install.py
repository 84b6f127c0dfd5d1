"""`pip install ./client` in a fresh virtualenv installs the SDK without any server dependency."""

from __future__ import annotations

import json
import subprocess
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
}
SERVER_ONLY |= {"argon2-cffi", "jinja2", "psycopg", "pydantic", "msgspec", "orjson", "prometheus-client"}
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
OFFLINE = (
    "Failed to establish",
    "Could not find a version",
    "No matching distribution",
    "Network is unreachable",
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=240)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_sdk_installs_alone(tmp_path: Path) -> None:
    """Only httpx and its own dependencies come along; the command explains how to get its extras."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, command = str(env_dir / "bin" / "python"), str(env_dir / "bin" / "zevvy")
    # pip builds the package in an isolated environment and fetches its dependencies from the
    # package index (or its cache).
    install = run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(CLIENT))
    if install.returncode != 0:
        reason = f"pip could not install the package: {install.stderr.strip()[-400:]}"
        if any(hint in install.stderr for hint in OFFLINE) and not STRICT:
            pytest.skip("no package index reachable (offline?); " + reason)
        pytest.fail(reason)

    listed = run(python, "-m", "pip", "list", "--format", "json")
    installed = {item["name"].lower().replace("_", "-") for item in json.loads(listed.stdout)}
    assert not installed & SERVER_ONLY
    assert installed - {"setuptools"} <= ALLOWED, installed - ALLOWED

    imported = run(
        python, "-c", "import sys, zevvy; zevvy.Client('http://127.0.0.1:9'); print(sorted(sys.modules))"
    )
    assert imported.returncode == 0, imported.stderr
    assert "zevvy_server" not in imported.stdout and "typer" not in imported.stdout

    without_extras = run(command, "--version")
    assert without_extras.returncode == 1
    assert "pip install 'zevvy[cli]'" in without_extras.stderr
