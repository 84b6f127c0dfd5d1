"""Running the API guide's snippets the way a reader does, for the test and for `regenerate`.

Each language's sequence runs in a folder of its own: every snippet is saved under the file name the
guide gives it and started with the guide's command, in the order of the guide, with the
``ZEVVY_*`` variables set. While step 1.2 polls, the device code is approved in headless Chromium
on the server's device page, as a person would. What the snippets print is then redacted (tokens
and codes become placeholders, the server's address becomes the quick start's) for the guide, and
normalised (ids, times of the run) for comparing runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from tests.conftest import CHROMIUM_ARGS, LiveServer, _free_port, make_settings, throwaway_database
from zevvy_server.app import create_app
from zevvy_server.bootstrap import prepare_database
from zevvy_server.clock import AdjustableClock
from zevvy_server.console import guide
from zevvy_server.identity.models import Organization
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.service import ClientService
from zevvy_server.storage.engine import Database

POLL_STEP = "1.2-access-token"
DEVICE_AUTHORIZATION_FILE = "zevvy-device-authorization.json"
GSON_JAR = os.environ.get("ZEVVY_GSON_JAR", "/usr/share/java/gson.jar")
# The address the guide shows: the quick start's server.
SHOWN_BASE_URL = "http://127.0.0.1:8000"
PLACEHOLDERS = {
    "access_token": "<access token>",
    "refresh_token": "<refresh token>",
    "id_token": "<id token>",
    "device_code": "<device code>",
    "user_code": "<user code>",
}
STEP_TIMEOUT = 120


# -- toolchains ---------------------------------------------------------------------------------
def _output(*command: str) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout + done.stderr if done.returncode == 0 else None


def missing_toolchain(language: str) -> tuple[str, str] | None:
    """What is missing to run `language`'s snippets, with the Debian packages that provide it."""
    if language == "python":
        return None
    if language == "java":
        if not shutil.which("java"):
            return "Java", "apt install default-jdk-headless"
        if not Path(GSON_JAR).is_file():
            return "Gson", "apt install libgoogle-gson-java (or set ZEVVY_GSON_JAR)"
        return None
    if language == "javascript":
        version = _output("node", "--version") if shutil.which("node") else None
        match = re.match(r"v(\d+)", version or "")
        if not match or int(match[1]) < 18:
            return "Node.js 18 or newer", "apt install nodejs"
        return None
    if language == "shell":
        for tool in ("curl", "jq"):
            if not shutil.which(tool):
                return tool, f"apt install {tool}"
        return None
    if language == "php":
        modules = _output("php", "-m") if shutil.which("php") else None
        if modules is None:
            return "PHP", "apt install php-cli php-curl"
        if "curl" not in modules.split():
            return "PHP's curl extension", "apt install php-curl"
        return None
    raise ValueError(language)


def command(language: str, filename: str) -> list[str]:
    """The guide's command for a saved snippet (this interpreter for Python, a 3.11 or newer)."""
    return {
        "java": ["java", "-cp", GSON_JAR, filename],
        "python": [sys.executable, filename],
        "javascript": ["node", filename],
        "shell": ["sh", filename],
        "php": ["php", filename],
    }[language]


# -- a server to run them against ---------------------------------------------------------------
@contextmanager
def serve(folder: Path, **settings: Any) -> Iterator[LiveServer]:
    """A server on a loopback port with a prepared throwaway database (SQLite unless configured)."""
    with throwaway_database(folder) as url:
        port = _free_port()
        config = make_settings(url, folder / "data", port=port, **settings)
        clock = AdjustableClock()
        db = Database(config)
        prepare_database(db, config, clock, migrate_schema=False)
        app = create_app(config, clock=clock, db=db, metrics=False)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the guide's server did not start")
            time.sleep(0.02)
        try:
            yield LiveServer(url=f"http://127.0.0.1:{port}", settings=config, clock=clock, db=db, app=app)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@dataclass(frozen=True)
class Person:
    """Someone who approves device codes, admin of an organization of their own."""

    username: str
    password: str
    user_id: uuid.UUID
    organization: Organization


def new_person(server: LiveServer) -> Person:
    """A new account in a new organization (a clean slate for one run of the guide)."""
    password = secrets.token_urlsafe(16)
    username = f"reader-{uuid.uuid4().hex[:10]}"
    with server.db.write() as session:
        identity = IdentityService(session, server.clock)
        organization = identity.create_organization(f"Guide {username}")
        user = identity.create_user(username, "reader@example.org", password)
        identity.add_member(organization, user, "admin")
    return Person(username, password, user.id, organization)


def new_client(server: LiveServer, organization: Organization) -> tuple[str, str]:
    """A confidential API client with the device grant: its id and secret."""
    with server.db.write() as session:
        client, secret = ClientService(session, server.clock).create("Guide gateway", organization.id)
    assert secret is not None
    return client.client_id, secret


