"""Consumption from the daily summaries stays exactly equal to consumption from the raw readings
after appends, late data, overwrites, conflicts and accepted conflicts (real database)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from sqlalchemy import select

from tests.conftest import LiveServer, unique
from zevvy_server.identity.models import Organization
from zevvy_server.metering import rollup, rowstore
from zevvy_server.metering.common import Actor
from zevvy_server.metering.consumption import ConsumptionService
from zevvy_server.metering.ingest import IngestOptions, IngestService, SeriesIn
from zevvy_server.metering.models import MeasurementConflict, MeasurementDay
from zevvy_server.metering.readings import ReadingService
from zevvy_server.metering.resolve import Address
from zevvy_server.storage.transactions import run_read, run_write

QUARTER = 900_000_000
T0 = 1_740_610_800_000_000  # 2025-02-26T23:00:00Z, local midnight in Zurich; spans the DST change
ALL = frozenset({"device", "register", "measurement"})


@pytest.fixture
def actor(make_org: Callable[..., Organization]) -> Actor:
    """An editor of a new organization with every metering scope."""
    return Actor(make_org().id, None, unique("client"), ALL, "editor")


def send(server: LiveServer, actor: Actor, points: dict[int, int], *, overwrite: bool = False) -> SeriesIn:
    """One request with readings {quarter-hour index: value}."""
    ordered = sorted(points)
    item = SeriesIn(
        Address("", "meter", None, "energy", None),
        [T0 + q * QUARTER for q in ordered],
        [points[q] for q in ordered],
    )
    outcome = run_write(
        server.db,
        lambda s: IngestService(s, server.clock).ingest(actor, [item], IngestOptions(overwrite=overwrite)),
    )
    register = outcome.series[0].resolved.register
    assert register is not None
    return register  # type: ignore[return-value]


def both_ways(
    server: LiveServer,
    actor: Actor,
    register_id: object,
    interval: str,
    span: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[object, object]:
    """Consumption from the summaries and, with them switched off, from the raw readings."""

    def query(session):  # type: ignore[no-untyped-def]
        return (
            ConsumptionService(session, server.clock)
            .register(
                actor,
                register_id,
                from_text=span[0],
                to_text=span[1],
                interval=interval,
                time_zone="Europe/Zurich",
            )
            .buckets
        )

    from_summaries = run_read(server.db, query)
    with monkeypatch.context() as patch:
        patch.setattr(rollup, "covers", lambda edges, tz: False)
        from_readings = run_read(server.db, query)
    return from_summaries, from_readings


def assert_exact(server: LiveServer, actor: Actor, register, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # All the readings, and a range with readings on both sides (its edges interpolate from the
    # nearest day rows). Hours are not whole days: they must come from the readings.
    for span in (("2025-02-20", "2025-05-01"), ("2025-03-10", "2025-04-01")):
        for interval in ("day", "month", "hour"):
            summaries, readings = both_ways(server, actor, register.id, interval, span, monkeypatch)
            assert summaries == readings
    # The stored rows are exactly what summarizing every stored reading gives.
    with server.db.read() as session:
        instants, values = rowstore.read_readings(session, register.key, None, None)
        stored = (
            session.execute(
                select(MeasurementDay)
                .where(MeasurementDay.register_key == register.key)
                .order_by(MeasurementDay.day_start)
            )
            .scalars()
            .all()
        )
        rows = [
            rollup.Day(
                d.day_start, d.readings, d.first_at, d.first_value, d.last_at, d.last_value, d.resets, d.extra
            )
            for d in stored
        ]
    assert rows == rollup.summarize(instants, values)


@pytest.mark.parametrize("seed", range(4))
def test_summaries_stay_exact_through_late_data_overwrites_and_decisions(
    live_server: LiveServer, actor: Actor, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    value, truth = 5_000_000, {}
    for q in range(0, 5_000, 1):
        if rng.random() < 0.7:
            value = rng.randrange(10**6) if rng.random() < 0.01 else value + rng.randrange(10**6)
            truth[q] = value
    ordered = sorted(truth)
    # Appends in batches, with every fourth batch held back and sent late.
    late = []
    for n, cut in enumerate(range(0, len(ordered), 300)):
        batch = {q: truth[q] for q in ordered[cut : cut + 300]}
        if n % 4 == 1:
            late.append(batch)
            continue
        register = send(live_server, actor, batch)
        assert_exact(live_server, actor, register, monkeypatch)
    for batch in late:
        send(live_server, actor, batch)
    assert_exact(live_server, actor, register, monkeypatch)
    # Single live readings after the end, and one in the middle of a day.
    for q in (5_001, 5_002, 5_010):
        send(live_server, actor, {q: value + q})
        assert_exact(live_server, actor, register, monkeypatch)  # the day's row updated in place
    # Overwrites (some lower: resets), conflicts, then accepting some conflicts.
    changes = {q: truth[q] + rng.choice([-(10**7), 1, 10**6]) for q in rng.sample(ordered, 40)}
    send(live_server, actor, dict(list(changes.items())[:20]), overwrite=True)
    assert_exact(live_server, actor, register, monkeypatch)
    send(live_server, actor, dict(list(changes.items())[20:]))
    assert_exact(live_server, actor, register, monkeypatch)
    with live_server.db.read() as session:
        conflicts = session.scalars(
            select(MeasurementConflict.id).where(
                MeasurementConflict.register_key == register.key, MeasurementConflict.status == "open"
            )
        ).all()
    assert conflicts
    for conflict_id in conflicts[::2]:
        run_write(
            live_server.db,
            lambda s, c=conflict_id: ReadingService(s, live_server.clock).decide(
                actor, register.id, c, accept=True
            ),
        )
    assert_exact(live_server, actor, register, monkeypatch)
