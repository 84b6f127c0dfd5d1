"""The refresh-token grant: rotation on every use, a short grace for the token just replaced,
family revocation on later reuse, and Keycloak's error descriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import grants

from zevvy_server.oauth.errors import InvalidScopeError, UnauthorizedClientError
from zevvy_server.oauth.scopes import narrowed, parse
from zevvy_server.oauth.sessions import GrantContext

if TYPE_CHECKING:
    from zevvy_server.oauth.server import OAuthServer


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh: a new access token and a new refresh token; the old one is replaced."""

    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: OAuthServer

    def validate_token_request(self) -> None:
        """Authenticate the client, then check and rotate the presented token (extra fields ignored)."""
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("Client not allowed to use refresh tokens")
        sessions = self.server.sessions
        presented, generation = sessions.use_refresh_token(self.request.form.get("refresh_token"), client)
        scopes = list(presented.grant.scopes)
        if requested := parse(self.request.form.get("scope")):
            narrower = narrowed(requested, scopes)
            if narrower is None:
                raise InvalidScopeError("Invalid scopes: " + " ".join(requested))
            scopes = narrower
        context = sessions.context(presented.grant, client, scopes)
        context.generation = generation
        sessions.touch(presented.grant)
        self.request.client = client
        self.request.user = context

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """New tokens of the same session; the refresh token keeps the session's scopes."""
        context: GrantContext = self.request.user
        token = self.generate_token(user=context, scope=" ".join(context.scopes), include_refresh_token=True)
        return 200, token, self.TOKEN_RESPONSE_HEADER
