"""The OpenAPI description of the identity server's JSON endpoints: their form bodies and every
answer they give, in Keycloak's wire format (``{"error", "error_description"}`` for OAuth errors,
``{"error": "Realm does not exist"}`` for another realm)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

Realm = Annotated[
    str,
    Path(
        description="The realm (`ZEVVY_REALM`, `zevvy` by default); any other answers 404.",
        examples=["zevvy"],
    ),
]

Responses = dict[int | str, dict[str, Any]]

_STRING = {"type": "string"}

OAUTH_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"error": _STRING, "error_description": _STRING},
    "required": ["error"],
}
# What the server's own error handler answers if a request never reaches the endpoint (an
# unreadable form body, say).
_PROJECT_ERROR: dict[str, Any] = {
    "type": "object",
    "properties": {"error": _STRING, "message": _STRING, "details": {"type": "array"}},
    "required": ["error", "message", "details"],
}


def _json(description: str, schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {JSON: media}}


def _oauth_error(description: str, example: dict[str, str]) -> dict[str, Any]:
    return _json(description, {"anyOf": [OAUTH_ERROR, _PROJECT_ERROR]}, example)


NO_REALM: Responses = {
    404: _json(
        "Another realm than the configured one (Keycloak's body, without a description).",
        {"type": "object", "properties": {"error": {"const": "Realm does not exist"}}, "required": ["error"]},
        {"error": "Realm does not exist"},
    ),
    422: _json(
        "A request parameter the route cannot read (the server's error shape).",
        _PROJECT_ERROR,
        {"error": "validation_failed", "message": "The request is invalid.", "details": []},
    ),
}
INVALID_REQUEST: Responses = {
    400: _oauth_error(
        "A missing or repeated parameter, or a grant the request cannot use (`invalid_request`, "
        "`invalid_grant`, `unsupported_grant_type`, `unauthorized_client`, ...).",
        {"error": "invalid_request", "error_description": "Missing parameter: client_id"},
    )
}
INVALID_CLIENT: Responses = {
    401: _oauth_error(
        "Unknown or disabled client, wrong secret, or an Authorization header that is not Basic "
        "(`invalid_client`; `WWW-Authenticate: Basic` when Basic was used).",
        {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"},
    )
}


def form_body(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    """`openapi_extra` for a form the route reads itself (client credentials included)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"client_id": _STRING, "client_secret": _STRING, **properties},
    }
    if required:
        schema["required"] = required
    return {"requestBody": {"required": True, "content": {FORM: {"schema": schema}}}}


def success(model: type[BaseModel], description: str) -> Responses:
    """A JSON document answered with 200, or 404 for another realm."""
    return {200: {"model": model, "description": description}, **NO_REALM}


class RealmInfo(BaseModel):
    """Keycloak's ``GET /realms/{realm}``."""

    realm: str
    public_key: str
    token_service: str = Field(alias="token-service")
    account_service: str = Field(alias="account-service")
    tokens_not_before: int = Field(alias="tokens-not-before")


class ServerMetadata(BaseModel):
    """OIDC discovery and RFC 8414 metadata (the members clients need most; there are more)."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    code_challenge_methods_supported: list[str]
    device_authorization_endpoint: str


class JsonWebKey(BaseModel):
    """One RSA signing key."""

    kid: str
    kty: Literal["RSA"]
    alg: Literal["RS256"]
    use: Literal["sig"]
    n: str
    e: str


class JsonWebKeySet(BaseModel):
    """The keys that verify access and ID tokens."""

    keys: list[JsonWebKey]


class DeviceAuthorization(BaseModel):
    """RFC 8628 §3.2: exactly these six members."""

    model_config = ConfigDict(extra="forbid")

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class TokenResponse(BaseModel):
    """Keycloak's token response, in its member order."""

    access_token: str
    expires_in: int
    refresh_expires_in: int | None = None
    refresh_token: str | None = None
    token_type: Literal["Bearer"]
    id_token: str | None = None
    not_before_policy: int = Field(alias="not-before-policy")
    session_state: str
    scope: str


