"""The device page over HTTP with a signed-in browser: code entry, consent, limits, CSRF."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.api.conftest import REALM, ApiClient, poll, start_device
from tests.conftest import Account
from tests.support import csrf_from


def test_the_device_page_asks_to_sign_in_first_and_comes_back(http: httpx.Client) -> None:
    """The link from the device keeps its user_code through the sign-in."""
    answer = http.get(f"{REALM}/device", params={"user_code": "BCDF-GHJK"})
    assert answer.status_code == 303
    assert (
        answer.headers["location"] == "/console/login?next=%2Frealms%2Fzevvy%2Fdevice%3Fuser_code%3DBCDF-GHJK"
    )


def test_the_link_shows_the_consent_with_code_client_owner_and_scopes_in_plain_words(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Entry is case-, space- and dash-insensitive; the page says what will be allowed."""
    client = make_client()
    started = start_device(http, client, "measurement offline_access")
    browser = browser_session(make_user())
    typed = " " + started["user_code"].lower().replace("-", " ") + " "
    page = browser.get(f"{REALM}/device", params={"user_code": typed})
    assert page.status_code == 200
    assert started["user_code"] in page.text
    assert client.client.name in page.text
    assert "Read and upload measurements" in page.text
    assert "Stay connected when you are not signed in" in page.text
    assert ">Approve<" in page.text and ">Deny<" in page.text


def test_entering_the_code_and_approving_on_the_page_lets_the_device_get_tokens(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Form, consent, approval, then the device's next poll succeeds for the chosen organization."""
    account = make_user()
    client = make_client()
    started = start_device(http, client, "device")
    browser = browser_session(account)
    form = browser.get(f"{REALM}/device")
    assert "Code" in form.text
    consent = browser.post(
        f"{REALM}/device", data={"csrf_token": csrf_from(form.text), "user_code": started["user_code"]}
    )
    assert consent.status_code == 200
    done = browser.post(
        f"{REALM}/device",
        data={
            "csrf_token": csrf_from(consent.text),
            "user_code": started["user_code"],
            "decision": "approve",
            "organization_id": str(account.organization.id),
        },
    )
    assert done.status_code == 200 and "Device connected" in done.text
    tokens = poll(http, client, started["device_code"])
    assert tokens.status_code == 200, tokens.text


def test_denying_on_the_page_is_what_the_device_hears(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """access_denied on the next poll."""
    client = make_client()
    started = start_device(http, client)
    browser = browser_session(make_user())
    consent = browser.get(f"{REALM}/device", params={"user_code": started["user_code"]})
    browser.post(
        f"{REALM}/device",
        data={"csrf_token": csrf_from(consent.text), "user_code": started["user_code"], "decision": "deny"},
    )
    assert poll(http, client, started["device_code"]).json()["error"] == "access_denied"


def test_wrong_codes_are_refused_and_limited_per_account(
    fresh_attempt_window: None,
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Ten wrong entries per account per ten minutes; then a 429 page with Retry-After."""
    browser = browser_session(make_user())
    token = csrf_from(browser.get(f"{REALM}/device").text)
    for attempt in range(10):
        wrong = browser.post(
            f"{REALM}/device", data={"csrf_token": token, "user_code": f"BBBB-BBB{'BCDFGHJKLM'[attempt]}"}
        )
        assert wrong.status_code == 422, attempt
        assert "This code is not valid" in wrong.text
    limited = browser.post(f"{REALM}/device", data={"csrf_token": token, "user_code": "BBBB-BBBB"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "600"


def test_the_device_form_is_refused_without_its_csrf_token(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """A cross-site POST cannot approve a device for the signed-in person."""
    account = make_user()
    client = make_client()
    started = start_device(http, client)
    browser = browser_session(account)
    forged = browser.post(
        f"{REALM}/device",
        data={
            "user_code": started["user_code"],
            "decision": "approve",
            "organization_id": str(account.organization.id),
        },
    )
    assert forged.status_code == 403
    assert poll(http, client, started["device_code"]).json()["error"] == "authorization_pending"


def test_the_device_page_of_another_realm_is_not_found(http: httpx.Client) -> None:
    """Only the configured realm exists."""
    assert http.get("/realms/other/device").status_code == 404
