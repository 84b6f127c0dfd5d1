"""The ingest service on the real database, without HTTP: classification, several series of one
register, quotas, dry runs, conflict records across decisions, the register's latest reading."""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import LiveServer, unique
from zevvy_server.errors import InsufficientScope, PermissionDenied, RateLimited
from zevvy_server.identity.models import Organization
from zevvy_server.metering import blockstore, bulk, rollup, rowinsert, rowstore
from zevvy_server.metering.common import Actor, decode_cursor, encode_cursor
from zevvy_server.metering.errors import BulkInvalid
from zevvy_server.metering.ingest import IngestOptions, IngestOutcome, IngestService, SeriesIn
from zevvy_server.metering.models import ImportBatch, MeasurementBlock, MeasurementConflict, Register
from zevvy_server.metering.readings import ReadingService
from zevvy_server.metering.resolve import Address
from zevvy_server.storage.engine import Database
from zevvy_server.storage.transactions import run_write

HOUR = 3_600_000_000
T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
ALL = frozenset({"device", "register", "measurement"})


@pytest.fixture
def actor(make_org: Callable[..., Organization]) -> Actor:
    """An editor of a new organization with every metering scope."""
    return Actor(make_org().id, None, unique("client"), ALL, "editor")


def series(device: str, register: str, points: list[tuple[int, int]], **address: Any) -> SeriesIn:
    """A series addressed by references; points are (hour, value)."""
    return SeriesIn(
        Address("", device, None, register, None, **address),
        [T0 + h * HOUR for h, _ in points],
        [v * 1_000_000 for _, v in points],
    )


def ingest(
    live_server: LiveServer, actor: Actor, items: list[SeriesIn], options: IngestOptions | None = None
) -> IngestOutcome:
    """Run one request through the service in a write transaction."""
    return run_write(
        live_server.db,
        lambda session: IngestService(session, live_server.clock).ingest(
            actor, items, options or IngestOptions()
        ),
    )


