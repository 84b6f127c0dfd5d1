"""What the server answers is what /openapi.json documents: the status, the content type and the
body's schema, for the identity endpoints' successes and errors, and the API's error shape for
every 4xx of the metering API (FastAPI's own validation-error schema is never what we send)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import PROTOCOL, ApiClient
from tests.conftest import Account, LiveServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
IDENTITY = ("/realms/", "/.well-known/")
OPERATIONS = "/realms/{realm}/protocol/openid-connect"


@pytest.fixture
def document(live_server: LiveServer) -> dict[str, Any]:
    """The server's own OpenAPI document."""
    body: dict[str, Any] = httpx.get(f"{live_server.url}/openapi.json").json()
    return body


@pytest.fixture
def conforms(document: dict[str, Any]) -> Callable[[str, str, httpx.Response], None]:
    """Check `response` against what the document says `method path` answers."""
    schema = schemathesis.openapi.from_dict(document)

    def check(method: str, path: str, response: httpx.Response) -> None:
        template = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        pattern = re.sub(r"{([A-Za-z_]+)}", r"(?P<\1>[^/]+)", template)
        match = re.fullmatch(pattern, response.request.url.path)
        assert match, (path, response.request.url)
        case = schema[path][method].Case(path_parameters=match.groupdict())
        case.validate_response(response, checks=CHECKS)

    return check


