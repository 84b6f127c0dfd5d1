"""The device-code grant (RFC 8628 §3.4) with Keycloak's check order and a per-code poll clock."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import rfc8628
from sqlalchemy import select

from zevvy_server.oauth.errors import (
    AccessDeniedError,
    AuthorizationPendingError,
    ExpiredTokenError,
    InvalidGrantError,
    InvalidRequestError,
    SlowDownError,
)
from zevvy_server.oauth.models import DeviceCode
from zevvy_server.oauth.sessions import GrantContext
from zevvy_server.oauth.tokens import lookup_hash

if TYPE_CHECKING:
    from zevvy_server.oauth.server import OAuthServer

# A poll this much earlier than the interval still counts as on time (network jitter).
POLL_TOLERANCE = timedelta(seconds=0.5)
SLOW_DOWN_STEP = 5
MAX_INTERVAL = 60


class DeviceCodeGrant(rfc8628.DeviceCodeGrant):  # type: ignore[misc]
    """Exchange an approved device code for tokens.

    Authlib looks the code up before authenticating the client, checks the decision before the
    poll clock and has no clock at all; Keycloak's order is: client, code, expiry, owner, poll
    clock (``slow_down`` does not restamp it), decision.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
    server: OAuthServer

    def validate_token_request(self) -> None:
        """Check the poll and, once approved, prepare the grant context."""
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise InvalidGrantError("Client not allowed OAuth 2.0 Device Authorization Grant")
        value = self.request.form.get("device_code")
        if not value:
            raise InvalidRequestError("Missing parameter: device_code")
        device = self.server.session.scalar(
            select(DeviceCode).where(DeviceCode.device_code_hash == lookup_hash(value)).with_for_update()
        )
        if device is None or device.status == "used":
            raise InvalidGrantError("Device code not valid")
        now = self.server.clock.now()
        if device.expires_at <= now:
            raise ExpiredTokenError("Device code is expired")
        if device.client_pk != client.id:
            raise InvalidGrantError("unauthorized client")
        if (
            device.last_poll_at is not None
            and now < device.last_poll_at + timedelta(seconds=device.interval) - POLL_TOLERANCE
        ):
            device.interval = min(device.interval + SLOW_DOWN_STEP, MAX_INTERVAL)
            raise SlowDownError("Slow down")
        device.last_poll_at = now
        if device.status == "denied":
            raise AccessDeniedError("The end user denied the authorization request")
        if device.status != "approved" or device.session_id is None:
            raise AuthorizationPendingError("The authorization request is still pending")
        grant = self.server.sessions.get(device.session_id)
        if grant is None or grant.revoked_at is not None:
            raise InvalidGrantError("Session not active")
        context = self.server.sessions.context(grant, client)
        self.server.sessions.touch(grant)
        device.status = "used"
        self.request.client = client
        self.request.user = context

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """The tokens, with the scopes named at device authorization (a ``scope`` here is ignored)."""
        context: GrantContext = self.request.user
        token = self.generate_token(
            user=context,
            scope=" ".join(context.scopes),
            include_refresh_token=self.request.client.check_grant_type("refresh_token"),
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER
