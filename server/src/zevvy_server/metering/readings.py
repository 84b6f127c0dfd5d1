"""Reading what was stored: raw readings, revisions, conflicts (and deciding them), import
batches and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import desc, select, update
from sqlalchemy.orm import Session

from zevvy_server.clock import Clock
from zevvy_server.identity.models import AuditEvent
from zevvy_server.identity.service import IdentityService
from zevvy_server.metering import rollup, rowstore
from zevvy_server.metering.common import Actor, Page, check_limit, decode_cursor, encode_cursor
from zevvy_server.metering.errors import ConflictNotFound, ConflictResolved, invalid
from zevvy_server.metering.models import (
    Device,
    ImportBatch,
    MeasurementConflict,
    MeasurementRevision,
    Register,
)
from zevvy_server.metering.periods import local_day_start
from zevvy_server.metering.registers import RegisterService
from zevvy_server.metering.values import (
    format_instant,
    instant_from_datetime,
    instant_to_datetime,
    parse_instant,
)

T = TypeVar("T")

MAX_CSV_ROWS = 100_000
CONFLICT_STATUSES = ("open", "accepted", "rejected", "all")


def zone(name: str, pointer: str = "/timeZone") -> tzinfo:
    """An IANA time zone such as Europe/Zurich; 422 when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(pointer, "unknown_time_zone", f"unknown time zone {name!r}") from None


def parse_bound(text: str, tz: tzinfo, pointer: str) -> int:
    """An RFC 3339 instant, or a ``YYYY-MM-DD`` date meaning its local midnight in `tz` (µs)."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return local_day_start(date.fromisoformat(text), tz)
        except ValueError:
            raise invalid(pointer, "invalid_date", f"not a date: {text!r}") from None
    try:
        return parse_instant(text)
    except ValueError:
        raise invalid(pointer, "invalid_instant", "an RFC 3339 instant with offset, or YYYY-MM-DD") from None


def parse_range(from_text: str | None, to_text: str | None, tz: tzinfo) -> tuple[int | None, int | None]:
    """Half-open [from, to) bounds (either may be open); 422 when from is not before to."""
    low = None if from_text is None else parse_bound(from_text, tz, "/from")
    high = None if to_text is None else parse_bound(to_text, tz, "/to")
    if low is not None and high is not None and low >= high:
        raise invalid("/to", "empty_range", "`to` must be after `from`")
    return low, high


@dataclass(frozen=True)
class ReadingPage:
    """Readings of one register, ascending, as parallel lists, and the next page's cursor."""

    register: Register
    instants: list[int]
    values: list[int]
    next_cursor: str | None


@dataclass(frozen=True)
class ConflictView:
    """A conflict with the value stored now (None if the reading was deleted since)."""

    conflict: MeasurementConflict
    stored_now: int | None


