"""The API guide's snippets run, in every language, and print what the guide shows.

Each language runs the whole guide against its own server as a new reader: a new account approves
the device code in headless Chromium, then the snippets create the device, import the charging
station's day, read it back and refresh the token. A missing toolchain skips its language (fails
under ZEVVY_TEST_STRICT=1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, needs_system_package
from tests.guide.harness import (
    DEVICE_AUTHORIZATION_FILE,
    POLL_STEP,
    approve_in_browser,
    finish,
    missing_toolchain,
    new_client,
    new_person,
    normalise,
    redact,
    run_guide,
    run_step,
    serve,
    snippet_env,
)
from zevvy_server.console import guide
from zevvy_server.oauth.device import DeviceService
from zevvy_server.oauth.models import DeviceCode
from zevvy_server.oauth.tokens import lookup_hash

LANGUAGES = [language.key for language in guide.LANGUAGES]
DEVICE_NAME = "zevvy Test Device Example Charging Station"
REGISTER_NAME = "zevvy Test Register Example Charging Station"
# The charging hour the guide reads back: the meter total every 15 minutes, in Wh.
CHARGING_HOUR = [
    {"readAt": "2024-06-03T16:00:00Z", "value": 1520000},
    {"readAt": "2024-06-03T16:15:00Z", "value": 1522750},
    {"readAt": "2024-06-03T16:30:00Z", "value": 1525500},
    {"readAt": "2024-06-03T16:45:00Z", "value": 1528250},
]


@pytest.fixture(scope="module")
def guide_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of its own that lets device-flow clients poll every second (the default is 5)."""
    with serve(tmp_path_factory.mktemp("guide"), device_poll_interval=1) as server:
        yield server


@pytest.fixture(scope="module")
def patient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that asks device-flow clients to poll every 6 seconds."""
    with serve(tmp_path_factory.mktemp("patient"), device_poll_interval=6) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(guide_server: LiveServer) -> tuple[str, str]:
    """An integrator's confidential client (id, secret), as the hosted zevvy hands them out."""
    return new_client(guide_server, new_person(guide_server).organization)


def _toolchain(language: str) -> None:
    missing = missing_toolchain(language)
    if missing:
        needs_system_package(*missing)


def _check_what_happened(printed: dict[str, Any], server: LiveServer) -> None:
    authorization = printed["1.0-device-authorization"]
    assert list(authorization) == [
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    ]
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", authorization["user_code"])
    assert authorization["verification_uri"] == f"{server.issuer}/device"

    token = printed[POLL_STEP]
    assert token["token_type"] == "Bearer"
    assert token["access_token"].count(".") == 2
    assert set(token["scope"].split()) >= {"offline_access", "measurement", "register", "device"}

    device = printed["2.0-create-device"]
    assert (device["name"], device["reference"]) == (DEVICE_NAME, "garage/wallbox 1")

    day = printed["3.0-charging-station"]
    assert (day["created"], day["unchanged"], day["overwritten"], day["conflicts"]) == (97, 0, 0, 0)
    assert day["device"]["id"] == device["id"] and not day["device"]["created"]
    assert day["register"]["name"] == REGISTER_NAME and day["register"]["created"]

    by_reference = printed["3.1-readings-by-reference"]
    assert by_reference["created"] == 4
    # Found by its reference with "/" and " " in it: the encoding kept it one path segment.
    assert by_reference["device"]["id"] == device["id"]
    assert by_reference["register"]["reference"] == "connector 2"

    assert printed["4.0-readings"] == {"items": CHARGING_HOUR, "nextCursor": None}

    consumption = printed["4.1-daily-consumption"]
    [bucket] = consumption["buckets"]
    assert (bucket["value"], bucket["estimated"], consumption["total"]) == (33000, False, 33000)

    refreshed = printed["5.0-refresh-token"]
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]


@pytest.mark.browser
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_snippet_runs_and_prints_what_the_guide_shows(
    language: str, guide_server: LiveServer, gateway: tuple[str, str], browser: Any, tmp_path: Path
) -> None:
    _toolchain(language)
    reader = new_person(guide_server)
    client_id, secret = gateway
    printed = run_guide(
        language,
        tmp_path,
        snippet_env(guide_server, client_id, secret),
        lambda user_code: approve_in_browser(browser, guide_server, reader, user_code),
    )

    _check_what_happened(printed, guide_server)
    shown = guide.response_blocks(guide.guide_text())
    for step_id, output in printed.items():
        expected = json.loads(shown[step_id])
        assert normalise(redact(output, guide_server.url)) == normalise(expected), (
            f"{language} {step_id} printed something else than docs/api-guide.md shows; "
            "if the change is intended, run `python -m tests.guide.regenerate` in server/"
        )


