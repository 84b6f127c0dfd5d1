"""Typed answers of the API: camelCase on the wire, snake_case here, values as exact ``Decimal``."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from zevvy._wire import number_text, parse_instant, to_decimal

__all__ = [
    "BulkResult",
    "ConflictSample",
    "Consumption",
    "ConsumptionBucket",
    "Device",
    "DeviceAuthorization",
    "ImportBatch",
    "Measurement",
    "Page",
    "Register",
    "SeriesRef",
    "Tokens",
]

T = TypeVar("T")


def _instant(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    return parse_instant(value) if isinstance(value, str) else None


def _required_instant(data: Mapping[str, Any], key: str) -> datetime:
    return parse_instant(str(data[key]))


def _decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else to_decimal(value)


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; pass `next_cursor` back as ``cursor`` for the next one (None: the last)."""

    items: list[T]
    next_cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class Device:
    """A device (a gateway, a charging station) that owns registers.

    ```python
    device = client.create_device("Charging station P1", reference="cs-p1")
    ```
    """

    id: str
    name: str
    reference: str | None = None
    status: str | None = None
    last_read_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Device:
        """Build from the API's JSON object."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            reference=_str(data, "reference"),
            status=_str(data, "status"),
            last_read_at=_instant(data, "lastReadAt"),
            created_at=_instant(data, "createdAt"),
            updated_at=_instant(data, "updatedAt"),
        )


@dataclass(frozen=True, slots=True)
class Register:
    """A register of a device: a counter ("Zählerstand") or interval values ("Verbrauchswert").

    ```python
    register = client.create_register(device.id, "Energy", reference="energy", unit="Wh")
    ```
    """

    id: str
    name: str
    device_id: str | None = None
    reference: str | None = None
    kind: str = "counter"
    period: str = "PT15M"
    unit: str = "Wh"
    obis_code: str | None = None
    last_read_at: datetime | None = None
    last_value: Decimal | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Register:
        """Build from the API's JSON object."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            device_id=_str(data, "deviceId"),
            reference=_str(data, "reference"),
            kind=str(data.get("kind") or "counter"),
            period=str(data.get("period") or "PT15M"),
            unit=str(data.get("unit") or "Wh"),
            obis_code=_str(data, "obisCode"),
            last_read_at=_instant(data, "lastReadAt"),
            last_value=_decimal(data, "lastValue"),
            created_at=_instant(data, "createdAt"),
            updated_at=_instant(data, "updatedAt"),
        )