def identity_operations(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(method, path) of every identity-server operation in the document."""
    for path, item in document["paths"].items():
        if path.startswith(IDENTITY):
            for method in item:
                yield method.upper(), path


def test_every_identity_endpoint_documents_the_404_of_another_realm(
    http: httpx.Client, document: dict[str, Any], conforms: Callable[[str, str, httpx.Response], None]
) -> None:
    operations = list(identity_operations(document))
    assert len(operations) == 12
    for method, path in operations:
        response = http.request(method, path.replace("{realm}", "elsewhere"))
        assert response.status_code == 404, (method, path, response.text)
        assert response.json() == {"error": "Realm does not exist"}
        conforms(method, path, response)


def test_the_identity_endpoints_oauth_errors_are_documented(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    conforms: Callable[[str, str, httpx.Response], None],
) -> None:
    client = make_client()
    public = make_client(public=True)
    wrong_secret = {"client_id": client.client_id, "client_secret": "not-the-secret"}
    for path, data in (
        ("/token", {"grant_type": "refresh_token"}),
        ("/token/introspect", {"token": "x"}),
        ("/revoke", {"token": "x"}),
        ("/logout", {"refresh_token": "x"}),
        ("/auth/device", {"scope": "device"}),
    ):
        url = PROTOCOL + path
        missing_client = http.post(url, data=data)
        assert missing_client.status_code == 400, (path, missing_client.text)
        conforms("POST", OPERATIONS + path, missing_client)
        refused = http.post(url, data={**data, **wrong_secret})
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["error"] == "invalid_client"
        conforms("POST", OPERATIONS + path, refused)
    bad_grant = http.post(
        f"{PROTOCOL}/token",
        data={**client.credentials(), "grant_type": "refresh_token", "refresh_token": "x"},
    )
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"
    conforms("POST", OPERATIONS + "/token", bad_grant)
    not_confidential = http.post(f"{PROTOCOL}/token/introspect", data={**public.credentials(), "token": "x"})
    assert not_confidential.status_code == 403
    conforms("POST", OPERATIONS + "/token/introspect", not_confidential)
    browser_form = http.post(f"{PROTOCOL}/logout", data={"state": "x"})
    assert browser_form.status_code == 303
    conforms("POST", OPERATIONS + "/logout", browser_form)
    for method in ("GET", "POST"):
        no_token = http.request(method, f"{PROTOCOL}/userinfo")
        assert no_token.status_code == 401
        conforms(method, OPERATIONS + "/userinfo", no_token)


def test_the_identity_endpoints_successes_are_documented(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    device_tokens: Callable[..., dict[str, Any]],
    make_user: Callable[..., Account],
    conforms: Callable[[str, str, httpx.Response], None],
) -> None:
    for path in (
        "/realms/{realm}",
        "/realms/{realm}/.well-known/openid-configuration",
        "/realms/{realm}/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/realms/{realm}",
        OPERATIONS + "/certs",
    ):
        response = http.get(path.replace("{realm}", "zevvy"))
        assert response.status_code == 200
        conforms("GET", path, response)
    account = make_user()
    client = make_client(org=account.organization)
    started = http.post(f"{PROTOCOL}/auth/device", data={**client.credentials(), "scope": "device"})
    assert started.status_code == 200
    conforms("POST", OPERATIONS + "/auth/device", started)
    pending = http.post(
        f"{PROTOCOL}/token",
        data={
            **client.credentials(),
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started.json()["device_code"],
        },
    )
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    conforms("POST", OPERATIONS + "/token", pending)

    tokens = device_tokens(client, "openid profile email device offline_access", account)
    renewed = http.post(
        f"{PROTOCOL}/token",
        data={
            **client.credentials(),
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert renewed.status_code == 200
    conforms("POST", OPERATIONS + "/token", renewed)
    tokens = renewed.json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for method in ("GET", "POST"):
        info = http.request(method, f"{PROTOCOL}/userinfo", headers=bearer)
        assert info.status_code == 200
        conforms(method, OPERATIONS + "/userinfo", info)
    without_openid = device_tokens(client, "device", account)["access_token"]
    refused = http.get(f"{PROTOCOL}/userinfo", headers={"Authorization": f"Bearer {without_openid}"})
    assert refused.status_code == 403
    conforms("GET", OPERATIONS + "/userinfo", refused)
    active = http.post(
        f"{PROTOCOL}/token/introspect", data={**client.credentials(), "token": tokens["access_token"]}
    )
    assert active.status_code == 200 and active.json()["active"] is True
    conforms("POST", OPERATIONS + "/token/introspect", active)
    unknown = http.post(f"{PROTOCOL}/revoke", data={**client.credentials(), "token": "not-a-token"})
    assert unknown.status_code == 200 and unknown.json()["error"] == "invalid_token"
    conforms("POST", OPERATIONS + "/revoke", unknown)
    revoked = http.post(f"{PROTOCOL}/revoke", data={**client.credentials(), "token": tokens["access_token"]})
    assert revoked.status_code == 200 and revoked.content == b""  # no body, so no Content-Type
    conforms("POST", OPERATIONS + "/revoke", revoked)
    logged_out = http.post(
        f"{PROTOCOL}/logout", data={**client.credentials(), "refresh_token": tokens["refresh_token"]}
    )
    assert logged_out.status_code == 204
    conforms("POST", OPERATIONS + "/logout", logged_out)


def test_every_metering_error_is_documented_in_the_apis_error_shape(document: dict[str, Any]) -> None:
    """Each 4xx of each metering operation names `error`, `message` and `details` as required: a
    schema without them (FastAPI's default 422, say) would let any body pass for the error."""
    wrong = {}
    for path, item in document["paths"].items():
        if path.startswith(IDENTITY):
            continue
        for method, operation in item.items():
            assert "422" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                # An import with conflicts answers 409 with its result: stored, not an error.
                imported = status == "409" and path.endswith("/measurements/_bulk_create")
                if not status.startswith("4") or imported:
                    continue
                schema = response["content"]["application/json"]["schema"]
                if "$ref" in schema or set(schema.get("required", ())) != {"error", "message", "details"}:
                    wrong[f"{method.upper()} {path} {status}"] = schema
    assert wrong == {}
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})


def test_a_422_from_parameter_validation_has_the_documented_shape(
    live_server: LiveServer,
    api_token: Callable[..., str],
    conforms: Callable[[str, str, httpx.Response], None],
) -> None:
    token = api_token("device register measurement")
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"}) as http:
        response = http.delete("/devices/00000000-0000-0000-0000-000000000000", params={"confirm": "maybe"})
    assert response.status_code == 422
    assert response.json()["error"] == "validation_failed"
    assert response.json()["details"][0]["pointer"] == "/confirm"
    conforms("DELETE", "/devices/{device_id}", response)


def test_the_documents_sections_come_in_reading_order(document: dict[str, Any]) -> None:
    """Swagger UI shows the sections in the order of the document's tags, whatever order the
    routes are matched in: identity first, then the metering API from devices to structure."""
    from zevvy_server.app import API_TAGS

    assert [tag["name"] for tag in document["tags"]] == list(API_TAGS)
    used = {
        tag for operations in document["paths"].values() for op in operations.values() for tag in op["tags"]
    }
    assert used == set(API_TAGS)
