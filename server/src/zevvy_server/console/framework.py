"""What every console page uses: templates, language, sign-in, CSRF and redirects.

CSRF: every form carries a token derived from a per-browser random cookie with an HMAC under the
server's session secret (signed double-submit), checked in constant time on every POST. Sign-in
gives a fresh session cookie, HttpOnly, SameSite=Lax, Secure behind https, and a fresh CSRF
cookie, and ends the session the browser presented before: no cookie value known before sign-in
(one planted by someone else, say) is worth anything after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from zevvy_server.console.i18n import languages, negotiate, translate
from zevvy_server.errors import PermissionDenied, ZevvyError
from zevvy_server.identity.errors import InvalidCredentials, TooManyAttempts
from zevvy_server.identity.models import User
from zevvy_server.identity.service import IdentityService
from zevvy_server.identity.sessions import ConsoleSessions, SignedIn
from zevvy_server.web.deps import client_ip, get_ctx
from zevvy_server.web.text import nul_fields, refused

SESSION_COOKIE = "zevvy_session"
CSRF_COOKIE = "zevvy_csrf"
LANG_COOKIE = "zevvy_lang"

STATIC_DIR = str(Path(__file__).parent / "static")
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.autoescape = True


class CsrfFailed(PermissionDenied):
    """A form arrived without a valid CSRF token."""

    code = "csrf_failed"
    message = "The form has expired or did not come from this site. Reload the page and try again."


def _secret(request: Request) -> bytes:
    secret: str = get_ctx(request).extras["session_secret"]
    return secret.encode()


def language(request: Request) -> str:
    """The language of this request's page."""
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def _csrf_cookie(request: Request) -> str:
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    """The token forms of this browser must send back."""
    cookie = _csrf_cookie(request)
    return hmac.new(_secret(request), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


async def verify_csrf(request: Request) -> FormData:
    """Read the form and refuse it unless it carries this browser's CSRF token."""
    form = await request.form()
    sent = form.get("csrf_token")
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie:
        raise CsrfFailed()
    expected = hmac.new(_secret(request), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sent, expected):
        raise CsrfFailed()
    if fields := nul_fields(form.multi_items()):
        raise refused(fields)
    return form


def _set_cookies(request: Request, response: Response) -> None:
    secure = get_ctx(request).settings.secure_cookies
    new_csrf = getattr(request.state, "new_csrf_cookie", None)
    if new_csrf:
        response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="lax", secure=secure, path="/")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """Render a page in the request's language with the CSRF token and the signed-in user."""
    request.state.html_errors = True
    lang = language(request)
    signed_in: SignedIn | None = getattr(request.state, "signed_in", None)
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": languages(),
        "t": lambda text, **kw: translate(lang, text).format(**kw) if kw else translate(lang, text),
        "csrf_token": csrf_token(request),
        "signed_in": signed_in,
        "realm": get_ctx(request).settings.realm,
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    _set_cookies(request, response)
    return response


def safe_next(target: str | None, default: str = "/console/") -> str:
    """A local path to go to after sign-in; anything else (other hosts, //evil) is refused."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other (never 307 after a form: RFC 9700 §4.12)."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to sign in, then back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"/console/login?next={quote(target, safe='')}")


async def current_user(request: Request) -> SignedIn | None:
    """The signed-in user of this browser, or None."""
    if hasattr(request.state, "signed_in"):
        signed: SignedIn | None = request.state.signed_in
        return signed
    ctx = get_ctx(request)
    token = request.cookies.get(SESSION_COOKIE)

    def resolve() -> SignedIn | None:
        if not token:
            return None
        with ctx.db.write() as session:
            return ConsoleSessions(session, ctx.clock, ctx.settings.console_session_idle).resolve(token)

    signed_in = await run_in_threadpool(resolve)
    request.state.signed_in = signed_in
    return signed_in


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: the new session cookie value and the user."""

    token: str
    user: User
    organization_id: uuid.UUID | None


async def sign_in(request: Request, username: str, password: str) -> SignIn:
    """Check credentials, end the session the browser presented (if any) and open a new one.

    Raises InvalidCredentials or TooManyAttempts after the failed attempt has been counted and
    committed (a rolled-back count would make the throttle useless).
    """
    ctx = get_ctx(request)
    ip = client_ip(request)
    limits = (ctx.settings.login_failures_per_account, ctx.settings.login_failures_per_ip)
    previous = request.cookies.get(SESSION_COOKIE)

    def attempt() -> SignIn | ZevvyError:
        with ctx.db.write() as session:
            identity = IdentityService(session, ctx.clock)
            try:
                user = identity.authenticate(username, password, ip=ip, settings_limits=limits)
            except (InvalidCredentials, TooManyAttempts) as exc:
                return exc
            memberships = identity.memberships(user.id)
            org_id = memberships[0].organization_id if memberships else None
            sessions = ConsoleSessions(session, ctx.clock, ctx.settings.console_session_idle)
            sessions.end(previous)
            token = sessions.start(user, org_id)
            identity.audit("console.login", organization_id=org_id, user_id=user.id, ip=ip)
            return SignIn(token=token, user=user, organization_id=org_id)

    result = await run_in_threadpool(attempt)
    if isinstance(result, ZevvyError):
        raise result
    request.state.signed_in = None  # the new session applies from the next request on
    return result


def start_session(request: Request, response: Response, token: str) -> None:
    """Attach a fresh session cookie to `response`, and a fresh CSRF cookie: tokens of forms
    served before sign-in stop working."""
    ctx = get_ctx(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
        max_age=ctx.settings.console_session_idle,
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
    )


def end_session(response: Response) -> None:
    """Drop the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/")


def display_name(user: User) -> str:
    """How the console names a user."""
    return user.username


def error_page(request: Request, status: int, code: str, message: str) -> Response:
    """The console's error page (used by the error registry for HTML requests)."""
    return render(request, "error.html", {"status": status, "code": code, "message": message}, status=status)
