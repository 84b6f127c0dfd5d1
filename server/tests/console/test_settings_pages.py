"""Settings pages over HTTP: API clients (secret once, rotate, disable, delete, grants), members
and roles, invitation and password-reset links, and the audit log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account, LiveServer, unique
from tests.support import console_login, csrf_from
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.device import DeviceService

PROTOCOL = "/realms/zevvy/protocol/openid-connect"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def signed_in(live_server: LiveServer) -> Iterator[Callable[[Account], httpx.Client]]:
    """An HTTP client signed in to the console as an account."""
    opened: list[httpx.Client] = []

    def open_as(account: Account) -> httpx.Client:
        client = httpx.Client(base_url=live_server.url, timeout=30)
        opened.append(client)
        assert console_login(client, account.username, account.password).status_code == 303
        return client

    yield open_as
    for client in opened:
        client.close()


def post_form(client: httpx.Client, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """Open `page`, then post `data` with its CSRF token to `action`."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **data})


def create_client(client: httpx.Client, name: str | None = None) -> tuple[str, str, str]:
    """Create a confidential device-flow client in the console; its id, secret and page."""
    page = post_form(
        client,
        "/console/settings/clients",
        "/console/settings/clients",
        {
            "name": name or unique("Gateway"),
            "public": "no",
            "grant_types": [DEVICE_GRANT, "refresh_token"],
            "scopes": ["device", "register", "measurement", "offline_access"],
            "redirect_uris": "",
        },
    )
    assert page.status_code == 200, page.text
    client_id = re.search(r'id="client-id" value="([^"]+)"', page.text)
    secret = re.search(r'id="client-secret" value="([^"]+)"', page.text)
    assert client_id and secret
    return client_id.group(1), secret.group(1), page.text


def device_login(live_server: LiveServer, account: Account, client_id: str, secret: str) -> httpx.Response:
    """A device flow with the client's credentials, approved by `account`; the token answer."""
    with httpx.Client(base_url=live_server.url) as http:
        started = http.post(f"{PROTOCOL}/auth/device", data={"client_id": client_id, "client_secret": secret})
        if started.status_code != 200:
            return started
        with live_server.db.write() as session:
            DeviceService(session, live_server.clock, live_server.settings).approve(
                started.json()["user_code"],
                user_id=account.user.id,
                organization_id=account.organization.id,
                ip=None,
            )
        return http.post(
            f"{PROTOCOL}/token",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": DEVICE_GRANT,
                "device_code": started.json()["device_code"],
            },
        )


