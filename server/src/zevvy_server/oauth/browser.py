"""What the browser pages ask of the protocol core: the authorization request and its consent,
and RP-initiated logout. The pages render; these functions decide."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri

from zevvy_server.identity.models import Organization
from zevvy_server.identity.sessions import ConsoleSessions
from zevvy_server.oauth.errors import AuthorizationRefused, LogoutRefused, OAuth2Error
from zevvy_server.oauth.grants.authorization_code import Approval
from zevvy_server.oauth.models import Client
from zevvy_server.oauth.scopes import parse
from zevvy_server.oauth.server import OAuthRequest, OAuthResponse, OAuthServer
from zevvy_server.oauth.tokens import InvalidToken, header_kid, verify_jwt


@dataclass(frozen=True)
class ConsentRequest:
    """What the consent page shows for a valid authorization request."""

    client_id: str
    client_name: str
    owner_name: str
    scopes: list[str]


def _client_error(error: OAuth2Error) -> AuthorizationRefused:
    return AuthorizationRefused(str(error.description or error.error))


def check_authorization(server: OAuthServer, request: OAuthRequest) -> ConsentRequest | OAuthResponse:
    """Validate an authorization request: the consent to ask for, or a redirect with the error.

    Raises `AuthorizationRefused` when the error may not go back to the redirect URI.
    """
    try:
        grant = server.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:
            response: OAuthResponse = server.handle_error_response(request, error)
            return response
        raise _client_error(error) from error
    client: Client = grant.request.client
    owner = server.session.get(Organization, client.organization_id)
    return ConsentRequest(
        client_id=client.client_id,
        client_name=client.name,
        owner_name=owner.name if owner else "",
        scopes=parse(grant.request.scope),
    )


def answer_authorization(
    server: OAuthServer, request: OAuthRequest, approval: Approval | None
) -> OAuthResponse:
    """The redirect back to the client: a code (approved) or ``access_denied`` (None)."""
    try:
        grant = server.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:
            denied: OAuthResponse = server.handle_error_response(request, error)
            return denied
        raise _client_error(error) from error
    response: OAuthResponse = server.create_authorization_response(request, grant_user=approval, grant=grant)
    return response


def error_redirect(server: OAuthServer, request: OAuthRequest, error: str, description: str) -> OAuthResponse:
    """Send an error such as ``login_required`` back to a validated redirect URI."""
    redirect_uri = request.payload.data["redirect_uri"]
    params = [("error", error), ("error_description", description)]
    if state := request.payload.data.get("state"):
        params.append(("state", state))
    params.append(("iss", server.settings.issuer))
    return OAuthResponse(302, "", [("Location", add_params_to_uri(redirect_uri, params))])


@dataclass(frozen=True)
class LogoutPlan:
    """Where the browser goes after logout, and whether it must confirm first."""

    redirect_to: str | None
    needs_confirmation: bool


def plan_logout(
    server: OAuthServer,
    *,
    id_token_hint: str | None,
    client_id: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
) -> tuple[LogoutPlan, str | None]:
    """Check an RP-initiated logout request; returns the plan and the grant session to end.

    A valid ID token (expired ones too) names the session and the client, so no confirmation is
    needed; without one the person confirms. A redirect URI must be registered for the client,
    exactly.
    """
    session_id: str | None = None
    if id_token_hint:
        keys = server.runtime.keys.for_kid(header_kid(id_token_hint))
        try:
            claims = verify_jwt(
                keys,
                id_token_hint,
                issuer=server.settings.issuer,
                now=int(server.clock.time()),
                typ="ID",
                audience=None,
                check_expiry=False,
            )
        except InvalidToken as exc:
            raise LogoutRefused("The ID token is not valid.") from exc
        hinted = str(claims.get("azp") or claims.get("aud"))
        if client_id and client_id != hinted:
            raise LogoutRefused("The ID token was issued to another client.")
        client_id, session_id = hinted, str(claims.get("sid") or "") or None
    redirect_to = None
    if post_logout_redirect_uri:
        client = server.query_client(client_id) if client_id else None
        if client is None or not client.check_redirect_uri(post_logout_redirect_uri):
            raise LogoutRefused("Invalid redirect uri")
        redirect_to = post_logout_redirect_uri
        if state:
            sep = "&" if "?" in redirect_to else "?"
            redirect_to = f"{redirect_to}{sep}{urlencode({'state': state})}"
    return LogoutPlan(redirect_to=redirect_to, needs_confirmation=session_id is None), session_id


def end_browser_session(
    server: OAuthServer, session_id: str | None, console_token: str | None, idle_seconds: int
) -> None:
    """End the grant session named by the ID token, and the browser's console session."""
    if session_id:
        grant = server.sessions.get(session_id)
        if grant is not None:
            server.sessions.revoke(grant, "logout")
    ConsoleSessions(server.session, server.clock, idle_seconds).end(console_token)
