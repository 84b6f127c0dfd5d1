"""Console sign-in, sign-out, password change and language choice."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from zevvy_server.console.framework import (
    LANG_COOKIE,
    SESSION_COOKIE,
    current_user,
    end_session,
    login_redirect,
    redirect,
    render,
    safe_next,
    sign_in,
    start_session,
    verify_csrf,
)
from zevvy_server.console.i18n import languages
from zevvy_server.identity.errors import InvalidCredentials, TooManyAttempts, WeakPassword
from zevvy_server.identity.service import IdentityService
from zevvy_server.identity.sessions import ConsoleSessions
from zevvy_server.web.deps import client_ip, get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root(request: Request) -> Response:
    """A browser opening the server's root lands in the console."""
    return RedirectResponse("/console/", status_code=302)


@router.get("/console/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/console/login")
async def login(request: Request) -> Response:
    """Check the credentials, start a fresh session and continue where the user was going."""
    form = await verify_csrf(request)
    username = str(form.get("username", ""))
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    try:
        signed = await sign_in(request, username, password)
    except InvalidCredentials:
        context = {"next": target, "error": "Invalid username or password.", "username": username}
        return render(request, "login.html", context, status=401)
    except TooManyAttempts as exc:
        context = {
            "next": target,
            "error": "Too many failed attempts. Try again later.",
            "username": username,
        }
        response = render(request, "login.html", context, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token, must_change = signed.token, signed.user.must_change_password
    done = redirect(f"/console/password?next={quote(target, safe='')}" if must_change else target)
    start_session(request, done, token)
    return done


@router.post("/console/logout")
async def logout(request: Request) -> Response:
    """End the session."""
    await verify_csrf(request)
    ctx = get_ctx(request)
    token = request.cookies.get(SESSION_COOKIE)

    def end() -> None:
        with ctx.db.write() as session:
            ConsoleSessions(session, ctx.clock, ctx.settings.console_session_idle).end(token)

    await run_in_threadpool(end)
    response = redirect("/console/login")
    end_session(response)
    return response


@router.get("/console/password")
async def password_form(request: Request, next: str | None = None) -> Response:
    """Change the password (required at first login with a generated one)."""
    signed_in = await current_user(request)
    if signed_in is None:
        return login_redirect(request)
    return render(request, "password.html", {"next": safe_next(next), "error": None})


@router.post("/console/password")
async def change_password(request: Request) -> Response:
    """Check the current password and set the new one."""
    form = await verify_csrf(request)
    signed_in = await current_user(request)
    if signed_in is None:
        return login_redirect(request)
    ctx = get_ctx(request)
    current = str(form.get("current_password", ""))
    new = str(form.get("new_password", ""))
    repeat = str(form.get("repeat_password", ""))
    target = safe_next(str(form.get("next", "")))
    if new != repeat:
        return render(
            request, "password.html", {"next": target, "error": "The new passwords do not match."}, status=422
        )
    limits = (ctx.settings.login_failures_per_account, ctx.settings.login_failures_per_ip)

    def change() -> None:
        with ctx.db.write() as session:
            identity = IdentityService(session, ctx.clock)
            user = identity.authenticate(
                signed_in.user.username, current, ip=client_ip(request), settings_limits=limits
            )
            identity.change_password(user, new)
            identity.audit(
                "user.password_changed", organization_id=signed_in.organization_id, user_id=user.id
            )

    try:
        await run_in_threadpool(change)
    except InvalidCredentials:
        return render(
            request, "password.html", {"next": target, "error": "The current password is wrong."}, status=422
        )
    except WeakPassword:
        return render(
            request,
            "password.html",
            {"next": target, "error": "The password must have at least 10 characters."},
            status=422,
        )
    except TooManyAttempts:
        return render(
            request,
            "password.html",
            {"next": target, "error": "Too many failed attempts. Try again later."},
            status=429,
        )
    return redirect(target)


@router.get("/console/language/{code}")
async def set_language(request: Request, code: str, next: str | None = None) -> Response:
    """Remember the chosen language in a cookie."""
    response = redirect(safe_next(next))
    if code in languages():
        response.set_cookie(LANG_COOKIE, code, samesite="lax", path="/", max_age=365 * 24 * 3600)
    return response
