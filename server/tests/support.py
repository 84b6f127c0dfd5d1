"""Small helpers for tests that talk to the console over HTTP."""

from __future__ import annotations

import re

import httpx

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def console_login(
    client: httpx.Client, username: str, password: str, next_path: str = "/console/"
) -> httpx.Response:
    """Sign in through the console's form; returns the response to the form POST."""
    page = client.get("/console/login", params={"next": next_path})
    return client.post(
        "/console/login",
        data={
            "csrf_token": csrf_from(page.text),
            "username": username,
            "password": password,
            "next": next_path,
        },
    )
