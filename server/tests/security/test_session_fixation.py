"""Session fixation: no cookie value a browser holds before sign-in is worth anything after it, and
signing out ends the session on the server, not only in the browser.

An attacker who can plant cookies (a sibling subdomain, a shared computer, plain http on the way)
plants a session cookie of their choosing, a session of their own, or a CSRF cookie whose form
token they know, then waits for the victim to sign in. Every test drives the real console over
HTTP and replays the old values the way the attacker would.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.conftest import Account, LiveServer
from tests.support import console_login, csrf_from

SESSION = "zevvy_session"
CSRF = "zevvy_csrf"
ATTACKER_CHOSEN = "attacker-chosen-session-value-0123456789abcdef"


def _cookie_set_by(response: httpx.Response, name: str) -> str | None:
    """The value `response` sets for cookie `name` (None when it sets none)."""
    for header in response.headers.get_list("set-cookie"):
        match = re.match(rf"{name}=([^;]*)", header)
        if match:
            return match.group(1).strip('"')
    return None


def _browser(live_server: LiveServer, **planted: str) -> httpx.Client:
    """A browser on the live server holding `planted` cookies, as if the site had set them."""
    browser = httpx.Client(base_url=live_server.url, timeout=30)
    for name, value in planted.items():
        browser.cookies.set(name, value, domain=httpx.URL(live_server.url).host, path="/")
    return browser


def _opens_console(live_server: LiveServer, session: str) -> bool:
    """Does this session cookie value, alone, open the console?"""
    with _browser(live_server, **{SESSION: session}) as browser:
        page = browser.get("/console/")
    if page.status_code == 303:
        assert page.headers["location"].startswith("/console/login")
        return False
    assert page.status_code == 200, page.text
    return True


def _sign_in(live_server: LiveServer, browser: httpx.Client, account: Account) -> str:
    """Sign `browser` in; returns its session cookie, which opens the console."""
    assert console_login(browser, account.username, account.password).status_code == 303
    session = browser.cookies.get(SESSION)
    assert session and _opens_console(live_server, session)
    return session


def test_a_session_cookie_chosen_before_sign_in_is_replaced_and_never_signs_anyone_in(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    account = make_user()
    with _browser(live_server, **{SESSION: ATTACKER_CHOSEN}) as victim:
        assert victim.get("/console/").status_code == 303  # the planted value names no session
        signed_in = console_login(victim, account.username, account.password)
        assert signed_in.status_code == 303
        issued = _cookie_set_by(signed_in, SESSION)
        assert issued and issued != ATTACKER_CHOSEN
        assert victim.cookies.get(SESSION) == issued
        assert victim.get("/console/").status_code == 200
    assert _opens_console(live_server, issued)
    assert not _opens_console(live_server, ATTACKER_CHOSEN)


def test_a_session_valid_before_sign_in_stops_working_when_the_browser_signs_in_again(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """The attacker's own session planted in the victim's browser, or the session of whoever used
    the browser before: the new sign-in ends it on the server, so its value is worth nothing."""
    attacker, victim_account = make_user(), make_user()
    with _browser(live_server) as attacker_browser:
        assert console_login(attacker_browser, attacker.username, attacker.password).status_code == 303
        planted = attacker_browser.cookies.get(SESSION)
    assert planted and _opens_console(live_server, planted)
    with _browser(live_server, **{SESSION: planted}) as victim:
        signed_in = console_login(victim, victim_account.username, victim_account.password)
        assert signed_in.status_code == 303
        issued = _cookie_set_by(signed_in, SESSION)
        assert issued and issued != planted
        home = victim.get("/console/")
        assert home.status_code == 200 and victim_account.username in home.text
    assert not _opens_console(live_server, planted)
    assert _opens_console(live_server, issued)


def test_a_csrf_cookie_planted_before_sign_in_gives_no_valid_form_token_afterwards(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """The attacker fetches a form with a CSRF cookie of their own, so they know its token, plants
    the cookie and waits: after sign-in the browser holds a new CSRF cookie, and a post carrying
    the known token is refused."""
    account = make_user()
    with _browser(live_server) as attacker_browser:
        form = attacker_browser.get("/console/login")
        planted_csrf = attacker_browser.cookies.get(CSRF)
        known_token = csrf_from(form.text)
    assert planted_csrf
    with _browser(live_server, **{CSRF: planted_csrf}) as victim:
        signed_in = console_login(victim, account.username, account.password)
        assert signed_in.status_code == 303
        rotated = _cookie_set_by(signed_in, CSRF)
        assert rotated and rotated != planted_csrf
        assert victim.cookies.get(CSRF) == rotated
        # The attacker's cross-site form: the victim's browser sends its cookies, the page sends the
        # token the attacker knows.
        forged = victim.post("/console/logout", data={"csrf_token": known_token})
        assert forged.status_code == 403
        assert victim.get("/console/").status_code == 200  # still signed in: the post did nothing
        # The console's own forms work with the new cookie.
        genuine = victim.post("/console/logout", data={"csrf_token": csrf_from(victim.get("/console/").text)})
        assert genuine.status_code == 303


def test_signing_out_ends_the_session_on_the_server_and_the_old_cookie_is_refused(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    account = make_user()
    with _browser(live_server) as browser:
        session = _sign_in(live_server, browser, account)
        signed_out = browser.post(
            "/console/logout", data={"csrf_token": csrf_from(browser.get("/console/").text)}
        )
        assert signed_out.status_code == 303
        assert _cookie_set_by(signed_out, SESSION) == ""  # the browser is told to forget it
    # Someone who kept a copy of the cookie (the browser ignoring the deletion, a stolen value).
    assert not _opens_console(live_server, session)


def test_rp_initiated_logout_ends_the_console_session_on_the_server(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """Signing out through the identity server's logout page ends the console session too."""
    account = make_user()
    with _browser(live_server) as browser:
        session = _sign_in(live_server, browser, account)
        page = browser.get("/realms/zevvy/protocol/openid-connect/logout")
        assert page.status_code == 200
        confirmed = browser.post(
            "/realms/zevvy/protocol/openid-connect/logout/logout-confirm",
            data={"csrf_token": csrf_from(page.text)},
        )
        assert confirmed.status_code == 200
    assert not _opens_console(live_server, session)