def readings(db: Database, register_key: int) -> dict[int, int]:
    """Stored readings of a register, by hour and in units."""
    with db.read() as session:
        instants, values = rowstore.read_readings(session, register_key, None, None)
    return {(t - T0) // HOUR: v // 1_000_000 for t, v in zip(instants, values, strict=True)}


def test_rows_are_created_unchanged_or_conflicting(live_server: LiveServer, actor: Actor) -> None:
    first = ingest(live_server, actor, [series("d", "r", [(0, 1), (1, 2), (2, 3)])])
    assert (first.series[0].created, first.conflicts) == (3, 0)
    second = ingest(live_server, actor, [series("d", "r", [(1, 2), (2, 30), (3, 4)])])
    outcome = second.series[0]
    assert (outcome.created, outcome.unchanged, outcome.conflicts) == (1, 1, 1)
    assert outcome.samples == [(T0 + 2 * HOUR, 3_000_000, 30_000_000)]
    register = outcome.resolved.register
    assert register is not None
    assert readings(live_server.db, register.key) == {0: 1, 1: 2, 2: 3, 3: 4}


def test_two_series_of_one_register_in_one_request_see_each_other(
    live_server: LiveServer, actor: Actor
) -> None:
    outcome = ingest(
        live_server,
        actor,
        [series("d", "r", [(0, 1), (1, 2)]), series("d", "r", [(1, 2), (2, 3)])],
    )
    assert [(s.created, s.unchanged) for s in outcome.series] == [(2, 0), (1, 1)]
    with pytest.raises(BulkInvalid) as caught:
        ingest(live_server, actor, [series("d", "r", [(5, 1)]), series("d", "r", [(5, 2)])])
    assert caught.value.code == "duplicate_instant"


def test_latest_reading_follows_appends_and_overwrites_but_not_older_rows(
    live_server: LiveServer, actor: Actor
) -> None:
    ingest(live_server, actor, [series("d", "r", [(5, 50)])])
    ingest(live_server, actor, [series("d", "r", [(1, 10)])])
    outcome = ingest(live_server, actor, [series("d", "r", [(5, 55)])], IngestOptions(overwrite=True))
    assert outcome.series[0].overwritten == 1
    with live_server.db.read() as session:
        register = session.scalar(select(Register).where(Register.organization_id == actor.organization_id))
        assert register is not None
        assert (register.last_read_at, register.last_value) == (T0 + 5 * HOUR, 55_000_000)


def test_conflict_records_count_resends_and_respect_decisions(live_server: LiveServer, actor: Actor) -> None:
    ingest(live_server, actor, [series("d", "r", [(0, 1)])])
    for _ in range(3):
        ingest(live_server, actor, [series("d", "r", [(0, 2)])])
    ingest(live_server, actor, [series("d", "r", [(0, 3)])])
    with live_server.db.read() as session:
        rows = session.execute(
            select(MeasurementConflict.sent_value, MeasurementConflict.count, MeasurementConflict.status)
            .join(Register, Register.key == MeasurementConflict.register_key)
            .where(Register.organization_id == actor.organization_id)
            .order_by(MeasurementConflict.sent_value)
        ).all()
    assert [tuple(r) for r in rows] == [(2_000_000, 3, "open"), (3_000_000, 1, "open")]

    def decide(session: Session, sent: int, accept: bool) -> None:
        register = session.scalar(select(Register).where(Register.organization_id == actor.organization_id))
        assert register is not None
        conflict = session.scalar(
            select(MeasurementConflict).where(
                MeasurementConflict.register_key == register.key, MeasurementConflict.sent_value == sent
            )
        )
        assert conflict is not None
        ReadingService(session, live_server.clock).decide(actor, register.id, conflict.id, accept=accept)

    run_write(live_server.db, lambda s: decide(s, 2_000_000, True))  # stored value becomes 2
    run_write(live_server.db, lambda s: decide(s, 3_000_000, False))
    again = ingest(live_server, actor, [series("d", "r", [(0, 3)])])
    assert again.conflicts == 1  # still differs from what is stored, but stays rejected
    back = ingest(live_server, actor, [series("d", "r", [(0, 1)])])
    assert back.conflicts == 1  # the original value is now a conflict of its own
    with live_server.db.read() as session:
        statuses = dict(
            session.execute(
                select(MeasurementConflict.sent_value, MeasurementConflict.status)
                .join(Register, Register.key == MeasurementConflict.register_key)
                .where(Register.organization_id == actor.organization_id)
            ).all()
        )
    assert statuses == {1_000_000: "open", 2_000_000: "accepted", 3_000_000: "rejected"}


def test_dry_run_writes_nothing_and_needs_no_writer_role(live_server: LiveServer, actor: Actor) -> None:
    viewer = Actor(actor.organization_id, None, actor.client_id, ALL, "viewer")
    outcome = ingest(live_server, viewer, [series("d", "r", [(0, 1)])], IngestOptions(dry_run=True))
    assert outcome.import_id is None and outcome.series[0].created == 1
    assert outcome.series[0].resolved.device is None and outcome.series[0].resolved.device_created
    with live_server.db.read() as session:
        assert (
            session.scalar(select(Register).where(Register.organization_id == actor.organization_id)) is None
        )
    with pytest.raises(PermissionDenied):
        ingest(live_server, viewer, [series("d", "r", [(0, 1)])])


def test_scopes_are_needed_only_to_create(live_server: LiveServer, actor: Actor) -> None:
    gateway = Actor(actor.organization_id, None, actor.client_id, frozenset({"measurement"}), "editor")
    with pytest.raises(InsufficientScope) as caught:
        ingest(live_server, gateway, [series("d", "r", [(0, 1)])])
    assert caught.value.scope == "device"
    ingest(live_server, actor, [series("d", "r", [(0, 1)])])
    assert ingest(live_server, gateway, [series("d", "r", [(1, 1)])]).series[0].created == 1
    with pytest.raises(InsufficientScope) as caught:
        ingest(live_server, gateway, [series("d", "other", [(1, 1)])])
    assert caught.value.scope == "register"


def store(
    live_server: LiveServer, actor: Actor, items: list[SeriesIn], options: IngestOptions
) -> IngestOutcome:
    """Run one request as the API does: admitted once, then stored (retried on lock races)."""
    return bulk.store(live_server.db, live_server.clock, actor, items, options)


def test_the_quota_counts_requests_per_client_and_minute(live_server: LiveServer, actor: Actor) -> None:
    options = IngestOptions(requests_per_minute=2)
    live_server.clock.advance(60 - live_server.clock.time() % 60 + 0.01)  # a fresh window
    store(live_server, actor, [series("d", "r", [(0, 1)])], options)
    store(live_server, actor, [series("d", "r", [(1, 1)])], options)
    with pytest.raises(RateLimited) as caught:
        store(live_server, actor, [series("d", "r", [(2, 1)])], options)
    assert 1 <= caught.value.retry_after <= 60
    with live_server.db.read() as session:
        batches = session.scalars(
            select(ImportBatch).where(ImportBatch.organization_id == actor.organization_id)
        ).all()
    assert len(batches) == 2
    other_client = Actor(actor.organization_id, None, unique("client"), ALL, "editor")
    store(live_server, other_client, [series("d", "r", [(2, 1)])], options)
    live_server.clock.advance(60)
    store(live_server, actor, [series("d", "r", [(3, 1)])], options)


def test_a_request_run_again_after_a_lock_race_counts_once_against_the_quota(
    live_server: LiveServer, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = IngestOptions(requests_per_minute=2)
    live_server.clock.advance(60 - live_server.clock.time() % 60 + 0.01)  # a fresh window
    real_ingest = IngestService.ingest
    attempts: list[int] = []

    def losing_the_first_race(self: IngestService, *args: Any) -> IngestOutcome:
        outcome = real_ingest(self, *args)  # the work is done, then the transaction fails
        attempts.append(len(outcome.series))
        if len(attempts) == 1:
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
        return outcome

    monkeypatch.setattr(IngestService, "ingest", losing_the_first_race)
    first = store(live_server, actor, [series("d", "r", [(0, 1)])], options)
    monkeypatch.undo()
    assert len(attempts) == 2 and first.series[0].created == 1
    store(live_server, actor, [series("d", "r", [(1, 1)])], options)  # the second request of two
    with pytest.raises(RateLimited):
        store(live_server, actor, [series("d", "r", [(2, 1)])], options)
    with live_server.db.read() as session:
        created = session.scalars(
            select(ImportBatch.created).where(ImportBatch.organization_id == actor.organization_id)
        ).all()
    assert created == [1, 1]  # the failed attempt left nothing


def test_interval_registers_refuse_off_grid_instants(live_server: LiveServer, actor: Actor) -> None:
    item = SeriesIn(
        Address("", "d", None, "r", None, kind="interval", period="PT1H"),
        [T0 + HOUR, T0 + HOUR + 900_000_000],
        [1, 1],
    )
    with pytest.raises(BulkInvalid) as caught:
        ingest(live_server, actor, [item])
    assert caught.value.details == [
        {"pointer": "/measurements", "problem": "off_grid", "readAt": "2024-01-01T01:15:00Z"}
    ]


def test_run_write_retries_lock_timeouts_and_gives_up_on_other_errors(live_server: LiveServer) -> None:
    calls: list[int] = []

    def flaky(_session: Session) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert run_write(live_server.db, flaky) == "done" and len(calls) == 3

    def broken(_session: Session) -> None:
        calls.append(1)
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    calls.clear()
    with pytest.raises(OperationalError):
        run_write(live_server.db, broken)
    assert len(calls) == 1


def test_cursors_are_bound_to_their_list_and_types() -> None:
    cursor = encode_cursor("devices", ["name", "id"])
    assert decode_cursor("devices", cursor, str, str) == ["name", "id"]
    for kind, types in (("registers", (str, str)), ("devices", (str, int)), ("devices", (str,))):
        with pytest.raises(BulkInvalid):
            decode_cursor(kind, cursor, *types)
    with pytest.raises(BulkInvalid):
        decode_cursor("devices", "%%%", str, str)


@pytest.mark.parametrize(
    ("block_readings", "pg_insert_rows"),
    [(100, 8), (2, 8), (2, 1)],
    ids=["one-block", "several-blocks", "several-blocks-copied"],
)
def test_new_readings_are_stored_exactly_whatever_the_block_size(
    live_server: LiveServer,
    actor: Actor,
    monkeypatch: pytest.MonkeyPatch,
    block_readings: int,
    pg_insert_rows: int,
) -> None:
    """New readings are stored as blocks: one block or several (SQLite: multi-row INSERT
    statements; PostgreSQL: one INSERT, or a binary COPY of the blocks when there are more
    than `PG_INSERT_ROWS`); every value and instant arrives exactly, on either backend."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block_readings)
    monkeypatch.setattr(rowinsert, "PG_INSERT_ROWS", pg_insert_rows)
    extremes = [
        (0, 999_999_999_999),
        (1, -999_999_999_999),
        (2, 0),
        (3, 123_456_789_012),
        (5, 1),
        (8, -1),
        (9, 7),
    ]
    outcome = ingest(live_server, actor, [series("d", "r", extremes)]).series[0]
    assert outcome.created == 7
    register = outcome.resolved.register
    assert register is not None
    assert readings(live_server.db, register.key) == dict(extremes)
    with live_server.db.read() as session:
        blocks = session.scalar(
            text("SELECT count(*) FROM measurement_blocks WHERE register_key = :key"),
            {"key": register.key},
        )
    assert blocks == -(-len(extremes) // block_readings)


def _wait_for_a_lock_wait(db: Database) -> None:
    """Until another session waits for a lock (PostgreSQL); a moment on SQLite, whose writers
    queue on a lock in this process."""
    if db.is_sqlite:
        time.sleep(0.3)
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.read() as session:
            if session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
                return
        time.sleep(0.01)
    raise AssertionError("the second import never waited for the register's lock")


def test_an_append_that_waited_for_another_merges_into_the_days_row_that_one_left(
    live_server: LiveServer, actor: Actor
) -> None:
    """Two imports append to the same day of one register; the second waits for the first's
    lock. It must merge into the day row as the first committed it: on PostgreSQL a statement
    that waited for a row lock sees the locked row as committed since, but the rows it joined
    as they were before the wait, so the day row cannot be read along with the lock."""
    register = ingest(live_server, actor, [series("d", "r", [(0, 1)])]).series[0].resolved.register
    assert register is not None
    second: list[IngestOutcome] = []
    waiting = threading.Thread(
        target=lambda: second.append(ingest(live_server, actor, [series("d", "r", [(2, 3)])]))
    )
    with live_server.db.write() as session:
        IngestService(session, live_server.clock).ingest(actor, [series("d", "r", [(1, 2)])], IngestOptions())
        waiting.start()
        _wait_for_a_lock_wait(live_server.db)
    waiting.join()
    assert second[0].series[0].created == 1
    stored = readings(live_server.db, register.key)
    assert stored == {0: 1, 1: 2, 2: 3}
    with live_server.db.read() as session:
        found = rollup.days_for(session, register.key, 0, 2**62)
    instants = [T0 + h * HOUR for h in sorted(stored)]
    assert found is not None and found[1] == rollup.summarize(
        instants, [stored[h] * 1_000_000 for h in sorted(stored)]
    )


@pytest.mark.parametrize(
    ("count", "appending"),
    [(5, True), (5, False), (1_000, False)],
    ids=["few-appended", "few", "many"],
)
def test_inserted_readings_are_stored_whichever_way_they_are_written(
    live_server: LiveServer, actor: Actor, count: int, appending: bool
) -> None:
    """Readings inserted next to a stored one are all stored, seen at once in the same
    transaction and after it, whichever way PostgreSQL writes them (a few appended to the last
    block by one UPDATE, a block by an INSERT, many blocks by a COPY)."""
    register = ingest(live_server, actor, [series("d", "r", [(0, 1)])]).series[0].resolved.register
    assert register is not None
    seen: list[int] = []

    def work(session: Session) -> None:
        instants = [T0 + (h + 1) * HOUR for h in range(count)]
        rowstore.insert_readings(session, register.key, instants, list(range(count)), appending=appending)
        seen.append(rowstore.count_readings(session, [register.key]))

    run_write(live_server.db, work)
    assert seen == [count + 1]
    assert len(readings(live_server.db, register.key)) == count + 1


def test_block_bytes_are_big_endian_64_bit_integers() -> None:
    """A block's instants and values are packed byte for byte as big-endian 64-bit integers
    (what PostgreSQL's int8send gives), unpacked back exactly; 65 bits raise."""
    low, high = -(2**63), 2**63 - 1
    numbers = [low, high, 0, -1, 1, 2**32, T0, 2**31, -(2**31) - 1, 255, -256]
    packed = blockstore.pack(numbers)
    assert packed == b"".join(struct.pack(">q", n) for n in numbers)
    assert blockstore.unpack(packed) == numbers
    assert blockstore.pack([]) == b"" and blockstore.unpack(b"") == []
    for outside in (2**63, low - 1):
        with pytest.raises(OverflowError):
            blockstore.pack([1, outside])


def test_sqlite_rows_go_in_statements_of_few_fixed_sizes_covering_every_row() -> None:
    """Rows go in statements of the fixed sizes while they fill up, then one shorter statement;
    the build's limit caps every size; every row is in exactly one span, in order."""
    from zevvy_server.metering.rowinsert import statement_spans

    def sizes(count: int, most: int = 16_382) -> list[int]:
        spans = statement_spans(count, most)
        assert [start for start, _ in spans] == [0, *(stop for _, stop in spans)][: len(spans)]
        assert (spans[-1][1] if spans else 0) == count
        return [stop - start for start, stop in spans]

    assert sizes(0) == []
    assert sizes(1) == [1]
    assert sizes(10_000) == [8_192, 1_024, 784]
    assert sizes(35_040 - 30_000) == [1_024] * 4 + [944]
    assert sizes(100_000) == [8_192] * 12 + [1_024, 672]
    assert sizes(8_192 + 1_024) == [8_192, 1_024]
    assert sizes(10_000, most=499) == [499] * 20 + [20]


def test_sqlite_block_statements_respect_the_builds_parameter_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite build with a low bound-parameter limit (999 before 3.32): readings inserted
    among 600 stored blocks replace them all, values are asked at 1,200 instants, and the
    readings of 700 registers are counted and deleted, each in statements within the limit."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", 2)
    engine = create_engine(f"sqlite:///{tmp_path / 'limit.db'}")
    MeasurementBlock.__table__.create(engine)  # type: ignore[attr-defined]
    stored = [T0 + 2 * i * HOUR for i in range(1_200)]
    among = [at + HOUR for at in stored]
    try:
        with Session(engine) as session, session.begin():
            driver = session.connection().connection.driver_connection
            assert driver is not None
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 600)
            rowstore.insert_readings(session, 42, stored, stored)
            rowstore.insert_readings(session, 42, among, among)
            assert rowstore.values_at(session, 42, stored) == dict(zip(stored, stored, strict=True))
        with Session(engine) as session:
            assert rowstore.read_readings(session, 42, None, None) == (sorted(stored + among),) * 2
        keys = list(range(1_000, 1_700))
        with Session(engine) as session, session.begin():
            driver = session.connection().connection.driver_connection
            assert driver is not None
            driver.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 600)
            for key in keys:
                rowstore.insert_readings(session, key, [T0], [key])
            assert rowstore.count_readings(session, [42, *keys]) == 2_400 + 700
            rowstore.delete_readings(session, [42, *keys])
            assert rowstore.count_readings(session, [42, *keys]) == 0
    finally:
        engine.dispose()