# -- API clients ------------------------------------------------------------------------------------
def test_a_new_clients_secret_is_shown_once_and_works_in_a_device_flow(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The creation answer holds the secret; the client's page never shows it again."""
    admin = make_user()
    console = signed_in(admin)
    client_id, secret, _ = create_client(console)
    again = console.get(f"/console/settings/clients/{client_id}")
    assert again.status_code == 200
    assert secret not in again.text
    assert "ZEVVY_CLIENT_SECRET" in again.text and f'"{client_id}"' in again.text  # snippets use it
    tokens = device_login(live_server, admin, client_id, secret)
    assert tokens.status_code == 200, tokens.text
    assert "refresh_token" in tokens.json()
    assert client_id in console.get("/console/settings/clients").text


def test_rotating_the_secret_shows_the_new_one_once_and_retires_the_old(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """After rotation the old secret is refused (401 invalid_client)."""
    admin = make_user()
    console = signed_in(admin)
    client_id, old, _ = create_client(console)
    url = f"/console/settings/clients/{client_id}"
    rotated = post_form(console, url, f"{url}/secret", {})
    new = re.search(r'id="client-secret" value="([^"]+)"', rotated.text)
    assert new and new.group(1) != old
    assert device_login(live_server, admin, client_id, old).status_code == 401
    assert device_login(live_server, admin, client_id, new.group(1)).status_code == 200


def test_grants_are_listed_and_revoking_one_ends_its_refresh_token(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The approval shows under active grants; after revoke the refresh token is refused."""
    admin = make_user()
    console = signed_in(admin)
    client_id, secret, _ = create_client(console)
    tokens = device_login(live_server, admin, client_id, secret).json()
    url = f"/console/settings/clients/{client_id}"
    page = console.get(url)
    grant = re.search(r'data-grant="([0-9a-f-]+)"', page.text)
    assert grant and admin.username in page.text
    revoked = console.post(f"{url}/grants/{grant.group(1)}/revoke", data={"csrf_token": csrf_from(page.text)})
    assert revoked.status_code == 303
    assert "data-grant=" not in console.get(url).text
    with httpx.Client(base_url=live_server.url) as http:
        refreshed = http.post(
            f"{PROTOCOL}/token",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
            },
        )
    assert refreshed.status_code == 400


def test_a_disabled_client_gets_no_tokens_and_a_deleted_one_disappears(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Disable refuses the device flow; enable restores it; delete asks first."""
    admin = make_user()
    console = signed_in(admin)
    client_id, secret, _ = create_client(console)
    url = f"/console/settings/clients/{client_id}"
    assert post_form(console, url, f"{url}/state", {"enabled": "no"}).status_code == 303
    assert device_login(live_server, admin, client_id, secret).status_code != 200
    assert post_form(console, url, f"{url}/state", {"enabled": "yes"}).status_code == 303
    assert device_login(live_server, admin, client_id, secret).status_code == 200
    confirm = console.get(f"{url}/delete")
    assert confirm.status_code == 200
    deleted = console.post(f"{url}/delete", data={"csrf_token": csrf_from(confirm.text)})
    assert deleted.status_code == 303
    assert console.get(url).status_code == 404
    assert client_id not in console.get("/console/settings/clients").text


def test_only_admins_manage_clients_and_other_organizations_clients_are_not_found(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """An editor sees the list without the form and is refused with 403."""
    admin = make_user()
    client_id, _, _ = create_client(signed_in(admin))
    editor = make_user(org=admin.organization, role="editor")
    console = signed_in(editor)
    page = console.get("/console/settings/clients")
    assert client_id in page.text and 'id="client-name"' not in page.text
    refused = console.post(
        "/console/settings/clients",
        data={"csrf_token": csrf_from(page.text), "name": "x", "grant_types": DEVICE_GRANT},
    )
    assert refused.status_code == 403
    assert signed_in(make_user()).get(f"/console/settings/clients/{client_id}").status_code == 404


# -- members and links ------------------------------------------------------------------------------
def test_roles_change_but_the_last_admin_stays_one(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """An admin makes an editor a viewer; demoting the only admin is refused."""
    admin = make_user()
    editor = make_user(org=admin.organization, role="editor")
    console = signed_in(admin)
    members = "/console/settings/members"
    changed = post_form(console, members, f"{members}/{editor.user.id}/role", {"role": "viewer"})
    assert changed.status_code == 303
    with live_server.db.read() as session:
        assert (
            IdentityService(session, live_server.clock).role_in(editor.user.id, admin.organization.id)
            == "viewer"
        )
    refused = post_form(console, members, f"{members}/{admin.user.id}/role", {"role": "editor"})
    assert refused.status_code == 409
    assert "An organization needs at least one admin." in refused.text


def test_an_invitation_link_is_shown_once_creates_an_account_and_works_once(
    live_server: LiveServer, make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The invitee chooses username and password, joins with the role and is signed in."""
    admin = make_user()
    console = signed_in(admin)
    issued = post_form(
        console,
        "/console/settings/members",
        "/console/settings/invitations",
        {"role": "editor", "note": "Anna"},
    )
    link = re.search(r'id="issued-link" value="([^"]+)"', issued.text)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert url.startswith(live_server.settings.base_url + "/console/invitation?token=")
    username = unique("anna")
    with httpx.Client(base_url=live_server.url) as invitee:
        form = invitee.get(url)
        assert form.status_code == 200 and admin.organization.name in form.text
        token = url.split("token=", 1)[1]
        data = {
            "csrf_token": csrf_from(form.text),
            "token": token,
            "username": username,
            "email": "anna@example.org",
            "password": "a long enough password",
            "repeat_password": "a long enough password",
        }
        joined = invitee.post("/console/invitation", data=data)
        assert joined.status_code == 303
        assert username in invitee.get("/console/").text
        assert invitee.get(url).status_code == 404
    assert username in console.get("/console/settings/members").text
    assert "data-member" in console.get("/console/settings/members").text


def test_a_password_reset_link_sets_a_new_password_and_is_refused_for_shared_accounts(
    live_server: LiveServer,
    make_user: Callable[..., Account],
    make_org: Callable[..., Any],
    signed_in: Callable[[Account], httpx.Client],
) -> None:
    """The member signs in with the new password; an account of two organizations gets no link."""
    admin = make_user()
    member = make_user(org=admin.organization, role="viewer")
    console = signed_in(admin)
    issued = post_form(
        console, "/console/settings/members", f"/console/settings/members/{member.user.id}/reset-link", {}
    )
    url = re.search(r'id="issued-link" value="([^"]+)"', issued.text)
    assert url
    token = url.group(1).split("token=", 1)[1]
    with httpx.Client(base_url=live_server.url) as browser:
        form = browser.get("/console/reset-password", params={"token": token})
        done = browser.post(
            "/console/reset-password",
            data={
                "csrf_token": csrf_from(form.text),
                "token": token,
                "password": "brand new password",
                "repeat_password": "brand new password",
            },
        )
        assert done.status_code == 200 and "Your password was changed." in done.text
        assert console_login(browser, member.username, member.password).status_code == 401
        assert console_login(browser, member.username, "brand new password").status_code == 303
    with live_server.db.write() as session:
        identity = IdentityService(session, live_server.clock)
        identity.add_member(
            identity.get_organization(make_org().id), identity.get_user(member.user.id), "viewer"
        )
    refused = post_form(
        console, "/console/settings/members", f"/console/settings/members/{member.user.id}/reset-link", {}
    )
    assert refused.status_code == 403
    assert "also belongs to another organization" in refused.text


def test_removing_a_member_asks_first(
    make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """The member is gone from the list after confirming."""
    admin = make_user()
    member = make_user(org=admin.organization, role="editor")
    console = signed_in(admin)
    url = f"/console/settings/members/{member.user.id}/remove"
    confirm = console.get(url)
    assert member.username in confirm.text
    assert console.post(url, data={"csrf_token": csrf_from(confirm.text)}).status_code == 303
    assert member.username not in console.get("/console/settings/members").text


def test_the_audit_log_filters_by_action_and_is_for_admins(
    make_user: Callable[..., Account], signed_in: Callable[[Account], httpx.Client]
) -> None:
    """Client changes are logged; the action filter narrows; an editor gets 403."""
    admin = make_user()
    console = signed_in(admin)
    client_id, _, _ = create_client(console)
    log = console.get("/console/settings/audit")
    assert 'data-action="client.created"' in log.text and f"client:{client_id}" in log.text
    narrowed = console.get("/console/settings/audit", params={"action": "console.login"})
    assert "client.created" not in re.sub(r"<option[^>]*>[^<]*</option>", "", narrowed.text)
    assert 'data-action="console.login"' in narrowed.text
    editor = make_user(org=admin.organization, role="editor")
    assert signed_in(editor).get("/console/settings/audit").status_code == 403