@dataclass(frozen=True, slots=True)
class Measurement:
    """One reading: an aware instant and an exact value.

    ```python
    Measurement(datetime(2024, 6, 3, 12, 15, tzinfo=UTC), Decimal("1234.5"))
    ```
    An ``int`` or ``float`` value and an RFC 3339 string instant are converted on construction.
    """

    read_at: datetime
    value: Decimal

    def __post_init__(self) -> None:
        read_at: object = self.read_at
        if isinstance(read_at, str):
            object.__setattr__(self, "read_at", parse_instant(read_at))
        elif not isinstance(read_at, datetime) or read_at.utcoffset() is None:
            raise ValueError(f"read_at must be an aware datetime, not {read_at!r}")
        value: object = self.value
        if not isinstance(value, Decimal):
            object.__setattr__(self, "value", Decimal(number_text(value)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        """Build from ``{"readAt", "value"}``."""
        return cls(_required_instant(data, "readAt"), to_decimal(data["value"]))


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """The device or register a bulk import went to, and whether that request created it."""

    id: str
    reference: str | None
    name: str | None
    created: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SeriesRef:
        """Build from the API's JSON object."""
        return cls(
            id=str(data["id"]),
            reference=_str(data, "reference"),
            name=_str(data, "name"),
            created=bool(data.get("created", False)),
        )


@dataclass(frozen=True, slots=True)
class ConflictSample:
    """A reading that was not applied because another value is stored at its instant."""

    read_at: datetime
    stored_value: Decimal | None
    sent_value: Decimal

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConflictSample:
        """Build from the API's JSON object."""
        return cls(
            read_at=_required_instant(data, "readAt"),
            stored_value=_decimal(data, "storedValue"),
            sent_value=to_decimal(data["sentValue"]),
        )


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What one bulk import did; the API answers 201 without conflicts and 409 with some.

    ```python
    result = client.bulk_create("cs-p1", "energy", readings)
    print(result.created, result.unchanged, result.conflicts)
    ```
    """

    import_id: str | None
    created: int
    unchanged: int
    overwritten: int
    conflicts: int
    device: SeriesRef | None
    register: SeriesRef | None
    conflict_samples: list[ConflictSample] = field(default_factory=list)
    dry_run: bool = False
    status_code: int = 201

    @property
    def has_conflicts(self) -> bool:
        """True when some readings differ from stored values (kept as open conflicts)."""
        return self.conflicts > 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], status_code: int = 201) -> BulkResult:
        """Build from the API's JSON object."""
        device = data.get("device")
        register = data.get("register")
        return cls(
            import_id=_str(data, "importId"),
            created=int(data.get("created", 0)),
            unchanged=int(data.get("unchanged", 0)),
            overwritten=int(data.get("overwritten", 0)),
            conflicts=int(data.get("conflicts", 0)),
            device=SeriesRef.from_json(device) if isinstance(device, Mapping) else None,
            register=SeriesRef.from_json(register) if isinstance(register, Mapping) else None,
            conflict_samples=[ConflictSample.from_json(s) for s in data.get("conflictSamples") or []],
            dry_run=bool(data.get("dryRun", False)),
            status_code=status_code,
        )


@dataclass(frozen=True, slots=True)
class ConsumptionBucket:
    """Consumption in ``[from_, to)``.

    `value` is None when unknown; `estimated` when an edge was interpolated; `partial` when the
    readings do not cover the whole bucket (nothing is extrapolated); `resets` counts counter resets.
    """

    from_: datetime
    to: datetime
    value: Decimal | None
    estimated: bool
    resets: int
    expected_slots: int
    received_slots: int
    partial: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsumptionBucket:
        """Build from the API's JSON object."""
        return cls(
            from_=_required_instant(data, "from"),
            to=_required_instant(data, "to"),
            value=_decimal(data, "value"),
            estimated=bool(data.get("estimated", False)),
            resets=int(data.get("resets", 0)),
            expected_slots=int(data.get("expectedSlots", 0)),
            received_slots=int(data.get("receivedSlots", 0)),
            partial=bool(data.get("partial", False)),
        )


@dataclass(frozen=True, slots=True)
class Consumption:
    """Consumption of a register per bucket, with the total (None when a bucket is unknown).

    ```python
    for bucket in client.consumption(register.id, "2024-06-01", "2024-07-01", interval="day"):
        print(bucket.from_, bucket.value)
    ```
    """

    buckets: list[ConsumptionBucket]
    total: Decimal | None = None
    unit: str | None = None
    interval: str | None = None
    time_zone: str | None = None

    def __iter__(self) -> Iterator[ConsumptionBucket]:
        return iter(self.buckets)

    def __len__(self) -> int:
        return len(self.buckets)

    @classmethod
    def from_json(cls, data: Any) -> Consumption:
        """Build from the API's answer (an object with ``buckets``, or a bare list of buckets)."""
        if isinstance(data, list):
            return cls(buckets=[ConsumptionBucket.from_json(b) for b in data])
        items = data.get("buckets", data.get("items", []))
        return cls(
            buckets=[ConsumptionBucket.from_json(b) for b in items],
            total=_decimal(data, "total"),
            unit=_str(data, "unit"),
            interval=_str(data, "interval"),
            time_zone=_str(data, "timeZone"),
        )


@dataclass(frozen=True, slots=True)
class ImportBatch:
    """One stored bulk-import request, as ``GET /imports`` lists them."""

    id: str
    created_at: datetime | None
    client_id: str | None
    readings: int
    created: int
    unchanged: int
    overwritten: int
    conflicts: int
    register_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportBatch:
        """Build from the API's JSON object."""
        return cls(
            id=str(data["id"]),
            created_at=_instant(data, "createdAt"),
            client_id=_str(data, "clientId"),
            readings=int(data.get("readings", 0)),
            created=int(data.get("created", 0)),
            unchanged=int(data.get("unchanged", 0)),
            overwritten=int(data.get("overwritten", 0)),
            conflicts=int(data.get("conflicts", 0)),
            register_ids=[str(r) for r in data.get("registerIds") or []],
        )


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """The device-flow codes to show the user (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int
    issued_at: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        """The link to open: the complete URI (code included) when the server gives one."""
        return self.verification_uri_complete or self.verification_uri

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeviceAuthorization:
        """Build from the device authorization response."""
        return cls(
            device_code=str(data["device_code"]),
            user_code=str(data["user_code"]),
            verification_uri=str(data["verification_uri"]),
            verification_uri_complete=_str(data, "verification_uri_complete"),
            expires_in=int(data.get("expires_in", 600)),
            # RFC 8628 §3.2: a missing interval means 5 seconds.
            interval=int(data.get("interval") or 5),
        )


@dataclass(frozen=True, slots=True)
class Tokens:
    """An access token and what renews it; times are seconds since the epoch.

    ```python
    tokens = client.login(on_code=lambda a: print(a.url))
    print(tokens.claims["preferred_username"], tokens.scopes)
    ```
    """

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    scope: str | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret

    @property
    def scopes(self) -> list[str]:
        """The granted scopes."""
        return (self.scope or "").split()

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """True when the access token expires within `seconds`; False when its expiry is unknown."""
        if self.expires_at is None:
            return False
        return self.expires_at - seconds <= (time.time() if now is None else now)

    def can_refresh(self, now: float | None = None) -> bool:
        """True when a refresh token is held and not known to have expired."""
        if not self.refresh_token:
            return False
        if self.refresh_expires_at is None:
            return True
        return self.refresh_expires_at > (time.time() if now is None else now)

    @property
    def claims(self) -> dict[str, Any]:
        """The access token's claims, decoded without checking the signature (the server checks it)."""
        return decode_claims(self.access_token)

    @classmethod
    def from_token_response(cls, data: Mapping[str, Any], now: float | None = None) -> Tokens:
        """Build from a token endpoint answer (``expires_in`` counted from `now`)."""
        now = time.time() if now is None else now
        expires_in = data.get("expires_in")
        refresh_expires_in = data.get("refresh_expires_in")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=_str(data, "refresh_token"),
            expires_at=now + float(expires_in) if isinstance(expires_in, int | float | Decimal) else None,
            # Keycloak reports 0 for a refresh token without a deadline.
            refresh_expires_at=now + float(refresh_expires_in)
            if isinstance(refresh_expires_in, int | float | Decimal) and refresh_expires_in
            else None,
            scope=_str(data, "scope"),
            token_type=str(data.get("token_type") or "Bearer"),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON object for storage."""
        return {
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresAt": self.expires_at,
            "refreshExpiresAt": self.refresh_expires_at,
            "scope": self.scope,
            "tokenType": self.token_type,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tokens:
        """Read back what `to_json` wrote."""
        expires_at = data.get("expiresAt")
        refresh_expires_at = data.get("refreshExpiresAt")
        return cls(
            access_token=str(data["accessToken"]),
            refresh_token=_str(data, "refreshToken"),
            expires_at=float(expires_at) if expires_at is not None else None,
            refresh_expires_at=float(refresh_expires_at) if refresh_expires_at is not None else None,
            scope=_str(data, "scope"),
            token_type=str(data.get("tokenType") or "Bearer"),
        )


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, without verifying it; an empty dict when it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def utc_from_timestamp(seconds: float) -> datetime:
    """An epoch timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)
