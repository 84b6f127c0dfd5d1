"""Discovery documents (OIDC Discovery, RFC 8414) and Keycloak's realm information.

Only what this server implements is advertised: grants, PKCE ``S256``, the auth methods it
accepts (``none`` included, which Keycloak omits and some generic clients need).
"""

from __future__ import annotations

from typing import Any

from zevvy_server.oauth.scopes import ALL_SCOPES
from zevvy_server.oauth.service import GRANT_TYPES

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def endpoints(issuer: str) -> dict[str, str]:
    """Every endpoint URL under the issuer, by metadata name."""
    base = f"{issuer}/protocol/openid-connect"
    return {
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "introspection_endpoint": f"{base}/token/introspect",
        "userinfo_endpoint": f"{base}/userinfo",
        "end_session_endpoint": f"{base}/logout",
        "jwks_uri": f"{base}/certs",
        "revocation_endpoint": f"{base}/revoke",
        "device_authorization_endpoint": f"{base}/auth/device",
    }


def openid_configuration(issuer: str) -> dict[str, Any]:
    """The OIDC discovery document, members in Keycloak's order."""
    urls = endpoints(issuer)
    return {
        "issuer": issuer,
        "authorization_endpoint": urls["authorization_endpoint"],
        "token_endpoint": urls["token_endpoint"],
        "introspection_endpoint": urls["introspection_endpoint"],
        "userinfo_endpoint": urls["userinfo_endpoint"],
        "end_session_endpoint": urls["end_session_endpoint"],
        "frontchannel_logout_supported": False,
        "jwks_uri": urls["jwks_uri"],
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "response_modes_supported": ["query"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "claims_supported": ["aud", "sub", "iss", "auth_time", "preferred_username", "email", "org_id"],
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": False,
        "scopes_supported": ["openid", *[s for s in ALL_SCOPES if s != "openid"]],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "code_challenge_methods_supported": ["S256"],
        "revocation_endpoint": urls["revocation_endpoint"],
        "backchannel_logout_supported": False,
        "device_authorization_endpoint": urls["device_authorization_endpoint"],
        "authorization_response_iss_parameter_supported": True,
    }


def authorization_server_metadata(issuer: str) -> dict[str, Any]:
    """The RFC 8414 document: the same facts without the OIDC-only members."""
    oidc_only = {
        "userinfo_endpoint",
        "end_session_endpoint",
        "frontchannel_logout_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "claims_supported",
        "claim_types_supported",
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "backchannel_logout_supported",
    }
    return {k: v for k, v in openid_configuration(issuer).items() if k not in oidc_only}


def realm_info(realm: str, issuer: str, public_key: str) -> dict[str, Any]:
    """Keycloak's ``GET /realms/{realm}`` document (python-keycloak's ``public_key()`` reads it)."""
    return {
        "realm": realm,
        "public_key": public_key,
        "token-service": f"{issuer}/protocol/openid-connect",
        "account-service": f"{issuer}/account",
        "tokens-not-before": 0,
    }
