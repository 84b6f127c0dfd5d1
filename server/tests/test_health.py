"""The server answers its health check and carries its security headers."""

from __future__ import annotations

import httpx

from tests.conftest import LiveServer


def test_healthz_answers_200_when_the_database_answers(live_server: LiveServer) -> None:
    """GET /healthz is 200 with status ok."""
    response = httpx.get(f"{live_server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_response_carries_security_headers_and_a_request_id(live_server: LiveServer) -> None:
    """A CSP without inline script, frame-ancestors 'none', nosniff, and a request id."""
    response = httpx.get(f"{live_server.url}/healthz")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.headers["x-request-id"]) == 16


def test_unknown_paths_answer_404_in_the_api_error_shape(live_server: LiveServer) -> None:
    """A route that does not exist is a JSON 404 not_found."""
    response = httpx.get(f"{live_server.url}/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_swagger_ui_is_served_from_local_assets(live_server: LiveServer) -> None:
    """/docs loads Swagger UI from /static (no CDN) and /openapi.json is valid JSON."""
    page = httpx.get(f"{live_server.url}/docs")
    assert page.status_code == 200
    assert "https://" not in page.text
    assert "<script>" not in page.text  # no inline script
    for asset in (
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
        "/static/swagger-init.js",
    ):
        assert httpx.get(f"{live_server.url}{asset}").status_code == 200
    assert httpx.get(f"{live_server.url}/openapi.json").json()["openapi"].startswith("3.")