class ReadingService:
    """Reads of the acting organization's stored data, and conflict decisions."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.registers = RegisterService(session, clock)

    def readings(
        self,
        actor: Actor,
        register: Register,
        *,
        low: int | None,
        high: int | None,
        limit: int,
        cursor: str | None,
    ) -> ReadingPage:
        """Readings with low <= instant < high, ascending, `limit` per page."""
        after = decode_cursor("readings", cursor, int)
        if after is not None:
            low = after[0] + 1 if low is None else max(low, after[0] + 1)
        instants, values = rowstore.read_readings(self.session, register.key, low, high, limit=limit + 1)
        next_cursor = None
        if len(instants) > limit:
            instants, values = instants[:limit], values[:limit]
            next_cursor = encode_cursor("readings", [instants[-1]])
        return ReadingPage(register, instants, values, next_cursor)

    def revisions(
        self, actor: Actor, register_id: uuid.UUID, *, limit: int | None, cursor: str | None
    ) -> Page[MeasurementRevision]:
        """Replaced values of a register, newest first."""
        register = self.registers.get(actor, register_id)
        size = check_limit(limit)
        after = decode_cursor("revisions", cursor, int)
        query = select(MeasurementRevision).where(MeasurementRevision.register_key == register.key)
        if after is not None:
            query = query.where(MeasurementRevision.id < int(after[0]))
        rows = list(self.session.scalars(query.order_by(desc(MeasurementRevision.id)).limit(size + 1)))
        return _page(rows, size, "revisions", lambda r: [r.id])

    def conflicts(
        self, actor: Actor, register_id: uuid.UUID, *, status: str, limit: int | None, cursor: str | None
    ) -> Page[ConflictView]:
        """Conflicts of a register by instant (open ones unless `status` says otherwise)."""
        if status not in CONFLICT_STATUSES:
            raise invalid("/status", "invalid", "status must be open, accepted, rejected or all")
        register = self.registers.get(actor, register_id)
        size = check_limit(limit)
        after = decode_cursor("conflicts", cursor, int, int)
        query = select(MeasurementConflict).where(MeasurementConflict.register_key == register.key)
        if status != "all":
            query = query.where(MeasurementConflict.status == status)
        if after is not None:
            query = query.where(
                (MeasurementConflict.read_at > after[0])
                | ((MeasurementConflict.read_at == after[0]) & (MeasurementConflict.sent_value > after[1]))
            )
        rows = self.session.scalars(
            query.order_by(MeasurementConflict.read_at, MeasurementConflict.sent_value).limit(size + 1)
        ).all()
        stored = rowstore.values_at(self.session, register.key, [row.read_at for row in rows])
        views = [ConflictView(row, stored.get(row.read_at)) for row in rows]
        return _page(views, size, "conflicts", lambda v: [v.conflict.read_at, v.conflict.sent_value])

    def decide(
        self, actor: Actor, register_id: uuid.UUID, conflict_id: uuid.UUID, *, accept: bool
    ) -> ConflictView:
        """Accept (apply the sent value, keeping the stored one as a revision) or reject an open
        conflict; audited. 409 `conflict_resolved` when it was decided already."""
        actor.require_writer()
        register = self.registers.get_for_update(actor, register_id)
        conflict = self.session.scalar(
            select(MeasurementConflict)
            .where(MeasurementConflict.id == conflict_id, MeasurementConflict.register_key == register.key)
            .with_for_update()
        )
        if conflict is None:
            raise ConflictNotFound()
        if conflict.status != "open":
            raise ConflictResolved(conflict.status)
        now = self.clock.now()
        stored = rowstore.values_at(self.session, register.key, [conflict.read_at]).get(conflict.read_at)
        if accept:
            if stored is None:
                rowstore.insert_readings(
                    self.session, register.key, [conflict.read_at], [conflict.sent_value]
                )
            elif stored != conflict.sent_value:
                rowstore.update_readings(
                    self.session, register.key, [conflict.read_at], [conflict.sent_value]
                )
                self.session.add(
                    MeasurementRevision(
                        register_key=register.key,
                        read_at=conflict.read_at,
                        old_value=stored,
                        new_value=conflict.sent_value,
                        reason="conflict_accepted",
                        import_id=None,
                        conflict_id=conflict.id,
                        user_id=actor.user_id,
                        client_id=actor.client_id,
                        replaced_at=now,
                    )
                )
            rollup.rebuild(self.session, register.key, conflict.read_at, conflict.read_at)
            if register.last_read_at is None or conflict.read_at >= register.last_read_at:
                self.session.execute(
                    update(Register)
                    .where(Register.key == register.key)
                    .values(last_read_at=conflict.read_at, last_value=conflict.sent_value)
                )
                self.session.execute(
                    update(Device)
                    .where(
                        Device.id == register.device_id,
                        Device.last_read_at.is_(None) | (Device.last_read_at < conflict.read_at),
                    )
                    .values(last_read_at=conflict.read_at)
                )
            stored_now: int | None = conflict.sent_value
        else:
            stored_now = stored
        conflict.status = "accepted" if accept else "rejected"
        conflict.resolved_at = now
        conflict.resolved_by = actor.user_id
        conflict.resolved_client_id = actor.client_id
        self.session.flush()
        IdentityService(self.session, self.clock).audit(
            "conflict.accepted" if accept else "conflict.rejected",
            organization_id=actor.organization_id,
            user_id=actor.user_id,
            client_id=actor.client_id,
            target=f"register:{register.id}",
            details={
                "conflictId": str(conflict.id),
                "readAt": format_instant(conflict.read_at),
                "storedValue": stored,
                "sentValue": conflict.sent_value,
            },
        )
        return ConflictView(conflict, stored_now)

    def imports(self, actor: Actor, *, limit: int | None, cursor: str | None) -> Page[ImportBatch]:
        """Import batches of the organization, newest first."""
        size = check_limit(limit)
        after = decode_cursor("imports", cursor, str, str)
        query = select(ImportBatch).where(ImportBatch.organization_id == actor.organization_id)
        if after is not None:
            try:
                stamp, last_id = instant_to_datetime(parse_instant(after[0])), uuid.UUID(after[1])
            except (ValueError, TypeError):
                raise invalid(
                    "/cursor", "invalid_cursor", "the cursor does not belong to this list"
                ) from None
            query = query.where(
                (ImportBatch.created_at < stamp)
                | ((ImportBatch.created_at == stamp) & (ImportBatch.id < last_id))
            )
        rows = list(
            self.session.scalars(
                query.order_by(desc(ImportBatch.created_at), desc(ImportBatch.id)).limit(size + 1)
            )
        )
        return _page(rows, size, "imports", lambda b: [_stamp_text(b.created_at), str(b.id)])

    def audit(
        self, actor: Actor, *, action: str | None, limit: int | None, cursor: str | None
    ) -> Page[AuditEvent]:
        """The organization's audit log, newest first; `action` filters by prefix."""
        size = check_limit(limit)
        after = decode_cursor("audit", cursor, int)
        query = select(AuditEvent).where(AuditEvent.organization_id == actor.organization_id)
        if action:
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        if after is not None:
            query = query.where(AuditEvent.id < int(after[0]))
        rows = list(self.session.scalars(query.order_by(desc(AuditEvent.id)).limit(size + 1)))
        return _page(rows, size, "audit", lambda e: [e.id])


def _page(rows: Sequence[T], size: int, kind: str, key: Callable[[T], list[Any]]) -> Page[T]:
    items = list(rows[:size])
    cursor = encode_cursor(kind, key(items[-1])) if len(rows) > size else None
    return Page(items, cursor)


def _stamp_text(moment: datetime) -> str:
    return format_instant(instant_from_datetime(moment))
