"""Console sign-in: sessions, CSRF, throttling, forced password change, safe redirects."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import ADMIN_PASSWORD, Account, LiveServer
from tests.support import console_login, csrf_from


def test_signing_in_sets_an_httponly_lax_session_cookie_and_opens_the_home_page(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """Right credentials give a fresh session cookie and the home page names the user."""
    account = make_user()
    with httpx.Client(base_url=live_server.url) as client:
        response = console_login(client, account.username, account.password)
        assert response.status_code == 303
        assert response.headers["location"] == "/console/"
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("zevvy_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        home = client.get("/console/")
        assert home.status_code == 200
        assert account.username in home.text


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """401 and the generic message; no session cookie."""
    account = make_user()
    with httpx.Client(base_url=live_server.url) as client:
        response = console_login(client, account.username, "wrong-password-123")
        assert response.status_code == 401
        assert "Invalid username or password." in response.text
        assert "zevvy_session" not in response.headers.get("set-cookie", "")


def test_a_post_without_csrf_token_is_refused_and_signs_nobody_in(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """A form POST without the token answers 403 csrf_failed."""
    account = make_user()
    with httpx.Client(base_url=live_server.url) as client:
        client.get("/console/login")
        response = client.post(
            "/console/login", data={"username": account.username, "password": account.password}
        )
        assert response.status_code == 403
        assert "zevvy_session" not in response.headers.get("set-cookie", "")
        forged = client.post(
            "/console/login",
            data={"csrf_token": "0" * 64, "username": account.username, "password": account.password},
        )
        assert forged.status_code == 403


def test_failed_logins_are_throttled_per_account(
    fresh_attempt_window: None, live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """After the allowed failures even the right password is refused with 429 and Retry-After."""
    account = make_user()
    limit = live_server.settings.login_failures_per_account
    with httpx.Client(base_url=live_server.url) as client:
        for _ in range(limit):
            assert console_login(client, account.username, "wrong-password-123").status_code == 401
        blocked = console_login(client, account.username, account.password)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0


def test_the_next_parameter_never_leaves_the_site(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    """An absolute or protocol-relative `next` falls back to the console's home."""
    account = make_user()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        with httpx.Client(base_url=live_server.url) as client:
            response = console_login(client, account.username, account.password, next_path=target)
            assert response.status_code == 303
            assert response.headers["location"] == "/console/"


def test_signing_out_ends_the_session(live_server: LiveServer, make_user: Callable[..., Account]) -> None:
    """After sign-out the old cookie no longer opens the console."""
    account = make_user()
    with httpx.Client(base_url=live_server.url) as client:
        console_login(client, account.username, account.password)
        old = client.cookies.get("zevvy_session")
        home = client.get("/console/")
        client.post("/console/logout", data={"csrf_token": csrf_from(home.text)})
        client.cookies.set("zevvy_session", old or "")
        again = client.get("/console/")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/console/login")


def test_the_admin_created_at_first_start_can_sign_in(live_server: LiveServer) -> None:
    """The bootstrap admin exists with the configured password."""
    with httpx.Client(base_url=live_server.url) as client:
        assert console_login(client, "admin", ADMIN_PASSWORD).status_code == 303


def test_the_console_speaks_german_when_asked(live_server: LiveServer) -> None:
    """Accept-Language: de gives the German sign-in page."""
    response = httpx.get(f"{live_server.url}/console/login", headers={"accept-language": "de-CH,de;q=0.9"})
    assert "Anmelden" in response.text
    assert 'lang="de"' in response.text


def test_a_browser_opening_the_root_lands_in_the_console(live_server: LiveServer) -> None:
    """GET / redirects to /console/."""
    response = httpx.get(f"{live_server.url}/")
    assert response.status_code == 302
    assert response.headers["location"] == "/console/"
