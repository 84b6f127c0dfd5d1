"""Settings: the index, and the organization's API clients — create (the secret shown once),
rotate the secret, disable, delete, change; their live grants with revoke; ready-to-run snippets.

Members see the clients; only admins change them. A secret exists in plain text only in the answer
to the request that made it (creation or rotation); the client's page never shows it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from zevvy_server.console import guide, lookups
from zevvy_server.console.access import Page, describe, form_text, open_form, open_page, with_notice
from zevvy_server.errors import ZevvyError
from zevvy_server.identity.service import IdentityService
from zevvy_server.oauth.errors import ClientNotFound
from zevvy_server.oauth.models import Client, GrantSession
from zevvy_server.oauth.scopes import ALL_SCOPES, DESCRIPTIONS
from zevvy_server.oauth.service import (
    AUTHORIZATION_CODE,
    DEVICE_CODE,
    GRANT_TYPES,
    REFRESH_TOKEN,
    ClientService,
)
from zevvy_server.oauth.sessions import GrantSessions
from zevvy_server.web.bearer import oauth_runtime

router = APIRouter(include_in_schema=False)

GRANT_NAMES = {
    DEVICE_CODE: "Device code (gateways and command-line tools)",
    AUTHORIZATION_CODE: "Authorization code with PKCE (web applications)",
    REFRESH_TOKEN: "Refresh tokens (stay signed in)",
}
DEFAULT_GRANTS = (DEVICE_CODE, REFRESH_TOKEN)


@router.get("/console/settings")
async def settings_index(request: Request) -> Response:
    """What can be set, by role."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return page.render("settings/index.html")


# -- clients --------------------------------------------------------------------------------------
def _own_client(session: Session, page: Page, client_id: str) -> Client:
    """The organization's client with this client_id; another organization's is not found."""
    client = ClientService(session, page.ctx.clock).get(client_id)
    if client.organization_id != page.acting.organization_id:
        raise ClientNotFound()
    return client


def _audit(
    session: Session, page: Page, action: str, client_id: str, details: dict[str, Any] | None = None
) -> None:
    IdentityService(session, page.ctx.clock).audit(
        action,
        organization_id=page.acting.organization_id,
        user_id=page.acting.user_id,
        target=f"client:{client_id}",
        details=details or {},
    )


def _scope_lines() -> list[tuple[str, str]]:
    return [(scope, DESCRIPTIONS.get(scope, scope)) for scope in ALL_SCOPES]


async def _clients_page(page: Page, error: str | None = None, form: dict[str, Any] | None = None) -> Response:
    org = page.acting.organization_id
    clients = await page.read(lambda s: ClientService(s, page.ctx.clock).list_for(org))
    return page.render(
        "settings/clients.html",
        {
            "clients": clients,
            "grant_names": GRANT_NAMES,
            "grant_types": GRANT_TYPES,
            "scope_lines": _scope_lines(),
            "error": error,
            "form": form or {"grants": list(DEFAULT_GRANTS), "scopes": list(ALL_SCOPES), "public": False},
        },
        422 if error else 200,
    )


@router.get("/console/settings/clients")
async def clients(request: Request) -> Response:
    """The organization's API clients, and the form for a new one (admins)."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _clients_page(page)


def _uris(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post("/console/settings/clients")
async def create_client(request: Request) -> Response:
    """Create a client; its secret is in this answer and nowhere else."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()
    name, public = form_text(form, "name"), form_text(form, "public") == "yes"
    grants = [str(g) for g in form.getlist("grant_types")]
    scopes = [str(s) for s in form.getlist("scopes")]
    uris = form_text(form, "redirect_uris")
    sent: dict[str, Any] = {
        "name": name,
        "public": public,
        "grants": grants,
        "scopes": scopes,
        "redirect_uris": uris,
    }
    org = page.acting.organization_id

    def work(session: Session) -> tuple[Client, str | None]:
        client, secret = ClientService(session, page.ctx.clock).create(
            name, org, public=public, grant_types=grants, redirect_uris=_uris(uris), scopes=scopes
        )
        _audit(
            session, page, "client.created", client.client_id, {"name": client.name, "public": client.public}
        )
        return client, secret

    if not grants:
        return await _clients_page(page, page.t("Choose at least one grant type."), sent)
    if AUTHORIZATION_CODE in grants and not _uris(uris):
        return await _clients_page(
            page, page.t("The authorization-code grant needs at least one redirect URI."), sent
        )
    try:
        client, secret = await page.write(work)
    except ZevvyError as exc:
        if exc.status == 403:
            raise
        return await _clients_page(page, describe(page, exc), sent)
    return await _client_page(page, client.client_id, secret=secret, fresh=True)


@dataclass(frozen=True)
class ClientDetails:
    """A client with its live grants."""

    client: Client
    grants: list[lookups.LiveGrant]