class Introspection(BaseModel):
    """RFC 7662: ``active``, and the token's claims when it is active."""

    active: bool


class UserInfo(BaseModel):
    """The user's claims for the token's scopes."""

    sub: str
    preferred_username: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    org_id: str | None = None


REALM_INFO = success(RealmInfo, "Keycloak's realm information.")
METADATA = success(ServerMetadata, "The discovery document.")
CERTS = success(JsonWebKeySet, "The JWK Set.")

DEVICE_BODY = form_body({"scope": _STRING, "nonce": _STRING})
DEVICE: Responses = {
    200: {"model": DeviceAuthorization, "description": "The device flow started."},
    **INVALID_REQUEST,
    **INVALID_CLIENT,
    **NO_REALM,
}

TOKEN_BODY = form_body(
    {
        "grant_type": {
            "type": "string",
            "examples": [
                "urn:ietf:params:oauth:grant-type:device_code",
                "refresh_token",
                "authorization_code",
            ],
        },
        "device_code": _STRING,
        "code": _STRING,
        "redirect_uri": _STRING,
        "code_verifier": _STRING,
        "refresh_token": _STRING,
        "scope": _STRING,
    },
    required=["grant_type"],
)
TOKEN: Responses = {
    200: {
        "model": TokenResponse,
        "description": "Tokens; `id_token` only with `openid`, `refresh_token` and `refresh_expires_in` "
        "unless the grant gives none.",
    },
    400: _oauth_error(
        "The grant failed: `invalid_request`, `invalid_grant`, `unsupported_grant_type`, "
        "`unauthorized_client`, `invalid_scope`, and for the device code `authorization_pending`, "
        "`slow_down`, `expired_token` or `access_denied`.",
        {"error": "authorization_pending", "error_description": "The authorization request is still pending"},
    ),
    **INVALID_CLIENT,
    **NO_REALM,
}

TOKEN_FORM = form_body({"token": _STRING, "token_type_hint": _STRING}, required=["token"])
INTROSPECT: Responses = {
    200: {
        "model": Introspection,
        "description": 'The token\'s claims with `"active": true`, or only `{"active": false}`.',
    },
    **INVALID_REQUEST,
    **INVALID_CLIENT,
    403: _oauth_error(
        "A public client (introspection is for confidential clients).",
        {"error": "invalid_request", "error_description": "Client not allowed."},
    ),
    **NO_REALM,
}
REVOKE: Responses = {
    200: {
        "description": "Revoked: an empty body. A token that is not ours, or no longer valid, also "
        'answers 200, with Keycloak\'s body `{"error": "invalid_token", "error_description": '
        '"Invalid token"}`.',
    },
    **INVALID_REQUEST,
    **INVALID_CLIENT,
    **NO_REALM,
}

LOGOUT_BODY = form_body({"refresh_token": _STRING})
LOGOUT: Responses = {
    204: {"description": "The refresh token's session ended (back-channel logout)."},
    303: {
        "description": "A browser's form without a refresh token or client credentials: continue as "
        "RP-initiated logout at the same URL with GET.",
        "headers": {"Location": {"schema": _STRING, "required": True}},
    },
    400: _oauth_error(
        "No refresh token, or one that is not this client's (`invalid_request`, `invalid_grant`).",
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    ),
    **INVALID_CLIENT,
    **NO_REALM,
}

USERINFO_BODY = {
    "requestBody": {
        "required": False,
        "content": {FORM: {"schema": {"type": "object", "properties": {"access_token": _STRING}}}},
    }
}
USERINFO: Responses = {
    200: {"model": UserInfo, "description": "The user's claims for the token's scopes."},
    401: _oauth_error(
        "No token, or one that is not valid now (`invalid_token`, with a Bearer challenge).",
        {"error": "invalid_token", "error_description": "Token verification failed"},
    ),
    403: _oauth_error(
        "The token lacks `openid` (`insufficient_scope`, with a Bearer challenge).",
        {"error": "insufficient_scope", "error_description": "Missing openid scope"},
    ),
    **NO_REALM,
}
