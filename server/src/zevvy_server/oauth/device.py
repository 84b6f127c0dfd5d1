"""The device flow's two halves outside the token endpoint: starting a request, and the person
who enters (or confirms) the user code and approves or denies it.

User codes are 8 letters from RFC 8628's consonant alphabet, shown ``XXXX-XXXX`` and typed in
any case, with or without spaces and dashes. Wrong entries are limited per account and per
address, counted in the database so every worker shares the count.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity import throttle
from zevvy_server.identity.errors import TooManyAttempts
from zevvy_server.identity.models import Membership, Organization
from zevvy_server.oauth.errors import InvalidUserCode, UserCodeNotUsable
from zevvy_server.oauth.models import Client, DeviceCode
from zevvy_server.oauth.sessions import GrantSessions
from zevvy_server.oauth.tokens import lookup_hash
from zevvy_server.settings import Settings

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
CODE_LENGTH = 8
ACCOUNT_WINDOW = 600  # wrong entries per account are counted over 10 minutes
IP_WINDOW = 3600  # and per address over an hour
# Expired requests still answer expired_token for a day, then they are purged.
KEEP_EXPIRED = timedelta(days=1)


def new_user_code() -> str:
    """Eight random consonants (about 34.6 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_user_code(entered: str) -> str | None:
    """The code as stored (upper case, no separators), or None when it cannot be one of ours."""
    code = "".join(ch for ch in entered.upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def display_user_code(code: str) -> str:
    """``XXXX-XXXX``."""
    return f"{code[:4]}-{code[4:]}"


@dataclass(frozen=True)
class PendingDeviceRequest:
    """What the consent page shows about a device request."""

    user_code: str  # as displayed
    client_id: str
    client_name: str
    owner_name: str
    scopes: list[str]


class DeviceService:
    """Device requests within one database session (transaction)."""

    def __init__(self, session: Session, clock: Clock, settings: Settings) -> None:
        self.session = session
        self.clock = clock
        self.settings = settings

    def save(
        self, client: Client, scopes: list[str], *, device_code: str, user_code: str, nonce: str | None = None
    ) -> None:
        """Store a new device request for `client` with the scopes its token will get."""
        now = self.clock.now()
        # Expired requests answer expired_token for a while, then go.
        self.session.execute(delete(DeviceCode).where(DeviceCode.expires_at < now - KEEP_EXPIRED))
        code = normalize_user_code(user_code)
        assert code is not None
        self.session.add(
            DeviceCode(
                device_code_hash=lookup_hash(device_code),
                user_code_hash=lookup_hash(code),
                client_pk=client.id,
                scopes=scopes,
                nonce=nonce,
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.device_code_lifetime),
                interval=self.settings.device_poll_interval,
                last_poll_at=None,
                status="pending",
                user_id=None,
                organization_id=None,
                session_id=None,
                decided_at=None,
            )
        )
        self.session.flush()

    def free_user_code(self) -> str:
        """A new user code no stored request has, as displayed."""
        while True:
            code = new_user_code()
            taken = self.session.scalar(
                select(DeviceCode.device_code_hash).where(DeviceCode.user_code_hash == lookup_hash(code))
            )
            if taken is None:
                return display_user_code(code)

    # -- the person's side ----------------------------------------------------------------------
    def _check_limits(self, user_id: uuid.UUID, ip: str | None) -> None:
        now = self.clock.time()
        if throttle.attempts(
            self.session, f"user_code:user:{user_id}", now=now, window_seconds=ACCOUNT_WINDOW
        ) >= self.settings.user_code_failures_per_account or (
            ip
            and throttle.attempts(self.session, f"user_code:ip:{ip}", now=now, window_seconds=IP_WINDOW)
            >= self.settings.user_code_failures_per_ip
        ):
            raise TooManyAttempts("Too many wrong codes. Try again later.", retry_after=ACCOUNT_WINDOW)

    def _count_failure(self, user_id: uuid.UUID, ip: str | None) -> None:
        now = self.clock.time()
        throttle.record_attempt(
            self.session, f"user_code:user:{user_id}", now=now, window_seconds=ACCOUNT_WINDOW
        )
        if ip:
            throttle.record_attempt(self.session, f"user_code:ip:{ip}", now=now, window_seconds=IP_WINDOW)

    def _pending(self, entered: str, user_id: uuid.UUID, ip: str | None) -> tuple[DeviceCode, Client, str]:
        self._check_limits(user_id, ip)
        code = normalize_user_code(entered)
        row = None
        if code is not None:
            row = self.session.execute(
                select(DeviceCode, Client)
                .join(Client, Client.id == DeviceCode.client_pk)
                .where(DeviceCode.user_code_hash == lookup_hash(code))
                .with_for_update(of=DeviceCode)
            ).first()
        if row is None:
            # Only unknown codes count: they are what guessing produces.
            self._count_failure(user_id, ip)
            raise InvalidUserCode()
        device, client = row[0], row[1]
        if device.status != "pending" or device.expires_at <= self.clock.now() or not client.active:
            raise UserCodeNotUsable()
        assert code is not None
        return device, client, code

    def _describe(self, device: DeviceCode, client: Client, code: str) -> PendingDeviceRequest:
        owner = self.session.get(Organization, client.organization_id)
        return PendingDeviceRequest(
            user_code=display_user_code(code),
            client_id=client.client_id,
            client_name=client.name,
            owner_name=owner.name if owner else "",
            scopes=list(device.scopes),
        )

    def find_pending(self, entered: str, *, user_id: uuid.UUID, ip: str | None) -> PendingDeviceRequest:
        """The pending request with this code; a wrong code is counted (InvalidUserCode, TooManyAttempts)."""
        device, client, code = self._pending(entered, user_id, ip)
        return self._describe(device, client, code)

    def approve(
        self, entered: str, *, user_id: uuid.UUID, organization_id: uuid.UUID, ip: str | None
    ) -> PendingDeviceRequest:
        """Approve the request for the user acting within one of their organizations."""
        device, client, code = self._pending(entered, user_id, ip)
        if self.session.get(Membership, (user_id, organization_id)) is None:
            raise InvalidUserCode("Choose one of your organizations.")
        grant = GrantSessions(self.session, self.clock, self.settings).start(
            client, user_id, organization_id, list(device.scopes), nonce=device.nonce
        )
        device.status = "approved"
        device.user_id = user_id
        device.organization_id = organization_id
        device.session_id = grant.id
        device.decided_at = self.clock.now()
        return self._describe(device, client, code)

    def deny(self, entered: str, *, user_id: uuid.UUID, ip: str | None) -> PendingDeviceRequest:
        """Deny the request; the device is told so on every later poll."""
        device, client, code = self._pending(entered, user_id, ip)
        device.status = "denied"
        device.user_id = user_id
        device.decided_at = self.clock.now()
        return self._describe(device, client, code)
