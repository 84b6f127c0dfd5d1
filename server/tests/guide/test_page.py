"""The guide at /docs/guide: the console's look, the tested snippets with this server's values,
language tabs with JavaScript and every language one after another without it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.conftest import BrowserPage, LiveServer
from zevvy_server.console import guide
from zevvy_server.console.framework import templates


def test_the_guide_page_shows_every_step_with_this_servers_values(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/docs/guide", timeout=30)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for step in guide.snippets_for(live_server.issuer, live_server.url, guide.PUBLIC_CLIENT_ID):
        assert escape(step.title) in page
        for snippet in step.snippets:
            assert escape(snippet.code) in page, (step.id, snippet.language)
    assert escape(f'"ZEVVY_AUTH_URL", "{live_server.issuer}"') in page
    assert "<script>" not in page  # the tabs come from /static/guide.js (CSP: no inline script)


@pytest.mark.browser
def test_language_tabs_switch_every_step_and_remember_the_choice(page: BrowserPage) -> None:
    tab = page.page
    tab.goto("/docs/guide")
    groups = tab.locator(".snippets")
    count = groups.count()
    assert count == len(guide.steps())

    tab.get_by_role("tab", name="Python").first.click()

    for index in range(count):
        group = groups.nth(index)
        assert group.get_by_role("tab", name="Python").get_attribute("aria-selected") == "true"
        assert group.locator('.snippet[data-language="python"]').is_visible()
        assert not group.locator('.snippet[data-language="java"]').is_visible()
    tab.reload()
    first = tab.locator(".snippets").first
    assert first.get_by_role("tab", name="Python").get_attribute("aria-selected") == "true"

    shell = first.get_by_role("tab", name="Shell")
    first.get_by_role("tab", name="Python").focus()
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("ArrowRight")
    assert shell.get_attribute("aria-selected") == "true"
    assert shell.evaluate("element => element === document.activeElement")


@pytest.mark.browser
def test_without_javascript_every_language_is_shown(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto("/docs/guide")
        first = tab.locator(".snippets").first
        for language in guide.LANGUAGES:
            assert first.locator(f'.snippet[data-language="{language.key}"]').is_visible()
            assert first.get_by_role("heading", name=language.label, exact=True).is_visible()
        assert tab.get_by_role("tab").count() == 0
    finally:
        context.close()


def test_other_console_pages_can_show_a_clients_snippets_with_the_macro() -> None:
    server = "https://zevvy.example.org"
    step = guide.snippets_for(f"{server}/realms/zevvy", server, "gw-1")[0]
    page = templates.env.from_string(
        '{% from "guide.html" import snippet_tabs with context %}{{ snippet_tabs(step, t) }}'
    )
    # What render() gives every console page.
    context = {
        "request": SimpleNamespace(url=SimpleNamespace(path="/console/clients/gw-1")),
        "lang": "en",
        "languages": ("en",),
        "t": lambda text, **kw: text.format(**kw) if kw else text,
        "csrf_token": "token",
        "signed_in": None,
        "realm": "zevvy",
    }

    rendered = page.render(step=step, **context)

    assert rendered.count('class="snippet"') == len(guide.LANGUAGES)
    assert escape('getOrDefault("ZEVVY_CLIENT_ID", "gw-1")') in rendered
