"""The non-grant endpoints on Authlib's endpoint classes: device authorization, revocation,
introspection and back-channel logout, plus userinfo; each with Keycloak's answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749.endpoint import Endpoint
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint

from zevvy_server.identity.models import Membership, User
from zevvy_server.oauth.device import DeviceService
from zevvy_server.oauth.errors import (
    InsufficientScopeError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidTokenError,
    OAuth2Error,
    UnauthorizedClientError,
)
from zevvy_server.oauth.models import Client
from zevvy_server.oauth.scopes import granted, parse
from zevvy_server.oauth.service import DEVICE_CODE
from zevvy_server.oauth.sessions import PresentedRefreshToken
from zevvy_server.oauth.tokens import InvalidToken, header_kid, new_secret, verify_jwt

if TYPE_CHECKING:
    from zevvy_server.oauth.server import OAuthRequest, OAuthServer

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
ACCESS_TOKEN_HINT = "access_token"  # noqa: S105 - a token type name, not a secret


# -- access tokens, as the protocol endpoints see them (checked against the database) ----------
def active_access_claims(server: OAuthServer, value: str) -> dict[str, Any] | None:
    """The claims of an access token that is valid right now, or None.

    Unlike the metering API's cached check, this asks the database: introspection and userinfo
    must not answer "active" for a token revoked a second ago.
    """
    keys = server.runtime.keys.for_kid(header_kid(value))
    try:
        claims = verify_jwt(keys, value, issuer=server.settings.issuer, now=int(server.clock.time()))
        session_id, client_id = str(claims["sid"]), str(claims["azp"])
        token_id, user_id, org_id = str(claims["jti"]), claims["sub"], claims["org_id"]
    except (InvalidToken, KeyError):
        return None
    grant = server.sessions.get(session_id)
    client = server.query_client(client_id)
    if grant is None or grant.revoked_at is not None or client is None or client.id != grant.client_pk:
        return None
    if server.sessions.is_access_token_revoked(token_id):
        return None
    user = server.session.get(User, grant.user_id)
    if user is None or not user.enabled or str(user.id) != user_id or str(grant.organization_id) != org_id:
        return None
    if server.session.get(Membership, (grant.user_id, grant.organization_id)) is None:
        return None
    return claims


# -- device authorization (RFC 8628 §3.1) ---------------------------------------------------------
class DeviceAuthorization(DeviceAuthorizationEndpoint):  # type: ignore[misc]
    """Start a device flow: exactly the six RFC 8628 members, never a secret."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: OAuthServer

    def __init__(self, server: OAuthServer) -> None:
        super().__init__(server)
        self.EXPIRES_IN = server.settings.device_code_lifetime
        self.INTERVAL = server.settings.device_poll_interval
        self.devices = DeviceService(server.session, server.clock, server.settings)

    def authenticate_client(self, request: OAuthRequest) -> Client:
        """Authenticate, then require the device grant on the client."""
        client: Client = self.server.authenticate_client(
            request, self.CLIENT_AUTH_METHODS, self.ENDPOINT_NAME
        )
        if not client.check_grant_type(DEVICE_CODE):
            raise UnauthorizedClientError(
                "Client is not allowed to initiate OAuth 2.0 Device Authorization Grant. "
                "The flow is disabled for the client."
            )
        request.client = client
        return client

    def generate_device_code(self) -> str:
        """256 random bits, base64url: 43 characters like Keycloak's."""
        return new_secret(32)

    def generate_user_code(self) -> str:
        """Eight consonants, ``XXXX-XXXX``, not used by any stored request."""
        return self.devices.free_user_code()

    def get_verification_uri(self) -> str:
        """The device page."""
        return f"{self.server.settings.issuer}/device"

    def create_endpoint_response(self, request: OAuthRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        """Authlib's flow; the request is kept for `save_device_credential`."""
        self.request = request
        return super().create_endpoint_response(request)  # type: ignore[no-any-return]

    def save_device_credential(self, client_id: str, scope: str | None, data: dict[str, Any]) -> None:
        """Store the request; the scopes named now are the ones the token gets (all when none)."""
        client: Client = self.request.client
        scopes = granted(parse(scope) or None, client.scopes)
        nonce = self.request.form.get("nonce") or None
        self.devices.save(
            client, scopes, device_code=data["device_code"], user_code=data["user_code"], nonce=nonce
        )


# -- revocation (RFC 7009) ----------------------------------------------------------------------
@dataclass(frozen=True)
class FoundAccessToken:
    """An access token presented for revocation."""

    claims: dict[str, Any]

    @property
    def client_id(self) -> str:
        """The client it was issued to."""
        return str(self.claims.get("azp", ""))


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """Revoke a refresh token (its whole family and the family's access tokens) or an access token."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    server: OAuthServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """A refresh token of ours, or a valid access token, or None."""
        by_access = token_type_hint == ACCESS_TOKEN_HINT
        if not by_access:
            found = self.server.sessions.find_refresh_token(token_string, lock=True)
            if found is not None:
                return found
        claims = active_access_claims(self.server, token_string)
        if claims is not None:
            return FoundAccessToken(claims)
        if by_access:
            return self.server.sessions.find_refresh_token(token_string, lock=True)
        return None

    def revoke_token(self, token: Any, request: OAuthRequest) -> None:
        """Refresh token: the family; access token: that token until it expires."""
        if isinstance(token, PresentedRefreshToken):
            self.server.sessions.revoke(token.grant, "revoked")
        else:
            expires = datetime.fromtimestamp(int(token.claims["exp"]), UTC)
            self.server.sessions.revoke_access_token(str(token.claims["jti"]), expires)

    def create_endpoint_response(self, request: OAuthRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        """200 with an empty body; unknown tokens get Keycloak's 200 ``invalid_token`` body."""
        client = self.authenticate_endpoint_client(request)
        value = request.form.get("token")
        if not value:
            raise InvalidRequestError("Token not provided")
        token = self.query_token(value, request.form.get("token_type_hint"))
        if token is None:
            return 200, {"error": "invalid_token", "error_description": "Invalid token"}, default_json_headers
        owner = token.client.client_id if isinstance(token, PresentedRefreshToken) else token.client_id
        if owner != client.client_id:
            raise InvalidRequestError("Unmatching clients")
        self.revoke_token(token, request)
        return 200, "", default_json_headers


# -- introspection (RFC 7662) ---------------------------------------------------------------------
class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """Introspection for confidential clients: the token's claims, or ``{"active": false}``."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token", "requesting_party_token")
    server: OAuthServer

    def create_endpoint_response(self, request: OAuthRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        """Authenticate a confidential client, then describe the token."""
        client: Client = self.authenticate_endpoint_client(request)
        if client.public:
            raise OAuth2Error(error="invalid_request", description="Client not allowed.", status_code=403)
        value = request.form.get("token")
        if not value:
            raise InvalidRequestError("Token not provided.")
        hint = request.form.get("token_type_hint")
        if hint and hint not in self.SUPPORTED_TOKEN_TYPES:
            raise InvalidRequestError("Unsupported token type.")
        payload = self.describe_refresh_token(value) if hint == "refresh_token" else None
        if payload is None:
            payload = self.describe_access_token(value)
        if payload is None and hint != "refresh_token":
            payload = self.describe_refresh_token(value)
        return 200, payload or {"active": False}, default_json_headers

    def describe_access_token(self, value: str) -> dict[str, Any] | None:
        """The claims of an active access token, with ``client_id``, ``username`` and ``active``."""
        claims = active_access_claims(self.server, value)
        if claims is None:
            return None
        return {
            **claims,
            "client_id": claims["azp"],
            "username": claims.get("preferred_username"),
            "token_type": "Bearer",
            "active": True,
        }

    def describe_refresh_token(self, value: str) -> dict[str, Any] | None:
        """What a Keycloak refresh token would claim, for an active refresh token of ours."""
        sessions = self.server.sessions
        found = sessions.find_refresh_token(value)
        if found is None or found.token.replaced_at is not None or not sessions.is_active(found.grant):
            return None
        user = self.server.session.get(User, found.grant.user_id)
        if user is None or not user.enabled or not found.client.active:
            return None
        return {
            "exp": int(sessions.deadline(found.grant).timestamp()),
            "iat": int(found.token.created_at.timestamp()),
            "iss": self.server.settings.issuer,
            "aud": self.server.settings.issuer,
            "sub": str(user.id),
            "typ": "Offline" if found.token.offline else "Refresh",
            "azp": found.client.client_id,
            "sid": found.grant.id,
            "scope": " ".join(found.token.scopes),
            "org_id": str(found.grant.organization_id),
            "client_id": found.client.client_id,
            "username": user.username,
            "token_type": "Refresh",
            "active": True,
        }


# -- back-channel logout ------------------------------------------------------------------------
class BackchannelLogout(Endpoint):  # type: ignore[misc]
    """``POST logout`` with a refresh token: end that grant session; 204 No Content."""

    ENDPOINT_NAME = "backchannel_logout"
    server: OAuthServer

    def create_endpoint_response(self, request: OAuthRequest) -> tuple[int, Any, list[tuple[str, str]]]:
        """Revoke the refresh token's family (expired tokens too, as Keycloak ignores expiry here)."""
        client = self.server.authenticate_client(request, CLIENT_AUTH_METHODS, "logout")
        value = request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("No refresh token")
        found = self.server.sessions.find_refresh_token(value, lock=True)
        if found is None or found.client.id != client.id:
            raise InvalidGrantError("Invalid refresh token")
        self.server.sessions.revoke(found.grant, "logout")
        return 204, "", []


# -- userinfo -----------------------------------------------------------------------------------
def userinfo(server: OAuthServer, access_token: str | None) -> dict[str, Any]:
    """The claims of the token's user for its scopes; raises 401 invalid_token or 403 without openid."""
    claims = active_access_claims(server, access_token) if access_token else None
    if claims is None:
        raise InvalidTokenError(server.settings.realm)
    scopes = set(str(claims.get("scope", "")).split())
    if "openid" not in scopes:
        raise InsufficientScopeError(server.settings.realm, "Missing openid scope")
    info: dict[str, Any] = {"sub": claims["sub"]}
    if "email" in scopes:
        info["email_verified"] = False
    if "profile" in scopes:
        info["preferred_username"] = claims.get("preferred_username")
    if "email" in scopes:
        info["email"] = claims.get("email")
    info["org_id"] = claims.get("org_id")
    return info
