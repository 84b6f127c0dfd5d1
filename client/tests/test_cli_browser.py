"""The whole device-flow login of `zevvy login`, approved in headless Chromium, then push and export."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from clitools import Cli
from conftest import CHROMIUM_ARGS, Account, Server, unique

EXAMPLE_CSV = Path(__file__).resolve().parents[2] / "examples" / "charging_station.csv"
LINK = re.compile(r"(https?://\S+/device\?user_code=(\S+))")


def read_until(stream: object, pattern: re.Pattern[str], limit: float = 30) -> tuple[re.Match[str], str]:
    """Lines of `stream` until one matches; the match and everything read."""
    seen = ""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            break
        seen += line
        if match := pattern.search(line):
            return match, seen
    raise AssertionError(f"no line matched {pattern.pattern!r} in:\n{seen}")


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_login_in_a_browser_then_push_and_export(
    chromium_path: str, live_server: Server, account: Account, tmp_path: Path
) -> None:
    """Link, code and QR code on the terminal; sign-in and approval in the browser; then data flows."""
    cli = Cli.for_server(tmp_path / "config", live_server.auth_url, live_server.url)
    login = cli.start("login")
    try:
        approve_in_browser(chromium_path, login, account)
        out, err = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
            login.communicate()
    assert login.returncode == 0, err
    assert "Logged in" in out and account.username in out

    ref = unique("browser")
    pushed = cli.run(
        "push",
        str(EXAMPLE_CSV),
        "--device-ref",
        ref,
        "--register-ref",
        "energy",
        "--time-column",
        "timestamp",
        "--value-column",
        "energy_wh",
        "--json",
    )
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["created"] == 97
    exported = cli.run(
        "export",
        "--device-ref",
        ref,
        "--register-ref",
        "energy",
        "--from",
        "2024-06-03",
        "--to",
        "2024-06-04",
        "--interval",
        "day",
    )
    assert exported.returncode == 0, exported.stderr
    assert [row["value"] for row in csv.DictReader(io.StringIO(exported.stdout))] == ["48946"]


def approve_in_browser(chromium_path: str, login: subprocess.Popen[str], account: Account) -> None:
    """Read the link, code and QR code the command shows, then sign in and approve in Chromium."""
    from playwright.sync_api import sync_playwright

    assert login.stderr is not None
    match, shown = read_until(login.stderr, LINK)
    url, code = match.group(1), match.group(2)
    assert code in shown.split(url)[0], "the code is shown before the link"
    _, drawing = read_until(login.stderr, re.compile("Waiting for approval"))
    assert "█" in drawing and "▀" in drawing and "▄" in drawing, "a QR code is drawn"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(locale="en-US").new_page()
        page.goto(url)
        page.get_by_label("Username").fill(account.username)
        page.get_by_label("Password").fill(account.password)
        page.get_by_label("Password").press("Enter")
        page.wait_for_load_state()
        code_field = page.get_by_label("Code")
        if code_field.count() and code_field.is_editable() and not code_field.input_value():
            code_field.fill(code)
            code_field.press("Enter")
        assert code in page.content(), "the consent page shows the code to compare"
        page.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()
        browser.close()
