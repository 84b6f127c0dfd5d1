"""The authorization server: Authlib's core with Keycloak's wire rules, and no web framework.

A route reads the form, builds an `OAuthRequest` (method, URL built from the configured issuer,
headers, form and query pairs) and calls one `OAuthServer` method inside a database transaction;
the answer is an `OAuthResponse` (status, body text, headers) the route copies to the wire.
OAuth errors are answered, not raised, so the transaction still commits what they changed (a
spent authorization code, a stamped poll clock, a revoked family).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from sqlalchemy import select
from sqlalchemy.orm import Session

from zevvy_server.oauth.errors import (
    InvalidClient,
    InvalidRequestError,
    OAuth2Error,
)
from zevvy_server.oauth.models import Client
from zevvy_server.oauth.runtime import OAuthRuntime
from zevvy_server.oauth.scopes import OPENID
from zevvy_server.oauth.sessions import GrantContext, GrantSessions
from zevvy_server.oauth.tokens import mint_access_token, mint_id_token, same_secret

Pairs = Iterable[tuple[str, str]]

# Keycloak's token-response member order; python-keycloak and log parsers see this exact shape.
TOKEN_MEMBERS = (
    "access_token",
    "expires_in",
    "refresh_expires_in",
    "refresh_token",
    "token_type",
    "id_token",
    "not-before-policy",
    "session_state",
    "scope",
)


class Parameters(OAuth2Payload):  # type: ignore[misc]
    """Form or query parameters: `data` has the first value of each key, `datalist` all of them."""

    def __init__(self, pairs: Pairs) -> None:
        self._datalist: dict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        """First value per key."""
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        """Every value per key."""
        return self._datalist

    def duplicated(self) -> bool:
        """True when some key was sent more than once."""
        return any(len(values) > 1 for values in self._datalist.values())


class OAuthRequest(OAuth2Request):  # type: ignore[misc]
    """A request as Authlib sees it. POST endpoints read the form only, GET ones the query."""

    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], form: Pairs = (), query: Pairs = ()
    ):
        try:
            super().__init__(method, uri, headers=headers)
        except InsecureTransportError:
            # Transport security is decided once, by the settings: a public http URL that is not
            # loopback needs an explicit override there. Authlib's per-request check would
            # otherwise turn every request of such a deployment into a 500.
            super().__init__(method, "https://" + uri.split("://", 1)[-1], headers=headers)
            self.uri = uri
        self.form_parameters = Parameters(form)
        self.query_parameters = Parameters(query)
        self.payload = self.form_parameters if method == "POST" else self.query_parameters

    @classmethod
    def build(
        cls,
        base_url: str,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        form: Pairs = (),
    ) -> OAuthRequest:
        """A request whose URL is built from the configured public base URL, never the Host header."""
        uri = base_url + path + (f"?{query}" if query else "")
        return cls(method, uri, headers, form=form, query=parse_qsl(query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        """The form, first value per key."""
        return self.form_parameters.data

    @property
    def args(self) -> dict[str, str]:
        """The query string, first value per key."""
        return self.query_parameters.data

    @property
    def used_basic(self) -> bool:
        """True when the client sent HTTP Basic credentials."""
        return str(self.headers.get("Authorization") or "").lower().startswith("basic ")


@dataclass(frozen=True)
class OAuthResponse:
    """What goes on the wire."""

    status: int
    body: str
    headers: list[tuple[str, str]]


class OAuthServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's `AuthorizationServer` bound to one database session, speaking Keycloak's dialect."""

    def __init__(self, session: Session, runtime: OAuthRuntime) -> None:
        from zevvy_server.oauth.endpoints import (
            BackchannelLogout,
            DeviceAuthorization,
            Introspection,
            Revocation,
        )
        from zevvy_server.oauth.grants.authorization_code import AuthorizationCodeGrant, S256CodeChallenge
        from zevvy_server.oauth.grants.device_code import DeviceCodeGrant
        from zevvy_server.oauth.grants.refresh_token import RefreshTokenGrant

        # scopes_supported stays unset: unknown scopes are dropped, never refused (Keycloak).
        super().__init__(scopes_supported=None)
        self.session = session
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = runtime.clock
        self.sessions = GrantSessions(session, runtime.clock, runtime.settings)
        self.register_token_generator("default", self.generate_keycloak_token)
        self.register_grant(DeviceCodeGrant)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        for endpoint in (DeviceAuthorization, Revocation, Introspection, BackchannelLogout):
            self.register_endpoint(endpoint)

    # -- Authlib's storage and framework hooks --------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        """An enabled, undeleted client."""
        client = self.session.scalar(select(Client).where(Client.client_id == client_id))
        return client if client is not None and client.active else None

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        """Nothing to do: refresh tokens are stored while they are generated, access tokens never."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals."""

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        """Routes build the request themselves."""
        return request

    def handle_response(self, status: int, body: Any, headers: Iterable[tuple[str, str]]) -> OAuthResponse:
        """JSON text for dict bodies (insertion order kept); no Content-Type on an empty body."""
        text = json.dumps(body, separators=(",", ":")) if isinstance(body, dict) else str(body or "")
        out = [(k, v) for k, v in headers if text or k.lower() != "content-type"]
        return OAuthResponse(int(status), text, out)

    def handle_error_response(self, request: OAuthRequest, error: OAuth2Error) -> OAuthResponse:
        """RFC 6749 §5.2 bodies; errors sent back to a redirect URI also carry ``iss`` (RFC 9207)."""
        if error.redirect_uri:
            params = [*error.get_body(), ("iss", self.settings.issuer)]
            location = add_params_to_uri(error.redirect_uri, params, error.redirect_fragment)
            return self.handle_response(
                303 if request.method == "POST" else 302, "", [("Location", location)]
            )
        return self.handle_response(*error(self.get_error_uri(request, error)))

    # -- client authentication (Keycloak's rules) -----------------------------------------------
    def authenticate_client(
        self, request: OAuthRequest, methods: Sequence[str], endpoint: str = "token"
    ) -> Client:
        """Identify the client: form fields win over HTTP Basic; public clients send client_id alone.

        Unknown, disabled or wrongly authenticated clients get 401 invalid_client (with a Basic
        challenge when Basic was used); a missing client_id is 400 invalid_request. A repeated form
        parameter is refused only after the client is known, as Keycloak does.
        """
        if request.client is not None:
            client: Client = request.client
            return client
        form = request.form
        basic_id, basic_secret = extract_basic_authorization(request.headers)
        if form.get("client_id"):
            client_id, secret, method = form["client_id"], form.get("client_secret"), "client_secret_post"
        elif basic_id:
            client_id, secret, method = basic_id, basic_secret, "client_secret_basic"
        elif request.headers.get("Authorization") and not request.used_basic:
            raise InvalidClient(self.settings.realm, basic=True)
        else:
            raise InvalidRequestError("Missing parameter: client_id")
        found = self.query_client(client_id)
        if found is None:
            raise InvalidClient(self.settings.realm, basic=request.used_basic)
        if found.public:
            method = "none"
        elif not secret or not _check_secret(found, secret):
            raise InvalidClient(self.settings.realm, basic=request.used_basic)
        if request.form_parameters.duplicated():
            raise InvalidRequestError("duplicated parameter")
        request.client = found
        request.auth_method = method
        return found

    # -- the token endpoint ---------------------------------------------------------------------
    def get_token_grant(self, request: OAuthRequest) -> Any:
        """The grant for `grant_type`, with Keycloak's answers for a missing or unknown one."""
        if not request.payload.grant_type:
            raise InvalidRequestError("Missing form parameter: grant_type")
        for grant_cls, extensions in self._token_grants:
            if grant_cls.check_token_endpoint(request):
                grant = grant_cls(request, self)
                for extension in extensions or ():
                    extension(grant)
                return grant
        raise OAuth2Error(error="unsupported_grant_type", description="Unsupported grant_type")

    def create_token_response(self, request: OAuthRequest) -> OAuthResponse:
        """Answer a token request."""
        try:
            grant = self.get_token_grant(request)
            grant.validate_token_request()
            return self.handle_response(*grant.create_token_response())
        except OAuth2Error as error:
            return self.handle_error_response(request, error)

    def generate_keycloak_token(
        self,
        grant_type: str,
        client: Client,
        user: GrantContext,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        """Mint the tokens of `user` (a grant context) in Keycloak's member order."""
        keys = self.runtime.keys.current(session=self.session)
        now = int(self.clock.time())
        lifetime = expires_in or self.settings.access_token_lifetime
        subject = user.subject()
        access_token, _claims = mint_access_token(
            keys,
            issuer=self.settings.issuer,
            client_id=client.client_id,
            subject=subject,
            scopes=user.scopes,
            now=now,
            lifetime=lifetime,
        )
        body: dict[str, Any] = {"access_token": access_token, "expires_in": lifetime}
        if include_refresh_token:
            refresh_token = self.sessions.issue_refresh_token(user.grant, user.generation)
            body["refresh_expires_in"] = self.sessions.refresh_expires_in(user.grant)
            body["refresh_token"] = refresh_token
        body["token_type"] = "Bearer"  # noqa: S105 - the token type, not a secret
        if OPENID in user.scopes:
            body["id_token"] = mint_id_token(
                keys,
                issuer=self.settings.issuer,
                client_id=client.client_id,
                subject=subject,
                scopes=user.scopes,
                nonce=user.grant.nonce,
                access_token=access_token,
                now=now,
                lifetime=lifetime,
            )
        body["not-before-policy"] = 0
        body["session_state"] = user.grant.id
        body["scope"] = " ".join(user.scopes)
        return {key: body[key] for key in TOKEN_MEMBERS if key in body}


def _check_secret(client: Client, secret: str) -> bool:
    return same_secret(client.secret_hash, secret)
