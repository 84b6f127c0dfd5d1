"""The identity server's JSON endpoints under ``/realms/{realm}``, in Keycloak's wire format.

Each route reads the form, hands an `OAuthRequest` to the protocol core inside one database
transaction (in a worker thread: Authlib is synchronous) and copies the answer to the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from zevvy_server.api import oauth_docs as docs
from zevvy_server.api.oauth_docs import Realm
from zevvy_server.oauth import discovery
from zevvy_server.oauth.endpoints import userinfo
from zevvy_server.oauth.errors import InvalidRequestError, OAuth2Error, RealmNotFound, render_error
from zevvy_server.oauth.server import OAuthRequest, OAuthResponse, OAuthServer
from zevvy_server.web.bearer import bearer_token, oauth_runtime
from zevvy_server.web.context import AppContext
from zevvy_server.web.deps import get_ctx
from zevvy_server.web.text import MESSAGE as NUL_MESSAGE
from zevvy_server.web.text import nul_fields

router = APIRouter(tags=["identity"])

PROTOCOL = "/realms/{realm}/protocol/openid-connect"
Action = Callable[[OAuthServer, OAuthRequest], OAuthResponse]


def _wire(result: OAuthResponse) -> Response:
    return Response(result.body or None, result.status, headers=dict(result.headers))


def _no_realm() -> Response:
    status, body, headers = render_error(RealmNotFound())
    return JSONResponse(body, status, headers=dict(headers))


async def oauth_request(ctx: AppContext, request: Request) -> OAuthRequest:
    """The framework-free request (the form is read here, in the event loop)."""
    pairs: list[tuple[str, str]] = []
    if request.method == "POST":
        form = await request.form()
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return OAuthRequest.build(
        ctx.settings.base_url, request.method, request.url.path, request.url.query, request.headers, pairs
    )


async def _run(request: Request, realm: str, action: Action) -> Response:
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    oreq = await oauth_request(ctx, request)
    if request.method == "POST" and (fields := nul_fields((await request.form()).multi_items())):
        return _nul_refused(fields)
    runtime = oauth_runtime(ctx)

    def call() -> OAuthResponse:
        with ctx.db.write() as session:
            return action(OAuthServer(session, runtime), oreq)

    return _wire(await run_in_threadpool(call))


def _nul_refused(fields: list[str]) -> Response:
    """400 invalid_request for form fields holding a NUL, naming those whose names an OAuth error
    description may carry (printable ASCII without quote and backslash, RFC 6749 section 5.2)."""
    named = [f for f in fields if all(" " <= c <= "~" and c not in '"\\' for c in f)]
    subject = ", ".join(named) if len(named) == len(fields) else "form fields"
    status, body, headers = render_error(InvalidRequestError(f"{subject}: {NUL_MESSAGE}"))
    return JSONResponse(body, status, headers=dict(headers))


def _endpoint(name: str) -> Action:
    def action(server: OAuthServer, oreq: OAuthRequest) -> OAuthResponse:
        result: OAuthResponse = server.create_endpoint_response(name, oreq)
        return result

    return action


def _token(server: OAuthServer, oreq: OAuthRequest) -> OAuthResponse:
    return server.create_token_response(oreq)


@router.get(
    "/realms/{realm}",
    summary="Realm information (Keycloak): public key and service URLs",
    responses=docs.REALM_INFO,
)
async def realm_info(request: Request, realm: Realm) -> Response:
    """``public_key`` is the signing key's base64 DER, as python-keycloak's ``public_key()`` expects."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    keys = await run_in_threadpool(oauth_runtime(ctx).keys.current)
    return JSONResponse(discovery.realm_info(realm, ctx.settings.issuer, keys.public_key_der_b64()))


@router.get(
    "/realms/{realm}/.well-known/openid-configuration",
    summary="OpenID Connect discovery",
    responses=docs.METADATA,
)
async def openid_configuration(request: Request, realm: Realm) -> Response:
    """The OIDC discovery document."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    return JSONResponse(discovery.openid_configuration(ctx.settings.issuer))


@router.get(
    "/realms/{realm}/.well-known/oauth-authorization-server",
    summary="OAuth metadata (appended form)",
    responses=docs.METADATA,
)
@router.get(
    "/.well-known/oauth-authorization-server/realms/{realm}",
    summary="OAuth metadata (RFC 8414 form)",
    responses=docs.METADATA,
)
async def authorization_server_metadata(request: Request, realm: Realm) -> Response:
    """RFC 8414 metadata, at both the appended and the inserted well-known path."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    return JSONResponse(discovery.authorization_server_metadata(ctx.settings.issuer))