class _CountingConnection:
    """A driver connection that counts the statements run through it."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.statements = 0

    def execute(self, sql: str, params: Any = ()) -> Any:
        self.statements += 1
        return self.raw.execute(sql, params)

    def getlimit(self, category: int) -> int:
        return int(self.raw.getlimit(category))

    def cursor(self) -> Any:
        return self.raw.cursor()


@pytest.mark.parametrize("pg_insert_rows", [0, 32], ids=["pg-copy", "pg-insert"])
def test_rows_insert_keeps_every_row_and_column_on_either_backend(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, pg_insert_rows: int
) -> None:
    """The daily summaries go in as multi-row statements that fit the bound-parameter limit on
    SQLite; PostgreSQL: a binary COPY, or one INSERT for a few rows): every row,
    NULLs and 64-bit values kept."""
    monkeypatch.setattr(rowinsert, "PG_INSERT_ROWS", pg_insert_rows)

    rows = [(i, (-1) ** i * (2**63 - 1 - i), None if i % 3 else i) for i in range(11)]
    with live_server.db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        is_pg = connection.dialect.name == "postgresql"
        raw.execute("CREATE TEMP TABLE rows_insert (a BIGINT PRIMARY KEY, b BIGINT, c BIGINT)")
        limit = None if is_pg else raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 7)
        counting = _CountingConnection(raw)
        try:
            for batch in (rows, []):
                rowinsert.insert_rows(counting, is_pg, "rows_insert", ("a", "b", "c"), ("int8",) * 3, batch)
        finally:
            if limit is not None:
                raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        stored = raw.execute("SELECT a, b, c FROM rows_insert ORDER BY a").fetchall()
        raw.execute("DROP TABLE rows_insert")
        connection.rollback()
    # PostgreSQL: one COPY through a cursor, or one INSERT statement.
    assert counting.statements == ((1 if pg_insert_rows else 0) if is_pg else 6)
    assert [tuple(row) for row in stored] == rows


def test_re_sent_readings_are_unchanged_and_any_difference_is_found(
    live_server: LiveServer, actor: Actor
) -> None:
    """A re-send is recognised as a whole (the blocks' lists compared), and so is a batch that
    begins with the stored readings of its range; a changed value, a reading left out or one
    added in between is still classified reading by reading."""
    points = [(2 * h, 10 + h) for h in range(8)]  # every other hour
    first = ingest(live_server, actor, [series("d", "r", points)]).series[0]
    register = first.resolved.register
    assert register is not None and first.created == 8
    with live_server.db.read() as session:
        sent = series("d", "r", points[2:6])
        assert rowstore.holds_exactly(session, register.key, sent.instants, sent.values) is True
        changed = series("d", "r", [*points[2:5], (10, 99)])
        assert rowstore.holds_exactly(session, register.key, changed.instants, changed.values) is False
    cases = [
        (points, (0, 8, 0)),  # the whole batch again
        (points[2:6], (0, 4, 0)),  # a part of it
        ([*points[:3], (6, 99), *points[4:]], (0, 7, 1)),  # one value changed
        ([*points[:3], *points[4:]], (0, 7, 0)),  # one reading left out
        ([*points[:4], (7, 77), *points[4:]], (1, 8, 0)),  # one added in between
        ([*points[6:], (16, 40), (17, 41)], (2, 2, 0)),  # the stored end again, then new ones
        ([(14, 17), (16, 40), (17, 99), (18, 42)], (1, 2, 1)),  # the same, one value changed
        ([(13, 5), (14, 17), (19, 43)], (2, 1, 0)),  # new ones around a stored one, others left out
    ]
    for sent_points, (created, unchanged, conflicts) in cases:
        outcome = ingest(live_server, actor, [series("d", "r", sent_points)]).series[0]
        assert (outcome.created, outcome.unchanged, outcome.conflicts) == (created, unchanged, conflicts)
