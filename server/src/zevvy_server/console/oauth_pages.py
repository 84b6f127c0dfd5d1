"""The identity server's browser pages under ``/realms/{realm}``: the device page, the
authorization endpoint's consent, and RP-initiated logout.

Sign-in is the console's (these pages send the browser there and back). Every form carries the
console's CSRF token; decisions are made by the protocol core (`zevvy_server.oauth`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from zevvy_server.console.framework import (
    SESSION_COOKIE,
    current_user,
    end_session,
    login_redirect,
    redirect,
    render,
    verify_csrf,
)
from zevvy_server.errors import NotFound, RateLimited, ZevvyError
from zevvy_server.identity.service import IdentityService, MembershipInfo
from zevvy_server.identity.sessions import SignedIn
from zevvy_server.oauth.browser import (
    ConsentRequest,
    answer_authorization,
    check_authorization,
    end_browser_session,
    error_redirect,
    plan_logout,
)
from zevvy_server.oauth.device import DeviceService, PendingDeviceRequest
from zevvy_server.oauth.grants.authorization_code import Approval
from zevvy_server.oauth.scopes import DESCRIPTIONS
from zevvy_server.oauth.server import OAuthRequest, OAuthResponse, OAuthServer
from zevvy_server.web.bearer import oauth_runtime
from zevvy_server.web.context import AppContext
from zevvy_server.web.deps import client_ip, get_ctx

router = APIRouter(include_in_schema=False)

T = TypeVar("T")
PROTOCOL = "/realms/{realm}/protocol/openid-connect"


def _check_realm(request: Request, realm: str) -> AppContext:
    request.state.html_errors = True
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        raise NotFound("Realm does not exist")
    return ctx


async def _in_transaction(ctx: AppContext, work: Callable[[OAuthServer], T]) -> T | ZevvyError:
    """Run `work` in one transaction; a domain error is returned after the commit, not raised,
    so what it counted (a wrong user code) is kept."""

    def call() -> T | ZevvyError:
        with ctx.db.write() as session:
            try:
                return work(OAuthServer(session, oauth_runtime(ctx)))
            except ZevvyError as exc:
                return exc

    return await run_in_threadpool(call)


async def _memberships(ctx: AppContext, signed_in: SignedIn) -> list[MembershipInfo]:
    def load() -> list[MembershipInfo]:
        with ctx.db.read() as session:
            return IdentityService(session, ctx.clock).memberships(signed_in.user.id)

    return await run_in_threadpool(load)


def _wire(result: OAuthResponse) -> Response:
    return Response(result.body or None, result.status, headers=dict(result.headers))


def _scope_lines(scopes: list[str]) -> list[tuple[str, str]]:
    return [(scope, DESCRIPTIONS.get(scope, scope)) for scope in scopes]


async def _signed_in(request: Request) -> SignedIn | Response:
    """The signed-in user, or the response that sends the browser to sign in (or change password)."""
    signed_in = await current_user(request)
    if signed_in is None:
        return login_redirect(request)
    if signed_in.user.must_change_password:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/console/password?{urlencode({'next': target})}")
    return signed_in


def _too_many(request: Request, exc: RateLimited) -> Response:
    response = render(request, "oauth/too_many.html", {"message": exc.message}, status=429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


# -- the device page ---------------------------------------------------------------------------
def _device_form(
    request: Request, realm: str, error: str | None, code: str = "", status: int = 200
) -> Response:
    return render(
        request, "oauth/device.html", {"error": error, "user_code": code, "realm": realm}, status=status
    )


async def _device_consent(
    request: Request, ctx: AppContext, realm: str, signed_in: SignedIn, entered: str
) -> Response:
    ip = client_ip(request)
    result = await _in_transaction(
        ctx,
        lambda server: DeviceService(server.session, server.clock, server.settings).find_pending(
            entered, user_id=signed_in.user.id, ip=ip
        ),
    )
    if isinstance(result, RateLimited):
        return _too_many(request, result)
    if isinstance(result, ZevvyError):
        return _device_form(request, realm, result.message, entered, status=result.status)
    context = {
        "pending": result,
        "scopes": _scope_lines(result.scopes),
        "memberships": await _memberships(ctx, signed_in),
        "action": f"/realms/{realm}/device",
        "hidden": {"user_code": result.user_code},
        "device": True,
    }
    return render(request, "oauth/consent.html", context)


@router.get("/realms/{realm}/device")
async def device_page(request: Request, realm: str, user_code: str | None = None) -> Response:
    """Enter the code shown by a device, or confirm the one in the link (``verification_uri_complete``)."""
    ctx = _check_realm(request, realm)
    signed_in = await _signed_in(request)
    if isinstance(signed_in, Response):
        return signed_in
    if user_code:
        return await _device_consent(request, ctx, realm, signed_in, user_code)
    return _device_form(request, realm, None)


@router.post("/realms/{realm}/device")
async def device_submit(request: Request, realm: str) -> Response:
    """A code was entered (show the consent), or the consent was answered (approve or deny)."""
    ctx = _check_realm(request, realm)
    form = await verify_csrf(request)
    signed_in = await _signed_in(request)
    if isinstance(signed_in, Response):
        return signed_in
    entered = str(form.get("user_code") or form.get("device_user_code") or "")
    decision = form.get("decision")
    if decision not in {"approve", "deny"}:
        return await _device_consent(request, ctx, realm, signed_in, entered)
    ip = client_ip(request)
    user_id = signed_in.user.id
    organization = _organization(form.get("organization_id"))

    def decide(server: OAuthServer) -> PendingDeviceRequest:
        devices = DeviceService(server.session, server.clock, server.settings)
        if decision == "deny":
            return devices.deny(entered, user_id=user_id, ip=ip)
        if organization is None:
            raise NotFound("Choose one of your organizations.")
        return devices.approve(entered, user_id=user_id, organization_id=organization, ip=ip)

    result = await _in_transaction(ctx, decide)
    if isinstance(result, RateLimited):
        return _too_many(request, result)
    if isinstance(result, ZevvyError):
        return _device_form(request, realm, result.message, entered, status=result.status)
    return render(
        request,
        "oauth/device_done.html",
        {"approved": decision == "approve", "client_name": result.client_name},
    )


def _organization(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# -- the authorization endpoint ----------------------------------------------------------------
@router.get(PROTOCOL + "/auth")
async def authorize(request: Request, realm: str) -> Response:
    """Validate the request, sign in if needed, then ask for consent."""
    ctx = _check_realm(request, realm)
    oreq = OAuthRequest.build(
        ctx.settings.base_url, "GET", request.url.path, request.url.query, request.headers
    )
    checked = await _in_transaction(ctx, lambda server: check_authorization(server, oreq))
    if isinstance(checked, ZevvyError):
        raise checked
    if isinstance(checked, OAuthResponse):
        return _wire(checked)
    signed_in = await current_user(request)
    if "none" in str(oreq.payload.data.get("prompt", "")).split():
        # We always ask for consent, so a silent request can never succeed.
        error = "login_required" if signed_in is None else "consent_required"
        silent = await _in_transaction(ctx, lambda server: error_redirect(server, oreq, error, error))
        assert isinstance(silent, OAuthResponse)
        return _wire(silent)
    who = await _signed_in(request)
    if isinstance(who, Response):
        return who
    return await _auth_consent(request, ctx, realm, who, checked, request.url.query)


async def _auth_consent(
    request: Request, ctx: AppContext, realm: str, signed_in: SignedIn, checked: ConsentRequest, query: str
) -> Response:
    context = {
        "pending": checked,
        "scopes": _scope_lines(checked.scopes),
        "memberships": await _memberships(ctx, signed_in),
        "action": f"/realms/{realm}/protocol/openid-connect/auth",
        "hidden": {"authorization_request": query},
        "device": False,
    }
    return render(request, "oauth/consent.html", context)


@router.post(PROTOCOL + "/auth")
async def authorize_decision(request: Request, realm: str) -> Response:
    """The consent was answered: 303 back to the client with a code, or with access_denied."""
    ctx = _check_realm(request, realm)
    form = await verify_csrf(request)
    signed_in = await _signed_in(request)
    if isinstance(signed_in, Response):
        return signed_in
    original = str(form.get("authorization_request", ""))
    # The original request, re-validated; as a POST so that errors go back with 303.
    pairs = parse_qsl(original, keep_blank_values=True)
    oreq = OAuthRequest.build(ctx.settings.base_url, "POST", request.url.path, "", request.headers, pairs)
    approval: Approval | None = None
    if form.get("decision") == "approve":
        organization = _organization(form.get("organization_id"))
        memberships = await _memberships(ctx, signed_in)
        if organization not in {m.organization_id for m in memberships}:
            raise NotFound("Choose one of your organizations.")
        assert organization is not None
        approval = Approval(user_id=signed_in.user.id, organization_id=organization)
    result = await _in_transaction(ctx, lambda server: answer_authorization(server, oreq, approval))
    if isinstance(result, ZevvyError):
        raise result
    return _wire(result)


# -- RP-initiated logout -----------------------------------------------------------------------
@router.get(PROTOCOL + "/logout")
async def logout_page(request: Request, realm: str) -> Response:
    """With a valid ``id_token_hint``: sign out and go back; otherwise ask to confirm."""
    ctx = _check_realm(request, realm)
    params = request.query_params
    hint, client_id = params.get("id_token_hint"), params.get("client_id")
    target, state = params.get("post_logout_redirect_uri"), params.get("state")
    token = request.cookies.get(SESSION_COOKIE)

    def check(server: OAuthServer) -> Any:
        plan, session_id = plan_logout(
            server, id_token_hint=hint, client_id=client_id, post_logout_redirect_uri=target, state=state
        )
        if not plan.needs_confirmation:
            end_browser_session(server, session_id, token, ctx.settings.console_session_idle)
        return plan

    plan = await _in_transaction(ctx, check)
    if isinstance(plan, ZevvyError):
        raise plan
    if plan.needs_confirmation:
        hidden = {
            "client_id": client_id or "",
            "post_logout_redirect_uri": target or "",
            "state": state or "",
        }
        context = {
            "action": f"/realms/{realm}/protocol/openid-connect/logout/logout-confirm",
            "hidden": hidden,
        }
        return render(request, "oauth/logout_confirm.html", context)
    oauth_runtime(ctx).revocations.invalidate()
    return _after_logout(request, plan.redirect_to)


@router.post(PROTOCOL + "/logout/logout-confirm")
async def logout_confirm(request: Request, realm: str) -> Response:
    """The person confirmed: end the browser's session and go back (registered URIs only)."""
    ctx = _check_realm(request, realm)
    form = await verify_csrf(request)
    token = request.cookies.get(SESSION_COOKIE)
    client_id = str(form.get("client_id") or "") or None
    target = str(form.get("post_logout_redirect_uri") or "") or None
    state = str(form.get("state") or "") or None

    def confirm(server: OAuthServer) -> Any:
        plan, _ = plan_logout(
            server, id_token_hint=None, client_id=client_id, post_logout_redirect_uri=target, state=state
        )
        end_browser_session(server, None, token, ctx.settings.console_session_idle)
        return plan

    plan = await _in_transaction(ctx, confirm)
    if isinstance(plan, ZevvyError):
        raise plan
    return _after_logout(request, plan.redirect_to)


def _after_logout(request: Request, redirect_to: str | None) -> Response:
    response: Response
    if redirect_to:
        response = RedirectResponse(redirect_to, status_code=303 if request.method == "POST" else 302)
    else:
        response = render(request, "oauth/logged_out.html", {})
    end_session(response)
    return response
