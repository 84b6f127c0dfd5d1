"""API clients: secrets shown once and stored hashed, settings validated, lifecycle."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.oauth.conftest import Transaction
from zevvy_server.clock import AdjustableClock
from zevvy_server.identity.models import Organization
from zevvy_server.oauth.errors import ClientIdTaken, ClientNotFound, InvalidClientSettings
from zevvy_server.oauth.scopes import ALL_SCOPES
from zevvy_server.oauth.service import GRANT_TYPES, ClientService
from zevvy_server.oauth.tokens import lookup_hash


def test_a_confidential_client_gets_a_random_secret_stored_only_as_its_hash(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """Defaults: every grant type and every scope; the secret is not in the row."""
    with transaction() as session:
        service = ClientService(session, clock)
        client, secret = service.create("Charging station", make_org().id)
        assert secret is not None and len(secret) >= 43
        assert client.secret_hash == lookup_hash(secret)
        assert secret not in (client.secret_hash or "")
        assert client.grant_types == list(GRANT_TYPES)
        assert client.scopes == list(ALL_SCOPES)
        assert client.client_id.startswith("charging-station-")
        assert service.check_secret(client, secret)
        assert not service.check_secret(client, secret + "x")


def test_a_public_client_has_no_secret(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """Public clients identify by client_id alone."""
    with transaction() as session:
        client, secret = ClientService(session, clock).create("CLI", make_org().id, public=True)
    assert secret is None and client.secret_hash is None


def test_rotating_the_secret_invalidates_the_old_one(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """The new secret is returned once."""
    with transaction() as session:
        service = ClientService(session, clock)
        client, old = service.create("Rotating", make_org().id)
        new = service.rotate_secret(client.client_id)
        assert old and new != old
        assert service.check_secret(client, new) and not service.check_secret(client, old)


def test_invalid_settings_are_refused(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """Plain http redirect URIs off loopback, fragments, unknown scopes or grants, bad ids."""
    org = make_org()
    bad_calls = [
        {"redirect_uris": ["http://app.example/cb"]},
        {"redirect_uris": ["https://app.example/cb#x"]},
        {"redirect_uris": ["/relative"]},
        {"scopes": ["device", "admin"]},
        {"grant_types": ["password"]},
        {"client_id": "has space"},
    ]
    for options in bad_calls:
        with transaction() as session, pytest.raises(InvalidClientSettings):
            ClientService(session, clock).create("Bad", org.id, **options)  # type: ignore[arg-type]
    with transaction() as session:
        client, _ = ClientService(session, clock).create(
            "Good", org.id, redirect_uris=["https://app.example/cb", "http://127.0.0.1:8080/cb"]
        )
        assert client.redirect_uris == ["https://app.example/cb", "http://127.0.0.1:8080/cb"]


def test_client_ids_are_unique_and_stay_reserved_after_deletion(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """A deleted client is gone from lists and lookups, but its id cannot be taken over."""
    org = make_org()
    with transaction() as session:
        service = ClientService(session, clock)
        client, _ = service.create("Unique", org.id)
        with pytest.raises(ClientIdTaken):
            service.create("Other", org.id, client_id=client.client_id)
        service.delete(client.client_id)
        with pytest.raises(ClientNotFound):
            service.get(client.client_id)
        assert client not in service.list_for(org.id)
        with pytest.raises(ClientIdTaken):
            service.create("Again", org.id, client_id=client.client_id)


def test_disable_enable_and_list_for_an_organization(
    transaction: Transaction, clock: AdjustableClock, make_org: Callable[..., Organization]
) -> None:
    """Lists show the organization's clients only, by name."""
    org, other = make_org(), make_org()
    with transaction() as session:
        service = ClientService(session, clock)
        service.create("B client", org.id)
        a, _ = service.create("A client", org.id)
        service.create("Foreign", other.id)
        assert [c.name for c in service.list_for(org.id)] == ["A client", "B client"]
        assert not service.disable(a.client_id).active
        assert service.enable(a.client_id).active
