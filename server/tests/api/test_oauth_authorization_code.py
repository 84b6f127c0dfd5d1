"""Authorization code with PKCE, through the consent page of a signed-in browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.api.conftest import PROTOCOL, ApiClient, pkce_pair, refresh
from tests.conftest import Account, LiveServer
from tests.support import csrf_from
from zevvy_server.identity.service import IdentityService

CALLBACK = "http://127.0.0.1:9/callback"


def _params(client: ApiClient, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "client_id": client.client_id,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid device",
        "state": "st-123",
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def _consent(
    browser: httpx.Client, params: dict[str, str], decision: str = "approve", **form: str
) -> httpx.Response:
    page = browser.get(f"{PROTOCOL}/auth", params=params)
    assert page.status_code == 200, page.text
    query = str(httpx.QueryParams(params))
    data = {"csrf_token": csrf_from(page.text), "authorization_request": query, "decision": decision, **form}
    if "organization_id" not in data:
        start = page.text.index('name="organization_id" value="') + len('name="organization_id" value="')
        data["organization_id"] = page.text[start : page.text.index('"', start)]
    return browser.post(f"{PROTOCOL}/auth", data=data)


def _code(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def _exchange(
    http: httpx.Client, client: ApiClient, code: str, verifier: str | None, **extra: str
) -> httpx.Response:
    data = {
        **client.credentials(),
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return http.post(f"{PROTOCOL}/token", data=data)


def test_code_flow_with_pkce_gives_tokens_and_the_redirect_carries_state_and_iss(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """303 back with code, state and iss; the code exchanges once for tokens with an ID token."""
    account = make_user()
    client = make_client(public=True, redirect_uris=[CALLBACK])
    verifier, challenge = pkce_pair()
    returned = _code(_consent(browser_session(account), _params(client, challenge)))
    assert returned["state"] == ["st-123"]
    assert returned["iss"] == [live_server.issuer]
    tokens = _exchange(http, client, returned["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    assert set(tokens.json()["scope"].split()) == {"openid", "device"}
    assert "id_token" in tokens.json()


def test_a_wrong_verifier_is_refused_and_spends_the_code(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Keycloak's "PKCE verification failed: Code mismatch"; the right verifier then fails too."""
    client = make_client(public=True, redirect_uris=[CALLBACK])
    verifier, challenge = pkce_pair()
    code = _code(_consent(browser_session(make_user()), _params(client, challenge)))["code"][0]
    wrong = _exchange(http, client, code, pkce_pair()[0])
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "PKCE verification failed: Code mismatch",
    }
    assert _exchange(http, client, code, verifier).json() == {
        "error": "invalid_grant",
        "error_description": "Code not valid",
    }


