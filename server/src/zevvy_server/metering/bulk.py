"""Bulk-import requests end to end: decode and validate the body, store it, shape the answer.

The body is validated as a whole before anything is looked up (422 with JSON pointers, 413 over
the reading limit); the route has already bounded its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from zevvy_server.clock import Clock
from zevvy_server.metering import codec
from zevvy_server.metering.common import Actor
from zevvy_server.metering.errors import BulkInvalid, PayloadTooLarge, invalid
from zevvy_server.metering.ingest import (
    IngestOptions,
    IngestOutcome,
    IngestService,
    SeriesIn,
    SeriesOutcome,
    admit,
)
from zevvy_server.metering.models import KINDS
from zevvy_server.metering.periods import parse_period
from zevvy_server.metering.resolve import Address
from zevvy_server.metering.schemas import BulkListResult, BulkResult, BulkTotals, ConflictSample, SeriesRef
from zevvy_server.metering.values import parse_instant
from zevvy_server.metering.views import instant, number
from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database
from zevvy_server.storage.transactions import run_write


@dataclass(frozen=True)
class PathTarget:
    """The path form's register address and its creation-only options (query parameters)."""

    device_reference: str
    register_reference: str
    register_kind: str | None = None
    period: str | None = None
    unit: str | None = None


def limits(settings: Settings, clock: Clock) -> codec.Limits:
    """What one request may carry, per the settings, around the current time."""
    return codec.Limits(
        now_us=int(clock.time() * 1_000_000),
        min_us=parse_instant(settings.earliest_reading),
        max_ahead_us=settings.max_future_seconds * 1_000_000,
        max_readings=settings.max_readings_per_request,
    )


def _invalid(exc: codec.BodyInvalid) -> BulkInvalid:
    return BulkInvalid(exc.details(), total=exc.total, code=exc.code)


def decode_path_form(body: bytes, target: PathTarget, settings: Settings, clock: Clock) -> list[SeriesIn]:
    """The one series of a path-form request."""
    if target.register_kind is not None and target.register_kind not in KINDS:
        raise invalid("/registerKind", "unknown_kind", "registerKind must be counter or interval")
    period = None
    if target.period is not None:
        try:
            period = parse_period(target.period).iso
        except ValueError:
            raise invalid("/period", "invalid_period", "not a supported period") from None
    try:
        series = codec.decode_path_body(body, limits(settings, clock))
    except codec.TooManyReadings:
        raise PayloadTooLarge(settings.max_readings_per_request, settings.max_body_bytes) from None
    except codec.BodyInvalid as exc:
        raise _invalid(exc) from None
    address = Address(
        pointer="",
        device_reference=target.device_reference,
        device_name=None,
        register_reference=target.register_reference,
        register_name=None,
        kind=target.register_kind,
        period=period,
        unit=target.unit,
    )
    return [SeriesIn(address, series.instants, series.values, readings_pointer="")]


def decode_body_form(body: bytes, settings: Settings, clock: Clock) -> tuple[list[SeriesIn], bool]:
    """The series of a body-form request and whether it used the list form."""
    try:
        specs, is_list = codec.decode_body_form(body, limits(settings, clock))
    except codec.TooManyReadings:
        raise PayloadTooLarge(settings.max_readings_per_request, settings.max_body_bytes) from None
    except codec.BodyInvalid as exc:
        raise _invalid(exc) from None
    result = []
    for index, spec in enumerate(specs):
        address = Address(
            pointer=f"/{index}" if is_list else "",
            device_reference=spec.device_reference,
            device_name=spec.device_name,
            register_reference=spec.register_reference,
            register_name=spec.register_name,
            kind=spec.register_kind,
            period=None if spec.period is None else spec.period.iso,
            unit=spec.unit,
        )
        result.append(SeriesIn(address, spec.instants, spec.values))
    return result, is_list


def store(
    db: Database, clock: Clock, actor: Actor, series: list[SeriesIn], options: IngestOptions
) -> IngestOutcome:
    """Admit the request, then store its series in one transaction, retried on lock races."""
    admit(actor, options, clock.time())
    return run_write(db, lambda session: IngestService(session, clock).ingest(actor, series, options))


def _result(outcome: SeriesOutcome, import_id: object, dry_run: bool) -> BulkResult:
    resolved, address = outcome.resolved, outcome.address
    device, register = resolved.device, resolved.register
    return BulkResult(
        import_id=import_id,  # type: ignore[arg-type]
        created=outcome.created,
        unchanged=outcome.unchanged,
        overwritten=outcome.overwritten,
        conflicts=outcome.conflicts,
        device=SeriesRef(
            id=None if device is None else device.id,
            reference=address.device_reference if device is None else device.reference,
            name=(address.device_name or address.device_reference or "") if device is None else device.name,
            created=resolved.device_created,
        ),
        register=SeriesRef(
            id=None if register is None else register.id,
            reference=address.register_reference if register is None else register.reference,
            name=(address.register_name or address.register_reference or "")
            if register is None
            else register.name,
            created=resolved.register_created,
        ),
        conflict_samples=[
            ConflictSample(read_at=instant(at), stored_value=number(old), sent_value=number(new))
            for at, old, new in outcome.samples
        ],
        dry_run=dry_run,
    )


def answer(
    outcome: IngestOutcome, *, is_list: bool, dry_run: bool
) -> tuple[BulkResult | BulkListResult, int]:
    """The response body and status: 201 without conflicts, 409 with at least one."""
    status = 409 if outcome.conflicts else 201
    results = [_result(s, outcome.import_id, dry_run) for s in outcome.series]
    if not is_list:
        return results[0], status
    totals = BulkTotals(
        created=sum(r.created for r in results),
        unchanged=sum(r.unchanged for r in results),
        overwritten=sum(r.overwritten for r in results),
        conflicts=sum(r.conflicts for r in results),
    )
    return BulkListResult(
        import_id=outcome.import_id, results=results, totals=totals, dry_run=dry_run
    ), status


def import_path_form(
    db: Database,
    clock: Clock,
    settings: Settings,
    actor: Actor,
    body: bytes,
    target: PathTarget,
    options: IngestOptions,
) -> tuple[BulkResult | BulkListResult, int]:
    """A path-form request end to end: the answer and its status."""
    series = decode_path_form(body, target, settings, clock)
    return answer(store(db, clock, actor, series, options), is_list=False, dry_run=options.dry_run)


def import_body_form(
    db: Database, clock: Clock, settings: Settings, actor: Actor, body: bytes, options: IngestOptions
) -> tuple[BulkResult | BulkListResult, int]:
    """A body-form request end to end: the answer and its status."""
    series, is_list = decode_body_form(body, settings, clock)
    return answer(store(db, clock, actor, series, options), is_list=is_list, dry_run=options.dry_run)