def test_the_polling_snippets_wait_five_seconds_longer_after_slow_down(
    patient_server: LiveServer, tmp_path: Path
) -> None:
    server = patient_server
    languages = [language for language in LANGUAGES if missing_toolchain(language) is None]
    client_id, secret = new_client(server, new_person(server).organization)
    reader = new_person(server)
    env = snippet_env(server, client_id, secret)
    authorize, poll = guide.steps()[:2]
    assert poll.id == POLL_STEP

    def run(language: str) -> int:
        folder = tmp_path / language
        folder.mkdir()
        finish(run_step(authorize, language, folder, env), f"{language} {authorize.id}")
        request = json.loads((folder / DEVICE_AUTHORIZATION_FILE).read_text())
        # A poll of our own starts the code's poll clock: the snippet's first poll comes too early.
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": request["device_code"],
        }
        early = httpx.post(
            f"{server.issuer}/protocol/openid-connect/token",
            data={**form, "client_id": client_id, "client_secret": secret},
            timeout=30,
        )
        assert early.json()["error"] == "authorization_pending"
        polling = run_step(poll, language, folder, env)
        with server.db.write() as session:
            DeviceService(session, server.clock, server.settings).approve(
                request["user_code"], user_id=reader.user_id, organization_id=reader.organization.id, ip=None
            )
        finish(polling, f"{language} {poll.id}")
        with server.db.read() as session:
            code = session.scalars(
                select(DeviceCode).where(DeviceCode.device_code_hash == lookup_hash(request["device_code"]))
            ).one()
            return code.interval

    with ThreadPoolExecutor(max_workers=len(languages)) as pool:
        intervals = dict(zip(languages, pool.map(run, languages), strict=True))

    # One slow_down (6 -> 11 s) and no second one: the snippet waited 5 seconds longer.
    assert intervals == dict.fromkeys(languages, 11)
    for language in LANGUAGES:
        _toolchain(language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_console_snippets_run_with_the_server_values_as_defaults(
    language: str, guide_server: LiveServer, tmp_path: Path
) -> None:
    _toolchain(language)
    [first, *_] = guide.snippets_for(guide_server.issuer, guide_server.url, "zevvy-cli")
    env = snippet_env(guide_server, "unused", None)
    for name in ("ZEVVY_AUTH_URL", "ZEVVY_API_URL", "ZEVVY_CLIENT_ID"):
        del env[name]

    process = run_step(first, language, tmp_path, env)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 0, stderr
    answer = json.loads(stdout)
    link = answer["verification_uri_complete"]
    assert link == f"{guide_server.issuer}/device?user_code={answer['user_code']}"
    assert link in stderr  # the reader is told where to approve


def test_the_guide_file_shows_the_tested_snippets() -> None:
    text = guide.guide_text()
    assert guide.expand_snippets(text) == text, (
        "docs/api-guide.md differs from docs/snippets: run `python -m tests.guide.regenerate` in server/"
    )


def test_every_step_has_a_snippet_in_every_language_and_a_response() -> None:
    text = guide.guide_text()
    steps = guide.steps()
    responses = guide.response_blocks(text)

    assert [step.id for step in steps] == list(responses)
    assert {p.name for p in guide.SNIPPETS_DIR.iterdir()} == {step.id for step in steps}
    for step in steps:
        assert [s.language for s in step.snippets] == LANGUAGES
        for snippet in step.snippets:
            assert f"Run: {snippet.run}" in snippet.code, (step.id, snippet.language)
        json.loads(responses[step.id])
        java = step.snippets[0]
        assert f"public class {java.filename.removesuffix('.java')} " in java.code, java.filename


def test_the_shown_responses_hold_no_token_or_code() -> None:
    text = guide.guide_text()
    for step_id, body in guide.response_blocks(text).items():
        assert "eyJ" not in body, step_id  # a JWT
        shown = json.loads(body)
        for key in ("access_token", "refresh_token", "device_code", "user_code"):
            if key in shown:
                assert shown[key].startswith("<"), (step_id, key)


def test_snippets_for_puts_the_values_in_place_of_the_defaults_only() -> None:
    auth, api, client = "https://zevvy.example.org/realms/zevvy", "https://zevvy.example.org", "gw-1a2b"
    plain = {step.id: step for step in guide.steps()}

    for step in guide.snippets_for(auth + "/", api + "/", client):
        for snippet, original in zip(step.snippets, plain[step.id].snippets, strict=True):
            assert snippet.code != original.code
            restored = snippet.code.replace(auth, "http://127.0.0.1:8000/realms/zevvy")
            restored = restored.replace(f"{api}", "http://127.0.0.1:8000").replace(client, "zevvy-cli")
            assert restored == original.code
            assert guide.default_read(snippet.language, "ZEVVY_CLIENT_SECRET").search(snippet.code) is None


def test_every_snippet_reads_the_variables_with_the_one_default_form() -> None:
    for step in guide.steps():
        for snippet in step.snippets:
            for name in guide.DEFAULTED:
                reads = len(re.findall(rf"\b{name}\b", snippet.code))
                defaults = len(guide.default_read(snippet.language, name).findall(snippet.code))
                assert reads == defaults, (step.id, snippet.language, name)


@pytest.mark.parametrize("value", ['http://x/"; rm -rf /', "http://x/$(id)", "a b", "it's"])
def test_snippets_for_refuses_values_that_would_need_escaping(value: str) -> None:
    with pytest.raises(ValueError, match="cannot be shown"):
        guide.snippets_for(value, "http://127.0.0.1:8000", "zevvy-cli")