def test_a_missing_verifier_and_a_verifier_without_challenge_are_refused(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """PKCE is enforced when sent, and a verifier without a challenge is a downgrade attempt."""
    browser = browser_session(make_user())
    confidential = make_client(redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    code = _code(_consent(browser, _params(confidential, challenge)))["code"][0]
    assert (
        _exchange(http, confidential, code, None).json()["error_description"]
        == "PKCE code verifier not specified"
    )
    plain = _code(_consent(browser, _params(confidential, None)))["code"][0]
    downgrade = _exchange(http, confidential, plain, pkce_pair()[0])
    assert downgrade.json()["error_description"] == (
        "PKCE code verifier specified but challenge not present in authorization"
    )
    without_pkce = _code(_consent(browser, _params(confidential, None)))["code"][0]
    assert _exchange(http, confidential, without_pkce, None).status_code == 200


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """RFC 6749 §4.1.2: a code used twice may be stolen."""
    client = make_client(redirect_uris=[CALLBACK])
    verifier, challenge = pkce_pair()
    code = _code(_consent(browser_session(make_user()), _params(client, challenge)))["code"][0]
    tokens = _exchange(http, client, code, verifier).json()
    replay = _exchange(http, client, code, verifier)
    assert replay.json() == {"error": "invalid_grant", "error_description": "Code not valid"}
    assert refresh(http, client, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_redirect_uris_match_exactly_at_auth_and_token(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Any URI but the registered one, character for character (prefix, extra path, query,
    fragment, other or default port, case, other host or scheme, dot segments, percent-encoding),
    gets an error page, never a redirect; the token request must repeat the URI."""
    browser = browser_session(make_user())
    client = make_client(redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    tricks = (
        CALLBACK + "/extra",  # extra path
        CALLBACK[:-2],  # a prefix of the registered URI
        "http://127.0.0.1:9/other",
        CALLBACK + "?x=1",
        CALLBACK + "#fragment",
        CALLBACK.replace(":9/", ":10/"),  # another port
        CALLBACK.replace(":9/", "/"),  # the default port
        CALLBACK.upper(),  # case
        CALLBACK.replace("/callback", "/Callback"),
        CALLBACK.replace("127.0.0.1", "127.0.0.1.attacker.example"),
        CALLBACK.replace("http://", "http://attacker.example@"),
        CALLBACK.replace("http://", "https://"),
        CALLBACK.replace("/callback", "/./callback"),
        CALLBACK.replace("/callback", "/%63allback"),
    )
    for bad in tricks:
        page = browser.get(f"{PROTOCOL}/auth", params=_params(client, challenge, redirect_uri=bad))
        assert page.status_code == 400, bad
        assert "location" not in page.headers
    verifier, challenge = pkce_pair()
    code = _code(_consent(browser, _params(client, challenge)))["code"][0]
    mismatch = _exchange(http, client, code, verifier, redirect_uri=CALLBACK + "/extra")
    assert mismatch.json() == {"error": "invalid_grant", "error_description": "Incorrect redirect_uri"}


def test_pkce_method_must_be_s256_and_public_clients_must_use_pkce(
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """Missing method, plain, or no challenge from a public client: redirected invalid_request."""
    browser = browser_session(make_user())
    public = make_client(public=True, redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    cases = [
        {"code_challenge": challenge},
        {"code_challenge": challenge, "code_challenge_method": "plain"},
        {},
    ]
    for extra in cases:
        params = _params(public, None, **extra)
        answer = browser.get(f"{PROTOCOL}/auth", params=params)
        assert answer.status_code == 302, extra
        returned = parse_qs(urlsplit(answer.headers["location"]).query)
        assert returned["error"] == ["invalid_request"], extra
        assert returned["state"] == ["st-123"]


def test_denying_consent_redirects_access_denied(
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """The client learns the person said no."""
    client = make_client(redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    returned = _code(_consent(browser_session(make_user()), _params(client, challenge), decision="deny"))
    assert returned["error"] == ["access_denied"]
    assert returned["state"] == ["st-123"]


def test_the_consent_form_is_refused_without_its_csrf_token(
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """A cross-site POST cannot approve on the person's behalf."""
    account = make_user()
    browser = browser_session(account)
    client = make_client(redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    query = str(httpx.QueryParams(_params(client, challenge)))
    data = {
        "authorization_request": query,
        "decision": "approve",
        "organization_id": str(account.organization.id),
    }
    answer = browser.post(f"{PROTOCOL}/auth", data=data)
    assert answer.status_code == 403
    assert "location" not in answer.headers


def test_signing_in_is_asked_first_and_prompt_none_answers_login_required(
    http: httpx.Client, make_client: Callable[..., ApiClient]
) -> None:
    """An anonymous browser goes to the sign-in page and comes back to the same request."""
    client = make_client(redirect_uris=[CALLBACK])
    _, challenge = pkce_pair()
    answer = http.get(f"{PROTOCOL}/auth", params=_params(client, challenge))
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=")
    silent = http.get(f"{PROTOCOL}/auth", params=_params(client, challenge, prompt="none"))
    assert parse_qs(urlsplit(silent.headers["location"]).query)["error"] == ["login_required"]


def test_the_person_chooses_the_organization_the_token_acts_for(
    live_server: LiveServer,
    http: httpx.Client,
    make_client: Callable[..., ApiClient],
    make_user: Callable[..., Account],
    make_org: Callable[..., Any],
    browser_session: Callable[[Account], httpx.Client],
) -> None:
    """With several memberships the consent page lists them; the choice becomes org_id."""
    account = make_user()
    second = make_org()
    with live_server.db.write() as session:
        identity = IdentityService(session, live_server.clock)
        identity.add_member(
            identity.get_organization(second.id), identity.get_user(account.user.id), "viewer"
        )
    browser = browser_session(account)
    client = make_client(redirect_uris=[CALLBACK])
    verifier, challenge = pkce_pair()
    page = browser.get(f"{PROTOCOL}/auth", params=_params(client, challenge))
    assert second.name in page.text and account.organization.name in page.text
    code = _code(_consent(browser, _params(client, challenge), organization_id=str(second.id)))["code"][0]
    tokens = _exchange(http, client, code, verifier).json()
    info = http.get(f"{PROTOCOL}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["org_id"] == str(second.id)
    stranger = make_org()
    refused = _consent(browser, _params(client, challenge), organization_id=str(stranger.id))
    assert refused.status_code == 404