async def _client_page(
    page: Page,
    client_id: str,
    *,
    secret: str | None = None,
    fresh: bool = False,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = page.ctx

    def load(session: Session) -> ClientDetails:
        client = _own_client(session, page, client_id)
        grants = lookups.live_grants(session, ctx.clock, ctx.settings, client, page.acting.organization_id)
        return ClientDetails(client, grants)

    details = await page.read(load)
    steps = guide.snippets_for(ctx.settings.issuer, ctx.settings.base_url, details.client.client_id)
    return page.render(
        "settings/client.html",
        {
            "c": details.client,
            "grants": details.grants,
            "secret": secret,
            "fresh": fresh,
            "error": error,
            "steps": steps,
            "auth_url": ctx.settings.issuer,
            "api_url": ctx.settings.base_url,
            "grant_names": GRANT_NAMES,
            "grant_types": GRANT_TYPES,
            "scope_lines": _scope_lines(),
        },
        status,
    )


@router.get("/console/settings/clients/{client_id}")
async def client_page(request: Request, client_id: str) -> Response:
    """A client: its settings, live grants and snippets (never its secret)."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    return await _client_page(page, client_id)


@router.post("/console/settings/clients/{client_id}")
async def update_client(request: Request, client_id: str) -> Response:
    """Change a client's name, redirect URIs or allowed scopes."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()

    def work(session: Session) -> None:
        _own_client(session, page, client_id)
        ClientService(session, page.ctx.clock).update(
            client_id,
            name=form_text(form, "name"),
            redirect_uris=_uris(form_text(form, "redirect_uris")),
            scopes=[str(s) for s in form.getlist("scopes")],
        )
        _audit(session, page, "client.changed", client_id)

    try:
        await page.write(work)
    except ZevvyError as exc:
        if exc.status in {403, 404}:
            raise
        return await _client_page(page, client_id, error=describe(page, exc), status=exc.status)
    oauth_runtime(page.ctx).revocations.invalidate()
    return with_notice(f"/console/settings/clients/{client_id}", "saved")


@router.post("/console/settings/clients/{client_id}/secret")
async def rotate_secret(request: Request, client_id: str) -> Response:
    """Give the client a new secret (the old one stops working); shown once in this answer."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()

    def work(session: Session) -> str:
        _own_client(session, page, client_id)
        secret = ClientService(session, page.ctx.clock).rotate_secret(client_id)
        _audit(session, page, "client.secret_rotated", client_id)
        return secret

    secret = await page.write(work)
    return await _client_page(page, client_id, secret=secret)


@router.post("/console/settings/clients/{client_id}/state")
async def set_state(request: Request, client_id: str) -> Response:
    """Disable the client (no new tokens; its tokens refused within seconds) or enable it again."""
    page, form = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()
    enable = form_text(form, "enabled") == "yes"

    def work(session: Session) -> None:
        _own_client(session, page, client_id)
        service = ClientService(session, page.ctx.clock)
        if enable:
            service.enable(client_id)
        else:
            service.disable(client_id)
        _audit(session, page, "client.enabled" if enable else "client.disabled", client_id)

    await page.write(work)
    oauth_runtime(page.ctx).revocations.invalidate()
    return with_notice(f"/console/settings/clients/{client_id}", "enabled" if enable else "disabled")


@router.get("/console/settings/clients/{client_id}/delete")
async def confirm_delete(request: Request, client_id: str) -> Response:
    """Ask before deleting a client."""
    page = await open_page(request)
    if isinstance(page, Response):
        return page
    page.require_admin()
    client = await page.read(lambda s: _own_client(s, page, client_id))
    return page.render("settings/client_delete.html", {"c": client})


@router.post("/console/settings/clients/{client_id}/delete")
async def delete_client(request: Request, client_id: str) -> Response:
    """Delete the client and revoke every grant given to it."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()

    def work(session: Session) -> None:
        client = _own_client(session, page, client_id)
        ClientService(session, page.ctx.clock).delete(client_id)
        _audit(session, page, "client.deleted", client_id, {"name": client.name})

    await page.write(work)
    oauth_runtime(page.ctx).revocations.invalidate()
    return with_notice("/console/settings/clients", "deleted")


@router.post("/console/settings/clients/{client_id}/grants/{grant_id}/revoke")
async def revoke_grant(request: Request, client_id: str, grant_id: str) -> Response:
    """Revoke one approval: its refresh and access tokens stop working."""
    page, _ = await open_form(request)
    if isinstance(page, Response):
        return page
    page.require_admin()
    ctx = page.ctx

    def work(session: Session) -> None:
        client = _own_client(session, page, client_id)
        grants = GrantSessions(session, ctx.clock, ctx.settings)
        grant: GrantSession | None = grants.get(grant_id)
        if grant is None or grant.client_pk != client.id:
            raise ClientNotFound("No such grant.")
        grants.revoke(grant, "revoked_in_console")
        _audit(
            session,
            page,
            "client.grant_revoked",
            client_id,
            {"grantId": grant.id, "userId": str(grant.user_id)},
        )

    await page.write(work)
    oauth_runtime(ctx).revocations.invalidate()
    return with_notice(f"/console/settings/clients/{client_id}#grants", "revoked")
