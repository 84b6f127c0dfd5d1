"""The authorization-code grant with PKCE S256 only, single-use codes and Keycloak's answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)
from sqlalchemy import delete, select

from zevvy_server.oauth.errors import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
)
from zevvy_server.oauth.models import AuthorizationCode
from zevvy_server.oauth.scopes import parse
from zevvy_server.oauth.sessions import GrantContext
from zevvy_server.oauth.tokens import lookup_hash, new_secret

if TYPE_CHECKING:
    from zevvy_server.oauth.server import OAuthRequest, OAuthServer


@dataclass(frozen=True)
class Approval:
    """The person's consent: who approved, acting for which organization."""

    user_id: uuid.UUID
    organization_id: uuid.UUID


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only: a challenge without a method is refused rather than read as ``plain``."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        """At ``auth``: public clients must send a challenge; a sent one must be S256."""
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge and not method:
            if grant.request.client.public:
                raise InvalidRequestError("Missing parameter: code_challenge")
            return
        if not method:
            raise InvalidRequestError("Missing parameter: code_challenge_method")
        if method != "S256":
            raise InvalidRequestError("Invalid parameter: code_challenge_method")
        if not challenge:
            raise InvalidRequestError("Missing parameter: code_challenge")
        if not CODE_CHALLENGE_PATTERN.match(challenge):
            raise InvalidRequestError("Invalid parameter: code_challenge")

    def validate_code_verifier(self, grant: AuthorizationCodeGrant, result: Any) -> None:
        """At ``token``: the verifier must match the stored challenge, and needs one (RFC 9700 §4.8)."""
        code: AuthorizationCode = grant.request.authorization_code
        verifier = grant.request.form.get("code_verifier")
        if code.code_challenge is None:
            if verifier is not None:
                raise InvalidGrantError(
                    "PKCE code verifier specified but challenge not present in authorization"
                )
            return
        if verifier is None:
            raise InvalidGrantError("PKCE code verifier not specified")
        if not CODE_VERIFIER_PATTERN.match(verifier):
            raise InvalidGrantError("PKCE verification failed: Invalid code verifier")
        if not compare_s256_code_challenge(verifier, code.code_challenge):
            raise InvalidGrantError("PKCE verification failed: Code mismatch")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Codes are random, stored hashed, live briefly and are spent on first presentation."""

    TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
    server: OAuthServer

    # -- at the authorization endpoint ----------------------------------------------------------
    def create_authorization_response(
        self, redirect_uri: str, grant_user: Approval | None
    ) -> tuple[int, str, list[tuple[str, str]]]:
        """303 back to the client with ``code``, ``state`` and ``iss`` (or ``access_denied``)."""
        if grant_user is None:
            raise AccessDeniedError(
                "The end user denied the authorization request", redirect_uri=redirect_uri
            )
        self.request.user = grant_user
        code = new_secret()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        params.append(("iss", self.server.settings.issuer))
        # 303, never 307, after the consent form (RFC 9700 §4.12).
        return 303, "", [("Location", add_params_to_uri(redirect_uri, params))]

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        """Open the grant session and store the code's hash with the PKCE challenge."""
        approval: Approval = request.user
        client = request.client
        scopes = parse(request.scope)
        data = request.payload.data
        grant = self.server.sessions.start(
            client, approval.user_id, approval.organization_id, scopes, nonce=data.get("nonce") or None
        )
        now = self.server.clock.now()
        # Spent and expired codes are kept a day for replay detection, then purged here.
        self.server.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - timedelta(days=1))
        )
        self.server.session.add(
            AuthorizationCode(
                code_hash=lookup_hash(code),
                client_pk=client.id,
                session_id=grant.id,
                redirect_uri=data["redirect_uri"],
                scopes=scopes,
                code_challenge=data.get("code_challenge") or None,
                code_challenge_method="S256" if data.get("code_challenge") else None,
                created_at=now,
                expires_at=now + timedelta(seconds=self.server.settings.authorization_code_lifetime),
                used_at=None,
            )
        )

    # -- at the token endpoint ------------------------------------------------------------------
    @hooked  # type: ignore[untyped-decorator]
    def validate_token_request(self) -> None:
        """Check the code; it is spent by this request whatever the outcome after client auth."""
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("Client not allowed to exchange code")
        value = self.request.form.get("code")
        if not value:
            raise InvalidRequestError("Missing parameter: code")
        server = self.server
        code = server.session.scalar(
            select(AuthorizationCode)
            .where(AuthorizationCode.code_hash == lookup_hash(value))
            .with_for_update()
        )
        if code is None:
            raise InvalidGrantError("Code not valid")
        grant = server.sessions.get(code.session_id)
        if code.used_at is not None:
            # A replayed code may be stolen: revoke everything issued from it (RFC 6749 §4.1.2).
            if grant is not None:
                server.sessions.revoke(grant, "code_replayed")
            raise InvalidGrantError("Code not valid")
        now = server.clock.now()
        code.used_at = now
        if code.expires_at <= now:
            raise InvalidGrantError("Code not valid")
        if code.client_pk != client.id:
            raise InvalidGrantError("Auth error: Found different client_id in clientSession")
        if self.request.form.get("redirect_uri") != code.redirect_uri:
            raise InvalidGrantError("Incorrect redirect_uri")
        if grant is None or not server.sessions.is_active(grant):
            raise InvalidGrantError("Session not active")
        self.request.client = client
        self.request.authorization_code = code

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """The tokens of the code's grant session."""
        code: AuthorizationCode = self.request.authorization_code
        client = self.request.client
        grant = self.server.sessions.get(code.session_id)
        assert grant is not None
        context: GrantContext = self.server.sessions.context(grant, client, list(code.scopes))
        self.server.sessions.touch(grant)
        token = self.generate_token(
            user=context,
            scope=" ".join(context.scopes),
            include_refresh_token=client.check_grant_type("refresh_token"),
        )
        return 200, token, self.TOKEN_RESPONSE_HEADER
