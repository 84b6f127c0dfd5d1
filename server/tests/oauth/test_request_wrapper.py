"""The framework-free request Authlib sees."""

from __future__ import annotations

from zevvy_server.oauth.server import OAuthRequest


def test_post_endpoints_read_the_form_and_see_repeated_keys() -> None:
    """The query string is not a second source of parameters on POST."""
    request = OAuthRequest.build(
        "https://id.example",
        "POST",
        "/realms/zevvy/protocol/openid-connect/token",
        "client_id=from-query",
        {},
        [("client_id", "a"), ("scope", "x"), ("scope", "y")],
    )
    assert request.payload.data["client_id"] == "a"
    assert request.form_parameters.duplicated()
    assert request.uri == "https://id.example/realms/zevvy/protocol/openid-connect/token?client_id=from-query"


def test_a_deliberately_insecure_public_url_does_not_fail_every_request() -> None:
    """The settings decide transport security (an explicit override); Authlib's check would be a 500."""
    request = OAuthRequest.build("http://zevvy.lan:8000", "GET", "/realms/zevvy/device", "", {})
    assert request.uri == "http://zevvy.lan:8000/realms/zevvy/device"
