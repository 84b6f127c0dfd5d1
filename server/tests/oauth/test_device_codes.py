"""User codes and the person's side of the device flow, at the service level."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.conftest import Account
from tests.oauth.conftest import Transaction
from zevvy_server.clock import AdjustableClock
from zevvy_server.identity.errors import TooManyAttempts
from zevvy_server.identity.models import Organization
from zevvy_server.oauth.device import (
    ALPHABET,
    DeviceService,
    display_user_code,
    new_user_code,
    normalize_user_code,
)
from zevvy_server.oauth.errors import InvalidUserCode, UserCodeNotUsable
from zevvy_server.oauth.service import ClientService
from zevvy_server.settings import Settings


def test_user_codes_are_eight_consonants_shown_in_two_groups() -> None:
    """RFC 8628 §6.1 base-20 alphabet, XXXX-XXXX."""
    codes = {new_user_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in codes)
    assert display_user_code("BCDFGHJK") == "BCDF-GHJK"


def test_entry_ignores_case_spaces_and_dashes_and_rejects_other_letters() -> None:
    """What people type is forgiven; vowels and digits cannot be ours."""
    assert normalize_user_code(" bcdf-ghjk ") == "BCDFGHJK"
    assert normalize_user_code("BcDf GhJk") == "BCDFGHJK"
    assert normalize_user_code("BCDF-GHJA") is None
    assert normalize_user_code("BCDF-GHJ") is None


def _pending_code(
    transaction: Transaction, clock: AdjustableClock, settings: Settings, account: Account
) -> str:
    with transaction() as session:
        client, _ = ClientService(session, clock).create("gateway", account.organization.id)
        devices = DeviceService(session, clock, settings)
        code = devices.free_user_code()
        devices.save(client, ["device"], device_code=uuid.uuid4().hex, user_code=code)
    return code


def test_ten_wrong_codes_per_account_then_even_the_right_one_waits(
    transaction: Transaction,
    clock: AdjustableClock,
    settings: Settings,
    make_user: Callable[..., Account],
) -> None:
    """Counted in the database per account over ten minutes; the window then frees it."""
    account = make_user()
    code = _pending_code(transaction, clock, settings, account)
    ip = f"192.0.2.{uuid.uuid4().int % 250}"
    for _ in range(10):
        with transaction() as session, pytest.raises(InvalidUserCode):
            DeviceService(session, clock, settings).find_pending("BBBBBBBB", user_id=account.user.id, ip=ip)
    with transaction() as session, pytest.raises(TooManyAttempts):
        DeviceService(session, clock, settings).find_pending(code, user_id=account.user.id, ip=ip)
    clock.advance(600)
    code = _pending_code(transaction, clock, settings, account)
    with transaction() as session:
        found = DeviceService(session, clock, settings).find_pending(code, user_id=account.user.id, ip=ip)
    assert found.user_code == code


def test_sixty_wrong_codes_per_address_stop_every_account_there(
    transaction: Transaction,
    clock: AdjustableClock,
    settings: Settings,
    make_user: Callable[..., Account],
) -> None:
    """Spreading guesses over accounts does not get around the per-address limit."""
    ip = f"198.51.100.{uuid.uuid4().int % 250}"
    accounts = [make_user() for _ in range(7)]
    wrong = 0
    for account in accounts:
        for _ in range(9):
            if wrong == 60:
                break
            with transaction() as session, pytest.raises(InvalidUserCode):
                DeviceService(session, clock, settings).find_pending(
                    "BBBBBBBB", user_id=account.user.id, ip=ip
                )
            wrong += 1
    fresh = make_user()
    with transaction() as session, pytest.raises(TooManyAttempts):
        DeviceService(session, clock, settings).find_pending("BBBBBBBB", user_id=fresh.user.id, ip=ip)


def test_approval_needs_a_membership_and_a_decided_code_cannot_be_decided_again(
    transaction: Transaction,
    clock: AdjustableClock,
    settings: Settings,
    make_user: Callable[..., Account],
    make_org: Callable[..., Organization],
) -> None:
    """Acting for a foreign organization is refused; approved codes are no longer pending."""
    account = make_user()
    code = _pending_code(transaction, clock, settings, account)
    foreign = make_org()
    with transaction() as session, pytest.raises(InvalidUserCode):
        DeviceService(session, clock, settings).approve(
            code, user_id=account.user.id, organization_id=foreign.id, ip=None
        )
    with transaction() as session:
        DeviceService(session, clock, settings).approve(
            code, user_id=account.user.id, organization_id=account.organization.id, ip=None
        )
    with transaction() as session, pytest.raises(UserCodeNotUsable):
        DeviceService(session, clock, settings).deny(code, user_id=account.user.id, ip=None)
