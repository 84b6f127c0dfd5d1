"""Wire models of the metering API (msgspec structs, camelCase members) and their JSON Schemas.

Values go out as exact JSON numbers (`msgspec.Raw` holding the shortest exact text), instants as
``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``. Request structs forbid unknown members, so a misspelt
``referance`` is a 422 rather than a device silently created without its reference.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from zevvy_server.metering.errors import BulkInvalid

T = TypeVar("T")

Number = Annotated[Raw, Meta(extra_json_schema={"type": "number", "examples": [1234.5]})]
Instant = Annotated[
    str, Meta(extra_json_schema={"format": "date-time", "examples": ["2024-03-31T00:00:00Z"]})
]
Kind = Literal["counter", "interval"]
CostType = Literal["electricity", "heat", "water", "gas", "ev_charging", "solar_production", "other"]
DeviceStatus = Literal["assigned", "partial", "unassigned"]


class _In(Struct, rename="camel", forbid_unknown_fields=True):
    pass


class _Out(Struct, rename="camel"):
    pass


# -- requests -------------------------------------------------------------------------------------
class DeviceIn(_In):
    """POST /devices (``Name``/``Reference`` are accepted as aliases)."""

    name: str
    reference: str | None = None


class DevicePatch(_In):
    """PATCH /devices/{id} (JSON merge patch; ``reference: null`` removes the reference)."""

    name: str | UnsetType = UNSET
    reference: str | UnsetType | None = UNSET


class RegisterIn(_In):
    """POST /devices/{id}/registers."""

    name: str
    reference: str | None = None
    kind: Kind = "counter"
    period: str = "PT15M"
    unit: str = "Wh"
    obis_code: str | None = None


class RegisterPatch(_In):
    """PATCH /registers/{id} (JSON merge patch)."""

    name: str | UnsetType = UNSET
    reference: str | UnsetType | None = UNSET
    kind: Kind | UnsetType = UNSET
    period: str | UnsetType = UNSET
    unit: str | UnsetType = UNSET
    obis_code: str | UnsetType | None = UNSET


class PropertyIn(_In):
    """POST /properties."""

    name: str
    reference: str | None = None
    address: str | None = None


class PropertyPatch(_In):
    """PATCH /properties/{id}."""

    name: str | UnsetType = UNSET
    reference: str | UnsetType | None = UNSET
    address: str | UnsetType | None = UNSET


class UsageUnitIn(_In):
    """POST /usage-units."""

    property_id: uuid.UUID
    name: str
    reference: str | None = None


class UsageUnitPatch(_In):
    """PATCH /usage-units/{id}."""

    name: str | UnsetType = UNSET
    reference: str | UnsetType | None = UNSET


class MeasurementPointIn(_In):
    """POST /measurement-points."""

    usage_unit_id: uuid.UUID
    name: str
    cost_type: CostType
    unit: str = "kWh"


class MeasurementPointPatch(_In):
    """PATCH /measurement-points/{id}."""

    name: str | UnsetType = UNSET
    cost_type: CostType | UnsetType = UNSET
    unit: str | UnsetType = UNSET


class AssignmentIn(_In):
    """One register assigned to a point from `validFrom` until `validTo` (exclusive; open if absent).

    Both are RFC 3339 instants or ``YYYY-MM-DD`` dates (local midnight in `timeZone`).
    """

    register_id: uuid.UUID
    valid_from: str
    valid_to: str | None = None
    time_zone: str = "Europe/Zurich"


class AssignmentPatch(_In):
    """PATCH /assignments/{id}: move the validity period."""

    valid_from: str | UnsetType = UNSET
    valid_to: str | UnsetType | None = UNSET
    time_zone: str = "Europe/Zurich"


class BulkAssignmentRow(_In):
    """One row of POST /assignments/_bulk_create.

    The point is the usage unit's point of that cost type (created when missing, named after the
    cost type unless `measurementPointName` is given).
    """

    device_reference: str
    register_reference: str
    usage_unit_reference: str
    cost_type: CostType
    valid_from: str
    valid_to: str | None = None
    measurement_point_name: str | None = None
    time_zone: str = "Europe/Zurich"


# -- responses ------------------------------------------------------------------------------------
class DeviceOut(_Out):
    """A device."""

    id: uuid.UUID
    name: str
    reference: str | None
    status: DeviceStatus
    last_read_at: Instant | None
    created_at: Instant
    updated_at: Instant


class RegisterOut(_Out):
    """A register."""

    id: uuid.UUID
    device_id: uuid.UUID
    name: str
    reference: str | None
    kind: Kind
    period: str
    unit: str
    obis_code: str | None
    last_read_at: Instant | None
    last_value: Number | None
    created_at: Instant
    updated_at: Instant


class Reading(_Out):
    """One stored reading."""

    read_at: Instant
    value: Number


class Revision(_Out):
    """A replaced value."""

    read_at: Instant
    old_value: Number
    new_value: Number
    reason: Literal["overwrite", "conflict_accepted"]
    replaced_at: Instant
    import_id: uuid.UUID | None
    conflict_id: uuid.UUID | None
    user_id: uuid.UUID | None
    client_id: str | None


class ConflictOut(_Out):
    """A sent value that differs from the stored one (count: how often it was sent)."""

    id: uuid.UUID
    read_at: Instant
    stored_value: Number | None
    sent_value: Number
    count: int
    first_seen_at: Instant
    last_seen_at: Instant
    status: Literal["open", "accepted", "rejected"]
    resolved_at: Instant | None
    resolved_by: uuid.UUID | None


class ImportOut(_Out):
    """One bulk-import request that was stored."""

    id: uuid.UUID
    created_at: Instant
    user_id: uuid.UUID | None
    client_id: str | None
    on_conflict: Literal["keep", "overwrite"]
    series: int
    readings: int
    created: int
    unchanged: int
    overwritten: int
    conflicts: int
    register_ids: list[uuid.UUID]


class AuditOut(_Out):
    """One audit-log event."""

    id: int
    at: Instant
    user_id: uuid.UUID | None
    client_id: str | None
    action: str
    target: str | None
    details: dict[str, Any]


class SeriesRef(_Out):
    """The device or register a series went to, and whether this request created it (in a dry
    run, `id` is null for what would be created)."""

    id: uuid.UUID | None
    reference: str | None
    name: str
    created: bool


class ConflictSample(_Out):
    """A reading that was not applied because another value is stored."""

    read_at: Instant
    stored_value: Number
    sent_value: Number


class BulkResult(_Out):
    """The answer to one series of a bulk import (201 without conflicts, 409 with)."""

    import_id: uuid.UUID | None
    created: int
    unchanged: int
    overwritten: int
    conflicts: int
    device: SeriesRef
    register: SeriesRef
    conflict_samples: list[ConflictSample]
    dry_run: bool = False


class BulkTotals(_Out):
    """Counts summed over every series of a list-form request."""

    created: int
    unchanged: int
    overwritten: int
    conflicts: int


class BulkListResult(_Out):
    """The answer to a list-form bulk import."""

    import_id: uuid.UUID | None
    results: list[BulkResult]
    totals: BulkTotals
    dry_run: bool = False


class Bucket(_Out, kw_only=True):
    """Consumption in [from, to); `value` null when unknown."""

    from_: Instant = msgspec.field(name="from")
    to: Instant
    value: Number | None
    estimated: bool
    partial: bool
    resets: int
    expected_slots: int
    received_slots: int


class ConsumptionOut(_Out, kw_only=True):
    """Consumption per bucket, with the total over the buckets (null when any is unknown)."""

    register_id: uuid.UUID | None
    measurement_point_id: uuid.UUID | None
    unit: str
    interval: str
    time_zone: str
    from_: Instant = msgspec.field(name="from")
    to: Instant
    total: Number | None
    buckets: list[Bucket]


class PropertyOut(_Out):
    """A property."""

    id: uuid.UUID
    name: str
    reference: str | None
    address: str | None
    created_at: Instant
    updated_at: Instant


class UsageUnitOut(_Out):
    """A usage unit."""

    id: uuid.UUID
    property_id: uuid.UUID
    name: str
    reference: str | None
    created_at: Instant
    updated_at: Instant


class MeasurementPointOut(_Out):
    """A measurement point."""

    id: uuid.UUID
    usage_unit_id: uuid.UUID
    name: str
    cost_type: CostType
    unit: str
    created_at: Instant
    updated_at: Instant


class AssignmentOut(_Out):
    """A register assigned to a measurement point over [validFrom, validTo)."""

    id: uuid.UUID
    measurement_point_id: uuid.UUID
    register_id: uuid.UUID
    device_id: uuid.UUID
    valid_from: Instant
    valid_to: Instant | None
    created_at: Instant
    updated_at: Instant


class ErrorOut(_Out):
    """Every error: a stable code, a text for people, and details (JSON pointers) when useful."""

    error: str
    message: str
    details: list[dict[str, Any]]


# -- decoding requests, schemas for the OpenAPI document ----------------------------------------
_AT = re.compile(r" - at `\$(.*)`$")
_STEP = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+|\.\.\.)\]")
_FIELD = re.compile(r"field `([^`]+)`")

_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    """JSON bytes of a response struct."""
    return _encoder.encode(value)


def pointer_of(message: str) -> str:
    """The JSON pointer of a msgspec validation message (`` - at `$.a[0].b` `` → ``/a/0/b``)."""
    match = _AT.search(message)
    parts = [m.group(1) or m.group(2) for m in _STEP.finditer(match.group(1))] if match else []
    field_match = _FIELD.search(message)
    if field_match and ("unknown field" in message or "missing required" in message):
        parts.append(field_match.group(1))
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _problem(message: str) -> str:
    if "unknown field" in message:
        return "unknown_member"
    if "missing required field" in message:
        return "required"
    if "malformed" in message or "truncated" in message:
        return "malformed_json"
    return "invalid"


def decode_json(raw: bytes) -> Any:
    """Any JSON value of a small request body; 422 `malformed_json` when it is not JSON."""
    try:
        return msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError as exc:
        raise BulkInvalid([{"pointer": "", "problem": "malformed_json", "message": str(exc)}]) from exc


def decode(raw: bytes, kind: type[T], *, aliases: dict[str, str] | None = None) -> T:
    """Decode a small request body into `kind`; every failure is a 422 with a JSON pointer."""
    return convert(decode_json(raw), kind, aliases=aliases)


def convert(data: Any, kind: type[T], *, aliases: dict[str, str] | None = None) -> T:
    """Convert decoded JSON into `kind` (see `decode`)."""
    if aliases and isinstance(data, dict):
        for alias, name in aliases.items():
            if alias in data and name not in data:
                data[name] = data.pop(alias)
    try:
        return msgspec.convert(data, kind)
    except msgspec.ValidationError as exc:
        text = str(exc)
        message = _AT.sub("", text)
        raise BulkInvalid(
            [{"pointer": pointer_of(text), "problem": _problem(text), "message": message}]
        ) from exc


def json_schema(kind: Any) -> dict[str, Any]:
    """A self-contained JSON Schema of a wire type (references inlined), for the OpenAPI document."""
    schema = msgspec.json.schema(kind)
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    result: dict[str, Any] = inline(schema)
    return result
