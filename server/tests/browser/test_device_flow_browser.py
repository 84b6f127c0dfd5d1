"""The device flow's browser half in headless Chromium: sign-in, code, consent, limits, CSRF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiClient, poll, start_device
from tests.conftest import Account, BrowserPage, LiveServer, unique
from zevvy_server.identity.models import Organization
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.service import ClientService

pytestmark = pytest.mark.browser


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client playing the device."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def make_client(live_server: LiveServer, make_org: Callable[..., Organization]) -> Callable[..., ApiClient]:
    """A confidential API client of a new organization."""

    def make() -> ApiClient:
        with live_server.db.write() as session:
            client, secret = ClientService(session, live_server.clock).create(unique("client"), make_org().id)
        return ApiClient(client, secret)

    return make


def _sign_in(tab: Any, account: Account) -> None:
    tab.get_by_label("Username").fill(account.username)
    tab.get_by_label("Password").fill(account.password)
    tab.get_by_role("button", name="Sign in").click()


def test_following_the_link_signing_in_and_approving_connects_the_device(
    page: BrowserPage,
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    make_org: Callable[..., Any],
) -> None:
    """verification_uri_complete → sign-in → consent naming client, owner, scopes and code → tokens."""
    account = make_user()
    second = make_org()
    with live_server.db.write() as session:
        identity = IdentityService(session, live_server.clock)
        identity.add_member(
            identity.get_organization(second.id), identity.get_user(account.user.id), "editor"
        )
    client = make_client()
    started = start_device(http, client, "measurement offline_access")
    tab = page.page
    tab.goto(started["verification_uri_complete"])
    _sign_in(tab, account)
    tab.wait_for_url("**/realms/zevvy/device?user_code=*")
    assert tab.locator("#shown-code").inner_text() == started["user_code"]
    text = tab.locator("main").inner_text()
    assert client.client.name in text and account.organization.name in text
    assert "Read and upload measurements" in text
    tab.get_by_label(second.name).check()
    tab.get_by_role("button", name="Approve").click()
    tab.wait_for_selector("text=Device connected")
    tokens = poll(http, client, started["device_code"])
    assert tokens.status_code == 200, tokens.text
    info = http.post(
        "/realms/zevvy/protocol/openid-connect/token/introspect",
        data={**client.credentials(), "token": tokens.json()["access_token"]},
    )
    assert info.json()["org_id"] == str(second.id)


def test_typing_a_wrong_code_shows_an_error_and_too_many_are_stopped(
    fresh_attempt_window: None,
    page: BrowserPage,
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
) -> None:
    """The form says the code is not valid; the eleventh wrong code gets the 429 page."""
    account = make_user()
    tab = page.page
    tab.goto("/realms/zevvy/device")
    _sign_in(tab, account)
    tab.wait_for_url("**/realms/zevvy/device")
    for attempt in range(10):
        tab.get_by_label("Code").fill(f"bbbb-bbb{'bcdfghjklm'[attempt]}")
        tab.get_by_role("button", name="Continue").click()
        tab.wait_for_selector("text=This code is not valid")
    tab.get_by_label("Code").fill("bbbb-bbbb")
    tab.get_by_role("button", name="Continue").click()
    tab.wait_for_selector("text=Too many attempts")
    started = start_device(http, make_client())
    tab.goto(started["verification_uri_complete"])
    assert "Too many attempts" in tab.locator("main").inner_text()
    live_server.clock.advance(601)
    tab.goto(f"/realms/zevvy/device?user_code={started['user_code']}")
    assert tab.locator("#shown-code").count() == 0  # the code expired meanwhile
    fresh = start_device(http, make_client())
    tab.goto(fresh["verification_uri_complete"])
    assert tab.locator("#shown-code").inner_text() == fresh["user_code"]
    # Chromium reports every 4xx document as a console error; these statuses are the point here.
    intended = ("status of 422", "status of 429", "status of 409")
    page.errors[:] = [e for e in page.errors if not any(status in e for status in intended)]


def test_a_post_without_the_csrf_token_is_refused(
    page: BrowserPage,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
) -> None:
    """The browser's own cookies are not enough to approve a device."""
    account = make_user()
    client = make_client()
    started = start_device(http, client)
    tab = page.page
    tab.goto("/realms/zevvy/device")
    _sign_in(tab, account)
    tab.wait_for_url("**/realms/zevvy/device")
    forged = tab.context.request.post(
        "/realms/zevvy/device",
        form={
            "user_code": started["user_code"],
            "decision": "approve",
            "organization_id": str(account.organization.id),
        },
    )
    assert forged.status == 403
    assert poll(http, client, started["device_code"]).json()["error"] == "authorization_pending"
