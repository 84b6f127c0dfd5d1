"""Every console page sends the security headers, and every console form POST needs its CSRF token.

Both tests walk the app's routes, so a new page or form is covered without anyone remembering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
from starlette.routing import BaseRoute, Mount, Route

from tests.conftest import Account, LiveServer
from tests.support import console_login

BROWSER_PREFIXES = ("/console", "/realms/{realm}/device", "/realms/{realm}/protocol/openid-connect/auth")


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix)
        elif isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path_format, set(route.methods or ())


def browser_routes(live_server: LiveServer, method: str) -> list[str]:
    """Paths of console and browser-facing identity routes answering `method`."""
    found = sorted(
        {
            path
            for path, methods in _routes(live_server.app.routes)
            if method in methods and path.startswith(BROWSER_PREFIXES)
        }
    )
    assert found, f"no {method} routes found"
    return found


def _fill(path: str) -> str:
    return re.sub(
        r"\{realm\}", "zevvy", re.sub(r"\{(?!realm)[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
    )


def test_every_console_page_sends_csp_without_inline_script_frame_ancestors_and_nosniff(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    account = make_user()
    problems = {}
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        assert console_login(http, account.username, account.password).status_code == 303
        for path in browser_routes(live_server, "GET"):
            response = http.get(_fill(path))
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            csp = response.headers.get("content-security-policy", "")
            script = next(
                (d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src"))), ""
            )
            wrong = []
            if not script or "'unsafe-inline'" in script or "'unsafe-eval'" in script:
                wrong.append(f"script policy {script!r}")
            if "frame-ancestors 'none'" not in csp and "frame-ancestors 'self'" not in csp:
                wrong.append("frame-ancestors")
            if response.headers.get("x-content-type-options") != "nosniff":
                wrong.append("nosniff")
            if re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", response.text):
                wrong.append("inline script")
            if wrong:
                problems[f"{path} ({response.status_code})"] = wrong
    assert problems == {}


def test_every_browser_form_post_without_its_csrf_token_is_refused(
    live_server: LiveServer, make_user: Callable[..., Account]
) -> None:
    account = make_user()
    accepted = {}
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        assert console_login(http, account.username, account.password).status_code == 303
        for path in browser_routes(live_server, "POST"):
            response = http.post(_fill(path), data={"name": "x", "username": account.username})
            # Refused: 400/403 (CSRF), or 404/405/422 before any change; never a success or redirect.
            if response.status_code < 400 or response.status_code >= 500:
                accepted[path] = response.status_code
    assert accepted == {}
