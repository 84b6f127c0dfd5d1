"""Bulk import: the heart of the product.

One request is one transaction. For each series: find or create its device and register, then
classify every reading against what is stored — a new instant is stored (`created`), the same
value again does nothing (`unchanged`), a different value is kept as an open conflict for review
(`conflicts`) or, with ``onConflict=overwrite``, applied with the old value kept as a revision
(`overwritten`). The register's latest reading, the import batch (who, which client, when,
counts) and the audit events are written in the same transaction.

Per register: the transaction locks the register row (PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
holds the database), reads the stored readings in the batch's range (skipped when the batch
starts after the latest stored reading; a batch equal to what is stored is recognised as a
whole), diffs in Python, and writes only the new rows with multi-row INSERT statements (SQLite)
or ``COPY`` (PostgreSQL), see `rowstore`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.metering import periods, quota, rollup, rowstore
from zevvy_server.metering.common import Actor
from zevvy_server.metering.errors import BulkInvalid
from zevvy_server.metering.models import (
    Device,
    ImportBatch,
    MeasurementConflict,
    MeasurementRevision,
    Register,
)
from zevvy_server.metering.resolve import Address, RegisterRef, Resolved, Resolver
from zevvy_server.metering.values import format_instant

MAX_SAMPLES = 100

# Core statements built once and executed on the connection: the ORM's bulk UPDATE would also
# search the session for objects to synchronize, which costs more than the update itself.
_SET_REGISTER_LATEST = (
    update(Register)
    .where(Register.key == bindparam("register_key"))
    .values(last_read_at=bindparam("newest"), last_value=bindparam("newest_value"))
)
_SET_DEVICE_LATEST = (
    update(Device)
    .where(
        Device.id == bindparam("latest_device_id"),
        Device.last_read_at.is_(None) | (Device.last_read_at < bindparam("device_newest")),
    )
    .values(last_read_at=bindparam("device_newest"))
)
# Parameter names that are no column name of these tables: SQLAlchemy would add such a
# parameter to the SET list of an UPDATE executed with it.
_INSERT_BATCH = insert(ImportBatch).values(
    {column.key: bindparam(f"batch_{column.key}", type_=column.type) for column in ImportBatch.__table__.c}
)
# PostgreSQL: an import of one register ends with one statement instead of three (each a round
# trip): the register's and the device's latest reading as data-modifying CTEs of the batch's
# INSERT. Keyed by (register update, device update).
_FINISH_IN_ONE = {
    (register, device): _INSERT_BATCH.add_cte(
        *([_SET_REGISTER_LATEST.cte("set_register_latest")] if register else []),
        *([_SET_DEVICE_LATEST.cte("set_device_latest")] if device else []),
    )
    for register in (True, False)
    for device in (True, False)
}
GRID_ZONE: tzinfo = ZoneInfo("Europe/Zurich")


@dataclass(frozen=True)
class SeriesIn:
    """One series of a request: where it goes and its readings (ascending, unique instants)."""

    address: Address
    instants: list[int]
    values: list[int]
    # Where the readings sit in the body, for error details ("" for the path form's array).
    readings_pointer: str | None = None

    @property
    def pointer(self) -> str:
        """The JSON pointer of this series' readings array."""
        if self.readings_pointer is not None:
            return self.readings_pointer
        return f"{self.address.pointer}/measurements"


@dataclass(frozen=True)
class IngestOptions:
    """How conflicts are treated, whether anything is written, and the client's quota."""

    overwrite: bool = False
    dry_run: bool = False
    requests_per_minute: int = 0  # 0: no quota; counted by `admit`


@dataclass
class SeriesOutcome:
    """What happened to one series."""

    resolved: Resolved
    address: Address
    created: int = 0
    unchanged: int = 0
    overwritten: int = 0
    conflicts: int = 0
    samples: list[tuple[int, int, int]] = field(default_factory=list)  # (instant, stored, sent)


@dataclass
class IngestOutcome:
    """What happened to a request."""

    import_id: uuid.UUID | None
    series: list[SeriesOutcome]

    @property
    def conflicts(self) -> int:
        """Readings not applied because another value is stored."""
        return sum(s.conflicts for s in self.series)


def _require_rights(actor: Actor, options: IngestOptions) -> None:
    actor.require_scope("measurement")
    if not options.dry_run:
        actor.require_writer()