@router.get(PROTOCOL + "/certs", summary="Signing keys (JWK Set)", responses=docs.CERTS)
async def certs(request: Request, realm: Realm) -> Response:
    """The public keys that verify access and ID tokens, current and recently retired."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    keys = await run_in_threadpool(oauth_runtime(ctx).keys.current)
    return JSONResponse(keys.public_jwks())


@router.post(
    PROTOCOL + "/auth/device",
    summary="Device authorization (RFC 8628)",
    responses=docs.DEVICE,
    openapi_extra=docs.DEVICE_BODY,
)
async def device_authorization(request: Request, realm: Realm) -> Response:
    """Start a device flow: ``device_code``, ``user_code``, the verification URIs, lifetime, interval."""
    return await _run(request, realm, _endpoint("device_authorization"))


@router.post(
    PROTOCOL + "/token", summary="Token endpoint", responses=docs.TOKEN, openapi_extra=docs.TOKEN_BODY
)
async def token(request: Request, realm: Realm) -> Response:
    """Grants: device code, authorization code (PKCE S256), refresh token (rotating)."""
    return await _run(request, realm, _token)


@router.post(
    PROTOCOL + "/token/introspect",
    summary="Token introspection (RFC 7662)",
    responses=docs.INTROSPECT,
    openapi_extra=docs.TOKEN_FORM,
)
async def introspect(request: Request, realm: Realm) -> Response:
    """For confidential clients: the token's claims and ``active``."""
    return await _run(request, realm, _endpoint("introspection"))


@router.post(
    PROTOCOL + "/revoke",
    summary="Token revocation (RFC 7009)",
    response_class=Response,
    responses=docs.REVOKE,
    openapi_extra=docs.TOKEN_FORM,
)
async def revoke(request: Request, realm: Realm) -> Response:
    """Revoke a refresh token (with its family and their access tokens) or an access token."""
    response = await _run(request, realm, _endpoint("revocation"))
    oauth_runtime(get_ctx(request)).revocations.invalidate()
    return response


@router.post(
    PROTOCOL + "/logout",
    summary="Logout (back-channel with a refresh token)",
    status_code=204,
    responses=docs.LOGOUT,
    openapi_extra=docs.LOGOUT_BODY,
)
async def logout(request: Request, realm: Realm) -> Response:
    """With ``refresh_token`` (or client credentials): end that grant session, 204. A browser's
    form without them continues as RP-initiated logout at the same URL with GET."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    form = await request.form()
    back_channel = (
        "refresh_token" in form or "client_secret" in form or request.headers.get("authorization") is not None
    )
    if not back_channel:
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        return RedirectResponse(f"{request.url.path}?{urlencode(pairs)}", status_code=303)
    response = await _run(request, realm, _endpoint("backchannel_logout"))
    oauth_runtime(ctx).revocations.invalidate()
    return response


@router.get(
    PROTOCOL + "/userinfo",
    summary="UserInfo (needs openid)",
    operation_id="userinfo",
    responses=docs.USERINFO,
)
@router.post(
    PROTOCOL + "/userinfo",
    summary="UserInfo (POST form)",
    operation_id="userinfo_post",
    responses=docs.USERINFO,
    openapi_extra=docs.USERINFO_BODY,
)
async def user_info(request: Request, realm: Realm) -> Response:
    """The user's claims for a Bearer token carrying ``openid``."""
    ctx = get_ctx(request)
    if realm != ctx.settings.realm:
        return _no_realm()
    token = bearer_token(request.headers.get("authorization"))
    if token is None and request.method == "POST":
        value = (await request.form()).get("access_token")
        token = value if isinstance(value, str) else None
    runtime = oauth_runtime(ctx)

    def call() -> Response:
        with ctx.db.read() as session:
            server = OAuthServer(session, runtime)
            try:
                return JSONResponse(userinfo(server, token), headers={"Cache-Control": "no-store"})
            except OAuth2Error as error:
                status, body, headers = render_error(error)
                return JSONResponse(body, status, headers=dict(headers))

    return await run_in_threadpool(call)