def approve_in_browser(browser: Any, server: LiveServer, person: Person, user_code: str) -> None:
    """Open the device page as a person would, sign in, check the code and approve it."""
    context = browser.new_context(base_url=server.url, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server.issuer}/device?user_code={user_code}")
        page.get_by_label("Username").fill(person.username)
        page.get_by_label("Password").fill(person.password)
        page.get_by_role("button", name="Sign in").click()
        shown = page.locator("#shown-code")
        shown.wait_for()
        assert shown.inner_text().strip() == user_code
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name="Device connected").wait_for()
    finally:
        context.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (ZEVVY_CHROMIUM or the PATH), for running outside pytest."""
    from playwright.sync_api import sync_playwright

    path = os.environ.get("ZEVVY_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
    )
    if not path:
        raise SystemExit("Chromium is needed: install Debian's chromium package or set ZEVVY_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


# -- running the snippets -----------------------------------------------------------------------
def snippet_env(server: LiveServer, client_id: str, secret: str | None) -> dict[str, str]:
    """The environment a reader sets (nothing else of ours leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEVVY_")}
    env.update(ZEVVY_AUTH_URL=server.issuer, ZEVVY_API_URL=server.url, ZEVVY_CLIENT_ID=client_id)
    if secret:
        env["ZEVVY_CLIENT_SECRET"] = secret
    return env


def _save(step: guide.Step, language: str, folder: Path) -> str:
    snippet = next(s for s in step.snippets if s.language == language)
    (folder / snippet.filename).write_text(snippet.code, encoding="utf-8")
    return snippet.filename


def finish(process: subprocess.Popen[str], label: str) -> str:
    """Wait for a snippet; its standard output, or AssertionError with what it said when it failed."""
    try:
        stdout, stderr = process.communicate(timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"{label} did not finish in {STEP_TIMEOUT} s\n{stderr}") from None
    if process.returncode != 0:
        raise AssertionError(f"{label} failed with {process.returncode}\n{stderr}\n{stdout}")
    return stdout


def run_step(step: guide.Step, language: str, folder: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start one snippet, saved in `folder` under its name in the guide."""
    filename = _save(step, language, folder)
    env = dict(env)
    if language == "java":
        # Starts short programs about twice as fast; the command stays the guide's.
        env.setdefault("JDK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
    return subprocess.Popen(
        command(language, filename),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_guide(
    language: str,
    folder: Path,
    env: Mapping[str, str],
    approve: Callable[[str], None],
    steps: list[guide.Step] | None = None,
) -> dict[str, Any]:
    """Run every step in order; the JSON each printed, by step id. `approve` gets the user code."""
    printed: dict[str, Any] = {}
    for step in steps or guide.steps():
        label = f"{language} snippet {step.id}"
        process = run_step(step, language, folder, env)
        if step.id == POLL_STEP:
            authorization = json.loads((folder / DEVICE_AUTHORIZATION_FILE).read_text())
            try:
                approve(authorization["user_code"])
            except BaseException:
                process.kill()
                process.communicate()
                raise
        stdout = finish(process, label)
        try:
            printed[step.id] = json.loads(stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{label} printed no JSON: {exc}\n{stdout}") from None
    return printed


# -- what the guide shows, and comparing runs ---------------------------------------------------
def _strings(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                yield key, item
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def redact(value: Any, base_url: str) -> Any:
    """`value` with tokens and codes as placeholders, and the server's address as the quick start's."""
    secrets_seen = {text: PLACEHOLDERS[key] for key, text in _strings(value) if key in PLACEHOLDERS}

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        if isinstance(item, str):
            for secret, placeholder in secrets_seen.items():
                item = item.replace(secret, placeholder)
            return item.replace(base_url, SHOWN_BASE_URL)
        return item

    return walk(value)


def shown(value: Any) -> str:
    """JSON as the guide shows it."""
    return json.dumps(value, indent=2, ensure_ascii=False)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
# The example's readings lie on these days; any other instant is a time of the run.
EXAMPLE_DAYS = {"2024-06-02", "2024-06-03", "2024-06-04"}
# Numbers that depend on the run: the poll interval (the test polls every second), and lifetimes
# counted down from the moment of issue (a second more or less).
RUN_SETTINGS = {"interval"}
LIFETIMES = {"expires_in", "refresh_expires_in"}


def _number(key: str, value: int, settings: bool) -> Any:
    if key in RUN_SETTINGS and settings:
        return "<run setting>"
    if key in LIFETIMES:
        return f"about {round(value / 10) * 10} s"
    return value


def normalise(value: Any, *, settings: bool = True) -> Any:
    """`value` with ids and times of the run as markers, for comparing runs.

    With `settings`, also the members that depend on the server's settings (the test's server
    lets clients poll faster than the default the guide shows).
    """
    if isinstance(value, dict):
        return {
            key: _number(key, item, settings) if isinstance(item, int) else normalise(item, settings=settings)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [normalise(item, settings=settings) for item in value]
    if isinstance(value, str):
        value = UUID.sub("<id>", value)
        return INSTANT.sub(lambda m: m[0] if m[1] in EXAMPLE_DAYS else "<time of the run>", value)
    return value