def admit(actor: Actor, options: IngestOptions, now: float) -> None:
    """The checks made once per request, before its transaction: the token's scope, the
    member's role, then the client's import quota. Counted here and not in the transaction,
    which runs again after a lock race or a failed shared COMMIT: a request counts once."""
    _require_rights(actor, options)
    quota.IMPORTS.check(f"{actor.client_id}:{actor.organization_id}", options.requests_per_minute, now)


class IngestService:
    """Stores readings for the acting organization, within one write transaction."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        # The registers' new latest readings, written with the import batch (`_finish`).
        self._register_updates: dict[int, dict[str, int]] = {}

    def ingest(self, actor: Actor, series: list[SeriesIn], options: IngestOptions) -> IngestOutcome:
        """Store a request's series (all or nothing; the caller's transaction commits). The
        caller has admitted the request (`admit`): this may run more than once for it."""
        _require_rights(actor, options)
        resolver = Resolver(self.session, self.clock, actor, dry_run=options.dry_run)
        # One series: its register is locked by the look-up itself. Several: all of them are
        # locked afterwards in key order, so that concurrent requests never deadlock.
        single = len(series) == 1
        outcomes = [SeriesOutcome(resolver.resolve(s.address, lock=single), s.address) for s in series]
        self._check_together(series, outcomes)
        import_id = None if options.dry_run else uuid.uuid4()
        keys = [o.resolved.register.key for o in outcomes if o.resolved.register is not None]
        known = outcomes[0].resolved.latest if single else None
        if known is not None:
            latest = {keys[0]: known}
        else:
            latest = rowstore.lock_registers(self.session, keys) if keys else {}
        for item, outcome in zip(series, outcomes, strict=True):
            register = outcome.resolved.register
            if register is None:  # dry run: the register would be created
                outcome.created = len(item.instants)
                continue
            self._apply(actor, register, item, outcome, latest, options, import_id)
        if import_id is not None:
            self._finish(actor, outcomes, latest, options, import_id, sum(len(s.instants) for s in series))
        return IngestOutcome(import_id, outcomes)

    # -- checks -----------------------------------------------------------------------------------
    def _check_together(self, series: list[SeriesIn], outcomes: list[SeriesOutcome]) -> None:
        """Rules that need the registers: the same instant with two values in two series of one
        register, and interval readings off their period's grid."""
        problems: list[dict[str, str]] = []
        seen: dict[int, dict[int, int]] = {}
        duplicates = False
        for item, outcome in zip(series, outcomes, strict=True):
            register = outcome.resolved.register
            if register is None:
                kind, period_text, key = item.address.kind or "counter", item.address.period or "PT15M", None
            else:
                kind, period_text, key = register.kind, register.period, register.key
            base = item.pointer
            if key is not None and len(series) > 1:
                earlier = seen.setdefault(key, {})
                for instant, value in zip(item.instants, item.values, strict=True):
                    stored = earlier.setdefault(instant, value)
                    if stored != value:
                        duplicates = True
                        problems.append(
                            {
                                "pointer": base,
                                "problem": "duplicate_instant",
                                "readAt": format_instant(instant),
                            }
                        )
            if kind == "interval" and item.instants:
                period = periods.parse_period(period_text)
                for index in periods.off_grid(item.instants, period, GRID_ZONE):
                    problems.append(
                        {
                            "pointer": base,
                            "problem": "off_grid",
                            "readAt": format_instant(item.instants[index]),
                        }
                    )
        if problems:
            only_duplicates = duplicates and all(p["problem"] == "duplicate_instant" for p in problems)
            raise BulkInvalid(problems, code="duplicate_instant" if only_duplicates else "validation_failed")

    # -- writing ----------------------------------------------------------------------------------
    def _apply(
        self,
        actor: Actor,
        register: RegisterRef,
        item: SeriesIn,
        outcome: SeriesOutcome,
        latest: dict[int, tuple[int | None, int | None]],
        options: IngestOptions,
        import_id: uuid.UUID | None,
    ) -> None:
        instants, values = item.instants, item.values
        if not instants:
            return
        key = register.key
        last_read_at, _ = latest.get(key, (None, None))
        stored: list[tuple[int, int]] = []
        resent = prefix = False
        if last_read_at is None or instants[0] > last_read_at:
            pass  # all after the latest stored reading: all new
        elif instants[-1] <= last_read_at and rowstore.holds_exactly(self.session, key, instants, values):
            resent = True
        else:
            stored = rowstore.stored_range(self.session, key, instants[0], instants[-1])
            held = len(stored)
            resent = held == len(instants) and stored == list(zip(instants, values, strict=True))
            # The batch begins with exactly the stored readings of its range (a gateway sending
            # again the end of what it sent before, then new readings): the rest is new.
            prefix = 0 < held < len(instants) and stored == list(
                zip(instants[:held], values[:held], strict=True)
            )
        changed: list[tuple[int, int, int]] = []
        if resent:
            # A re-send of stored readings (both ascending): all unchanged, compared in C.
            new_instants, new_values = [], []
            outcome.unchanged = len(instants)
        elif prefix:
            new_instants, new_values = instants[held:], values[held:]
            outcome.unchanged = held
        elif not stored:
            new_instants, new_values = instants, values
        else:
            new_instants, new_values = [], []
            get = dict(stored).get
            unchanged = 0
            for instant, value in zip(instants, values, strict=True):
                old = get(instant)
                if old is None:
                    new_instants.append(instant)
                    new_values.append(value)
                elif old == value:
                    unchanged += 1
                else:
                    changed.append((instant, old, value))
            outcome.unchanged = unchanged
        outcome.created = len(new_instants)
        outcome.samples = changed[:MAX_SAMPLES]
        if options.overwrite:
            outcome.overwritten = len(changed)
        else:
            outcome.conflicts = len(changed)
        if import_id is None:
            return
        overwrites = bool(changed) and options.overwrite
        appends = bool(new_instants) and (last_read_at is None or new_instants[0] > last_read_at)
        rowstore.insert_readings(self.session, key, new_instants, new_values, appending=appends)
        touched = [new_instants[-1]] if new_instants else []
        if overwrites:
            self._overwrite(actor, register, changed, import_id)
            touched.append(changed[-1][0])
            low = min(changed[0][0], new_instants[0]) if new_instants else changed[0][0]
            rollup.rebuild(self.session, key, low, max(touched))
        elif appends:
            rollup.appended(self.session, key, rollup.summarize(new_instants, new_values))
        elif new_instants:
            rollup.rebuild(self.session, key, new_instants[0], new_instants[-1])
        if changed and not options.overwrite:
            self._record_conflicts(key, changed, import_id)
        if touched:
            newest = max(touched)
            last_read_at = latest.get(key, (None, None))[0]
            if last_read_at is None or newest >= last_read_at:
                value = stored_value_after(newest, new_instants, new_values, changed, options.overwrite)
                latest[key] = (newest, value)
                self._register_updates[key] = {"register_key": key, "newest": newest, "newest_value": value}

    def _overwrite(
        self, actor: Actor, register: RegisterRef, changed: list[tuple[int, int, int]], import_id: uuid.UUID
    ) -> None:
        key = register.key
        rowstore.update_readings(self.session, key, [c[0] for c in changed], [c[2] for c in changed])
        now = self.clock.now()
        self.session.execute(
            insert(MeasurementRevision),
            [
                {
                    "register_key": key,
                    "read_at": instant,
                    "old_value": old,
                    "new_value": new,
                    "reason": "overwrite",
                    "import_id": import_id,
                    "conflict_id": None,
                    "user_id": actor.user_id,
                    "client_id": actor.client_id,
                    "replaced_at": now,
                }
                for instant, old, new in changed
            ],
        )
        # Open conflicts that asked for exactly the value now stored are settled by it.
        open_rows = self.session.execute(
            select(MeasurementConflict.id, MeasurementConflict.read_at, MeasurementConflict.sent_value).where(
                MeasurementConflict.register_key == key,
                MeasurementConflict.status == "open",
                MeasurementConflict.read_at.between(changed[0][0], changed[-1][0]),
            )
        ).all()
        applied = {(instant, new) for instant, _, new in changed}
        settled = [{"id": row.id} for row in open_rows if (row.read_at, row.sent_value) in applied]
        if settled:
            self.session.execute(
                update(MeasurementConflict),
                [
                    {
                        **row,
                        "status": "accepted",
                        "resolved_at": now,
                        "resolved_by": actor.user_id,
                        "resolved_client_id": actor.client_id,
                    }
                    for row in settled
                ],
            )
        IdentityService(self.session, self.clock).audit(
            "measurements.overwritten",
            organization_id=actor.organization_id,
            user_id=actor.user_id,
            client_id=actor.client_id,
            target=f"register:{register.id}",
            details={
                "importId": str(import_id),
                "count": len(changed),
                "from": format_instant(changed[0][0]),
                "to": format_instant(changed[-1][0]),
            },
        )

    def _record_conflicts(self, key: int, changed: list[tuple[int, int, int]], import_id: uuid.UUID) -> None:
        """One record per (register, instant, sent value): new ones open, known ones count up.
        A rejected value sent again stays rejected (counted); an accepted one that differs from
        the stored value again is reopened."""
        now = self.clock.now()
        known = {
            (row.read_at, row.sent_value): row
            for row in self.session.execute(
                select(
                    MeasurementConflict.id,
                    MeasurementConflict.read_at,
                    MeasurementConflict.sent_value,
                    MeasurementConflict.status,
                    MeasurementConflict.count.label("seen"),
                ).where(
                    MeasurementConflict.register_key == key,
                    MeasurementConflict.read_at.between(changed[0][0], changed[-1][0]),
                )
            ).all()
        }
        updates = []
        inserts = []
        for instant, old, sent in changed:
            row = known.get((instant, sent))
            if row is None:
                inserts.append(
                    {
                        "id": uuid.uuid4(),
                        "register_key": key,
                        "read_at": instant,
                        "sent_value": sent,
                        "stored_value": old,
                        "count": 1,
                        "first_seen_at": now,
                        "last_seen_at": now,
                        "last_import_id": import_id,
                        "status": "open",
                    }
                )
            else:
                updates.append(
                    {
                        "id": row.id,
                        "count": row.seen + 1,
                        "stored_value": old,
                        "last_seen_at": now,
                        "last_import_id": import_id,
                        "status": "open" if row.status == "accepted" else row.status,
                    }
                )
        if inserts:
            # Core executemany, not the ORM's bulk insert: a full re-send with another unit can
            # open tens of thousands of conflicts at once.
            self.session.connection().execute(insert(MeasurementConflict), inserts)
        if updates:
            self.session.execute(update(MeasurementConflict), updates)

    def _finish(
        self,
        actor: Actor,
        outcomes: list[SeriesOutcome],
        latest: dict[int, tuple[int | None, int | None]],
        options: IngestOptions,
        import_id: uuid.UUID,
        readings: int,
    ) -> None:
        newest_per_device: dict[uuid.UUID, int] = {}
        for outcome in outcomes:
            register = outcome.resolved.register
            assert register is not None
            newest = latest.get(register.key, (None, None))[0]
            if newest is not None:
                device_id = register.device_id
                newest_per_device[device_id] = max(newest, newest_per_device.get(device_id, newest))
        register_ids: list[str] = []
        for outcome in outcomes:
            assert outcome.resolved.register is not None
            text = str(outcome.resolved.register.id)
            if text not in register_ids:
                register_ids.append(text)
        batch = {
            "batch_id": import_id,
            "batch_organization_id": actor.organization_id,
            "batch_user_id": actor.user_id,
            "batch_client_id": actor.client_id,
            "batch_created_at": self.clock.now(),
            "batch_on_conflict": "overwrite" if options.overwrite else "keep",
            "batch_series": len(outcomes),
            "batch_readings": readings,
            "batch_created": sum(o.created for o in outcomes),
            "batch_unchanged": sum(o.unchanged for o in outcomes),
            "batch_overwritten": sum(o.overwritten for o in outcomes),
            "batch_conflicts": sum(o.conflicts for o in outcomes),
            "batch_register_ids": register_ids,
        }
        registers = list(self._register_updates.values())
        devices = [
            {"latest_device_id": device_id, "device_newest": newest_per_device[device_id]}
            for device_id in sorted(newest_per_device)
        ]
        connection = self.session.connection()
        if connection.dialect.name == "postgresql" and len(registers) <= 1 and len(devices) <= 1:
            statement = _FINISH_IN_ONE[(bool(registers), bool(devices))]
            connection.execute(
                statement, {**batch, **(registers[0] if registers else {}), **(devices[0] if devices else {})}
            )
            return
        for register_params in registers:
            connection.execute(_SET_REGISTER_LATEST, register_params)
        for device_params in devices:
            connection.execute(_SET_DEVICE_LATEST, device_params)
        connection.execute(_INSERT_BATCH, batch)


def stored_value_after(
    instant: int,
    new_instants: list[int],
    new_values: list[int],
    changed: list[tuple[int, int, int]],
    overwrite: bool,
) -> int:
    """The value stored at `instant` once this series is applied (it was created or overwritten)."""
    if new_instants and new_instants[-1] == instant:
        return new_values[-1]
    for at, old, new in reversed(changed):
        if at == instant:
            return new if overwrite else old
    raise AssertionError("the instant was neither created nor overwritten")
