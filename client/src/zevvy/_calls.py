"""Each API operation as a description of its request and a parser of its answer.

`Client` and `AsyncClient` share these, so the two differ only in how they send and wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx

from zevvy._errors import BulkConflict, error_from_response
from zevvy._models import (
    BulkResult,
    Consumption,
    Device,
    ImportBatch,
    Measurement,
    Page,
    Register,
)
from zevvy._wire import Number, dumps, instant_text, loads, number_text

T = TypeVar("T")

MeasurementLike = Measurement | tuple[datetime | str, Number] | Mapping[str, Any]
"""A reading to send: a `Measurement`, a ``(read_at, value)`` pair, or ``{"readAt", "value"}``."""
TimeLike = datetime | date | str
"""An instant (aware datetime or RFC 3339 text) or a local date (``YYYY-MM-DD``)."""
OnConflict = Literal["keep", "overwrite"]

_JSON = {"Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request to the metering API (path relative to the API root) and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    ok: frozenset[int] = frozenset({200, 201})
    repeatable: bool = True
    """Safe to send again after a failure (reads, and bulk imports, which the server deduplicates)."""

    def build(self, api_url: str) -> httpx.Request:
        """The request against `api_url`."""
        headers = _JSON if self.content is not None else {"Accept": "application/json"}
        return httpx.Request(
            self.method,
            api_url + self.path,
            params=self.params or None,
            content=self.content,
            headers=headers,
        )

    def result(self, response: httpx.Response) -> T:
        """The parsed answer, or the matching `ZevvyError`."""
        if response.status_code not in self.ok:
            raise error_from_response(response)
        return self.parse(response)


def segment(value: str) -> str:
    """A reference as one path segment: everything but unreserved characters percent-encoded."""
    return quote(value, safe="")


def time_param(value: TimeLike) -> str:
    """A query value for an instant or a date."""
    if isinstance(value, datetime):
        return instant_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json(response: httpx.Response) -> Any:
    return loads(response.content)


def _page(parse: Callable[[Mapping[str, Any]], T]) -> Callable[[httpx.Response], Page[T]]:
    def read(response: httpx.Response) -> Page[T]:
        data = _json(response)
        if isinstance(data, list):
            return Page([parse(item) for item in data], None)
        cursor = data.get("nextCursor")
        return Page([parse(item) for item in data.get("items", [])], str(cursor) if cursor else None)

    return read


def _list_params(limit: int | None, cursor: str | None, **filters: str | None) -> dict[str, str]:
    params = {k: v for k, v in filters.items() if v is not None}
    if limit is not None:
        params["limit"] = str(limit)
    if cursor:
        params["cursor"] = cursor
    return params


# -- devices --------------------------------------------------------------------------------------
def create_device(name: str, reference: str | None) -> Call[Device]:
    """POST /devices."""
    body: dict[str, Any] = {"name": name}
    if reference is not None:
        body["reference"] = reference
    return Call(
        "POST",
        "/devices",
        lambda r: Device.from_json(_json(r)),
        content=dumps(body).encode(),
        ok=frozenset({200, 201}),
        repeatable=False,
    )


def list_devices(
    limit: int | None, cursor: str | None, name: str | None, reference: str | None, status: str | None
) -> Call[Page[Device]]:
    """GET /devices."""
    params = _list_params(limit, cursor, name=name, reference=reference, status=status)
    return Call("GET", "/devices", _page(Device.from_json), params=params)


def get_device(device_id: str) -> Call[Device]:
    """GET /devices/{id}."""
    return Call("GET", f"/devices/{segment(device_id)}", lambda r: Device.from_json(_json(r)))


def get_device_by_reference(reference: str) -> Call[Device]:
    """GET /deviceRef/{reference}."""
    return Call("GET", f"/deviceRef/{segment(reference)}", lambda r: Device.from_json(_json(r)))


# -- registers ------------------------------------------------------------------------------------
def create_register(
    device_id: str,
    name: str,
    reference: str | None,
    kind: str | None,
    period: str | None,
    unit: str | None,
    obis_code: str | None,
) -> Call[Register]:
    """POST /devices/{id}/registers."""
    fields = {
        "name": name,
        "reference": reference,
        "kind": kind,
        "period": period,
        "unit": unit,
        "obisCode": obis_code,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    return Call(
        "POST",
        f"/devices/{segment(device_id)}/registers",
        lambda r: Register.from_json(_json(r)),
        content=dumps(body).encode(),
        repeatable=False,
    )


def list_registers(device_id: str, limit: int | None, cursor: str | None) -> Call[Page[Register]]:
    """GET /devices/{id}/registers."""
    return Call(
        "GET",
        f"/devices/{segment(device_id)}/registers",
        _page(Register.from_json),
        params=_list_params(limit, cursor),
    )


def get_register(register_id: str) -> Call[Register]:
    """GET /registers/{id}."""
    return Call("GET", f"/registers/{segment(register_id)}", lambda r: Register.from_json(_json(r)))


# -- bulk import ----------------------------------------------------------------------------------
def readings_json(measurements: Iterable[MeasurementLike]) -> str:
    """``[{"readAt": ..., "value": ...}, ...]`` with exact numbers."""
    return "[" + ",".join(_reading(m) for m in measurements) + "]"


def _reading(item: MeasurementLike) -> str:
    if isinstance(item, Measurement):
        read_at: object = item.read_at
        value: object = item.value
    elif isinstance(item, tuple):
        read_at, value = item
    else:
        read_at = item.get("readAt", item.get("read_at"))
        value = item.get("value")
    if not isinstance(read_at, datetime | str):
        raise TypeError(f"readAt must be an aware datetime or RFC 3339 text, not {read_at!r}")
    return '{"readAt":' + dumps(instant_text(read_at)) + ',"value":' + number_text(value) + "}"


def _bulk_parse(raise_on_conflict: bool) -> Callable[[httpx.Response], BulkResult]:
    def read(response: httpx.Response) -> BulkResult:
        result = BulkResult.from_json(_json(response), status_code=response.status_code)
        if raise_on_conflict and result.has_conflicts:
            raise BulkConflict(result, response=response)
        return result

    return read


def _bulk_params(on_conflict: OnConflict, dry_run: bool) -> dict[str, str]:
    params: dict[str, str] = {}
    if on_conflict == "overwrite":
        params["onConflict"] = "overwrite"
    elif on_conflict != "keep":
        raise ValueError(f"on_conflict must be 'keep' or 'overwrite', not {on_conflict!r}")
    if dry_run:
        params["dryRun"] = "true"
    return params


def _bulk_call(path: str, params: dict[str, str], content: str, raise_on_conflict: bool) -> Call[BulkResult]:
    return Call(
        "POST",
        path,
        _bulk_parse(raise_on_conflict),
        params=params,
        content=content.encode(),
        # 409 carries a result like 201: the new rows of the batch are stored.
        ok=frozenset({200, 201, 409}),
    )


def bulk_create(
    device_ref: str,
    register_ref: str,
    measurements: Iterable[MeasurementLike],
    *,
    on_conflict: OnConflict,
    dry_run: bool,
    register_kind: str | None,
    period: str | None,
    unit: str | None,
    raise_on_conflict: bool,
) -> Call[BulkResult]:
    """POST /deviceRef/{d}/registerRef/{r}/measurements/_bulk_create."""
    params = _bulk_params(on_conflict, dry_run)
    extra = {"registerKind": register_kind, "period": period, "unit": unit}
    params.update({k: v for k, v in extra.items() if v is not None})
    path = f"/deviceRef/{segment(device_ref)}/registerRef/{segment(register_ref)}/measurements/_bulk_create"
    return _bulk_call(path, params, readings_json(measurements), raise_on_conflict)


def bulk_create_series(
    measurements: Iterable[MeasurementLike],
    *,
    device_name: str | None,
    device_reference: str | None,
    register_name: str | None,
    register_reference: str | None,
    on_conflict: OnConflict,
    dry_run: bool,
    register_kind: str | None,
    period: str | None,
    unit: str | None,
    raise_on_conflict: bool,
) -> Call[BulkResult]:
    """POST /measurements/_bulk_create with the device and register named in the body."""
    if device_name is None and device_reference is None:
        raise ValueError("give device_name or device_reference")
    if register_name is None and register_reference is None:
        raise ValueError("give register_name or register_reference")
    members = {
        "deviceName": device_name,
        "deviceReference": device_reference,
        "registerName": register_name,
        "registerReference": register_reference,
        "registerKind": register_kind,
        "period": period,
        "unit": unit,
    }
    head = ",".join(f"{dumps(k)}:{dumps(v)}" for k, v in members.items() if v is not None)
    body = "{" + head + ',"measurements":' + readings_json(measurements) + "}"
    return _bulk_call(
        "/measurements/_bulk_create", _bulk_params(on_conflict, dry_run), body, raise_on_conflict
    )


# -- readings -------------------------------------------------------------------------------------
def list_measurements(
    register_id: str, from_: TimeLike | None, to: TimeLike | None, limit: int | None, cursor: str | None
) -> Call[Page[Measurement]]:
    """GET /registers/{id}/measurements."""
    params = _list_params(limit, cursor)
    if from_ is not None:
        params["from"] = time_param(from_)
    if to is not None:
        params["to"] = time_param(to)
    return Call(
        "GET", f"/registers/{segment(register_id)}/measurements", _page(Measurement.from_json), params=params
    )


def consumption(
    register_id: str, from_: TimeLike, to: TimeLike, interval: str, time_zone: str | None
) -> Call[Consumption]:
    """GET /registers/{id}/consumption."""
    params = {"from": time_param(from_), "to": time_param(to), "interval": interval}
    if time_zone:
        params["timeZone"] = time_zone
    return Call(
        "GET",
        f"/registers/{segment(register_id)}/consumption",
        lambda r: Consumption.from_json(_json(r)),
        params=params,
    )


def list_imports(limit: int | None, cursor: str | None) -> Call[Page[ImportBatch]]:
    """GET /imports."""
    return Call("GET", "/imports", _page(ImportBatch.from_json), params=_list_params(limit, cursor))
