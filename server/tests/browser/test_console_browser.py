"""The console's sign-in in a real browser: forms, keyboard use, no script errors."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_PASSWORD, BrowserPage

pytestmark = pytest.mark.browser


def test_signing_in_by_keyboard_alone_reaches_the_home_page(page: BrowserPage) -> None:
    """Tab to the fields, type, press Enter: the home page greets the admin."""
    tab = page.page
    tab.goto("/console/")
    assert tab.url.endswith("/console/login?next=%2Fconsole%2F")
    tab.get_by_label("Username").focus()
    tab.keyboard.type("admin")
    tab.keyboard.press("Tab")
    tab.keyboard.type(ADMIN_PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/console/")
    assert tab.locator("h1").count() == 1
    assert "admin" in tab.locator("h1").inner_text()


def test_every_form_control_on_the_sign_in_page_has_a_label(page: BrowserPage) -> None:
    """Visible inputs are labelled (accessibility smoke test)."""
    tab = page.page
    tab.goto("/console/login")
    for control in tab.locator("input:not([type=hidden]), select, textarea").all():
        control_id = control.get_attribute("id")
        assert control_id and tab.locator(f"label[for='{control_id}']").count() == 1
