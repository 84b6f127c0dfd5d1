"""The readings store (`rowstore`) against a model, on the database of the run: blocks of
`blockstore.BLOCK_READINGS` readings (made tiny here, so that nearly every write and read crosses
a block's boundary).

Random appends, inserts before, between and among stored readings, value updates and deletions
are applied to the store and to a dict; after each, everything the store answers (ranges with
and without a limit, neighbours, values at instants, counts, exact re-sends) must be what the
dict says. The blocks themselves are checked too: they never overlap, say what they hold, and
fill up when readings are appended.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from tests.conftest import LiveServer, unique
from zevvy_server.identity.models import Organization
from zevvy_server.metering import blockstore, rowstore
from zevvy_server.metering.common import Actor
from zevvy_server.metering.ingest import IngestOptions, IngestService, SeriesIn
from zevvy_server.metering.resolve import Address
from zevvy_server.storage.transactions import run_write

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
LOWEST, HIGHEST = rowstore.LOWEST, rowstore.HIGHEST
BLOCK_SIZES = [1, 3, 4, 100]

Model = dict[int, int]  # instant -> value of one register


@pytest.fixture
def registers(live_server: LiveServer, make_org: Callable[..., Organization]) -> tuple[int, int]:
    """The keys of two registers of one device in a new organization, created by an import of
    one reading each (the tests delete those readings first, inside their own transaction)."""
    actor = Actor(
        make_org().id, None, unique("client"), frozenset({"device", "register", "measurement"}), "editor"
    )
    items = [SeriesIn(Address("", "d", None, name, None), [T0], [0]) for name in ("r1", "r2")]
    outcome = run_write(
        live_server.db,
        lambda session: IngestService(session, live_server.clock).ingest(actor, items, IngestOptions()),
    )
    keys = []
    for item in outcome.series:
        assert item.resolved.register is not None
        keys.append(item.resolved.register.key)
    return keys[0], keys[1]


class _Undo(Exception):
    """Raised at the end of a transaction to roll it back."""


@contextmanager
def rolled_back(live_server: LiveServer, keys: tuple[int, ...]) -> Iterator[Session]:
    """A write transaction in which the registers start without readings, always rolled back:
    every example starts from the same state and leaves nothing behind."""
    try:
        with live_server.db.write() as session:
            rowstore.delete_readings(session, list(keys))
            yield session
            raise _Undo
    except _Undo:
        pass


# -- what is written ------------------------------------------------------------------------------


def some_values(rng: random.Random, count: int) -> list[int]:
    """Values of every kind: small, negative, near +-10**18, anywhere in 64 bits, the ends."""
    kinds: tuple[Callable[[], int], ...] = (
        lambda: rng.randint(-1_000, 1_000),
        lambda: 10**18 - rng.randint(0, 10**6),
        lambda: -(10**18) + rng.randint(0, 10**6),
        lambda: rng.randint(-(10**18), 10**18),
        lambda: rng.randint(LOWEST, HIGHEST),
        lambda: rng.choice((LOWEST, HIGHEST, 0, -1)),
    )
    return [rng.choice(kinds)() for _ in range(count)]


def step(rng: random.Random) -> int:
    """A distance between consecutive new readings: often adjacent microseconds, else larger."""
    return rng.choice((1, 2, rng.randint(1, 1_000), rng.randint(1, 10**9)))


def new_instants(kind: str, stored: list[int], size: int, rng: random.Random) -> list[int]:
    """Up to `size` ascending instants not stored, placed as `kind` says."""
    if kind in ("append", "append_unpromised"):
        at = stored[-1] if stored else rng.randint(-(10**12), 10**12)
        instants = []
        for _ in range(size):
            at += step(rng)
            instants.append(at)
        return instants
    if kind == "before":
        at = stored[0] if stored else rng.randint(-(10**12), 10**12)
        instants = []
        for _ in range(size):
            at -= step(rng)
            instants.append(at)
        return instants[::-1]
    if kind == "gap":  # all between two neighbouring stored readings
        gaps = [(a, b) for a, b in pairwise(stored) if b - a > 1]
        if not gaps:
            return []
        a, b = rng.choice(gaps)
        return sorted(rng.sample(range(a + 1, b), min(size, b - a - 1)))
    assert kind == "among"  # anywhere from before the first to after the last, some adjacent
    if not stored:
        return new_instants("append", stored, size, rng)
    taken = set(stored)
    candidates = set(rng.sample(range(stored[0] - 1_000, stored[-1] + 1_001), size))
    candidates.update(at + rng.choice((-1, 1)) for at in rng.sample(stored, min(size, len(stored))))
    free = sorted(candidates - taken)
    return sorted(rng.sample(free, min(size, len(free))))


def apply(session: Session, key: int, model: Model, kind: str, size: int, rng: random.Random) -> None:
    """One write of `kind` to the store and the same change to the model."""
    stored = sorted(model)
    if kind == "delete":
        rowstore.delete_readings(session, [key])
        model.clear()
        return
    if kind == "update":
        if not stored:
            return
        if rng.random() < 0.5:  # a run of consecutive readings
            start = rng.randrange(len(stored))
            chosen = stored[start : start + size]
        else:  # scattered ones, in no particular order
            chosen = rng.sample(stored, min(size, len(stored)))
        values = some_values(rng, len(chosen))
        rowstore.update_readings(session, key, chosen, values)
        model.update(zip(chosen, values, strict=True))
        return
    instants = new_instants(kind, stored, size, rng)
    if not instants:
        return
    values = some_values(rng, len(instants))
    appending = kind == "append"
    if rng.random() < 0.3:  # one reading per call (in any order unless appending): many small blocks
        pairs = list(zip(instants, values, strict=True))
        if not appending:
            rng.shuffle(pairs)
        for at, value in pairs:
            rowstore.insert_readings(session, key, [at], [value], appending=appending)
    else:
        rowstore.insert_readings(session, key, instants, values, appending=appending)
    model.update(zip(instants, values, strict=True))


# -- what is read ---------------------------------------------------------------------------------


def probes(instants: list[int], rng: random.Random) -> list[int]:
    """Instants to ask about: stored ones, their neighbours (mostly in gaps), random ones
    between, before the first and after the last, and the ends of 64 bits."""
    found = [LOWEST, HIGHEST, LOWEST + 1, HIGHEST - 1]
    if not instants:
        return [*found, 0, T0, rng.randint(-(10**12), 10**12)]
    for at in rng.sample(instants, min(8, len(instants))):
        found += [at, at - 1, at + 1]
    first, last = instants[0], instants[-1]
    found += [first, last, first - 1, last + 1, first - 10**12, last + 10**12]
    found += [rng.randint(first, last) for _ in range(4)]
    return found


def limits() -> list[int | None]:
    """Limits around the block size, and none."""
    size = blockstore.BLOCK_READINGS
    return [None, None, 0, 1, 2, size - 1, size, size + 1, 2 * size + 1, 1_000]


def check(
    live_server: LiveServer, session: Session, key: int, model: Model, rng: random.Random, *, thorough: bool
) -> None:
    """The store's answers about register `key` are the model's."""
    instants = sorted(model)
    values = [model[at] for at in instants]
    assert rowstore.read_readings(session, key, None, None) == (instants, values)
    assert rowstore.count_readings(session, [key]) == len(instants)
    if not thorough:
        return
    asked = probes(instants, rng)

    for _ in range(6):
        low, high = rng.choice([None, *asked]), rng.choice([None, *asked])
        limit = rng.choice(limits())
        start = 0 if low is None else bisect_left(instants, low)
        stop = len(instants) if high is None else max(start, bisect_left(instants, high))
        stop = stop if limit is None else min(stop, start + limit)
        expected = (instants[start:stop], values[start:stop])
        answer = rowstore.read_readings(session, key, low, high, limit=limit)
        assert answer == expected, (low, high, limit)

    for _ in range(3):
        low, high = sorted(rng.sample(asked, 2)) if rng.random() < 0.8 else rng.sample(asked, 2)
        start, stop = bisect_left(instants, low), bisect_right(instants, high)
        expected_pairs = list(zip(instants[start:stop], values[start:stop], strict=True))
        assert [tuple(pair) for pair in rowstore.stored_range(session, key, low, high)] == expected_pairs

    for at in rng.sample(asked, min(10, len(asked))):
        index = bisect_right(instants, at) - 1
        before = (instants[index], values[index]) if index >= 0 else None
        index = bisect_left(instants, at)
        after = (instants[index], values[index]) if index < len(instants) else None
        assert rowstore.neighbour(session, key, at, before=True) == before, at
        assert rowstore.neighbour(session, key, at, before=False) == after, at

    wanted = rng.sample(asked, min(12, len(asked)))
    assert rowstore.values_at(session, key, wanted) == {at: model[at] for at in wanted if at in model}
    assert rowstore.values_at(session, key, []) == {}

    if instants:
        check_re_sends(live_server, session, key, model, instants, rng)


def check_re_sends(
    live_server: LiveServer, session: Session, key: int, model: Model, instants: list[int], rng: random.Random
) -> None:
    """`holds_exactly` knows a stored slice, and never takes a changed one for it."""
    start = rng.randrange(len(instants))
    length = rng.choice(
        (1, 2, 3, blockstore.BLOCK_READINGS, 2 * blockstore.BLOCK_READINGS + 3, len(instants))
    )
    sent = instants[start : start + length]
    sent_values = [model[at] for at in sent]
    assert rowstore.holds_exactly(session, key, sent, sent_values) is True

    changed = list(sent_values)
    index = rng.randrange(len(changed))
    changed[index] += 1 if changed[index] < HIGHEST else -1
    assert rowstore.holds_exactly(session, key, sent, changed) is False

    if len(sent) >= 3:  # a stored reading inside the range left out
        index = rng.randrange(1, len(sent) - 1)
        assert (
            rowstore.holds_exactly(
                session, key, sent[:index] + sent[index + 1 :], sent_values[:index] + sent_values[index + 1 :]
            )
            is False
        )
    free = [at + 1 for at in sent[:-1] if at + 1 not in model]
    if free:  # a reading that is not stored, added inside the range
        extra = rng.choice(free)
        index = bisect_left(sent, extra)
        assert (
            rowstore.holds_exactly(
                session,
                key,
                [*sent[:index], extra, *sent[index:]],
                [*sent_values[:index], 0, *sent_values[index:]],
            )
            is False
        )


def check_blocks(session: Session, models: dict[int, Model]) -> None:
    """The blocks of these registers, read directly: ascending unique instants, first and last
    instant and count as stored beside them, at most `BLOCK_READINGS` each, no two overlapping,
    together exactly the model's readings."""
    rows = session.execute(
        text(
            "SELECT register_key, first_at, last_at, readings, instant_bytes, value_bytes"
            " FROM measurement_blocks WHERE register_key IN :keys ORDER BY register_key, first_at"
        ).bindparams(bindparam("keys", expanding=True)),
        {"keys": list(models)},
    ).all()
    found: dict[int, Model] = {key: {} for key in models}
    last: dict[int, int] = {}
    for key, first_at, last_at, count, instant_bytes, value_bytes in rows:
        instants, values = blockstore.unpack(instant_bytes), blockstore.unpack(value_bytes)
        assert 1 <= count == len(instants) == len(values) <= blockstore.BLOCK_READINGS, (key, first_at)
        assert (instants[0], instants[-1]) == (first_at, last_at)
        assert all(a < b for a, b in pairwise(instants)), (key, first_at)
        assert key not in last or last[key] < first_at, f"blocks of {key} overlap at {first_at}"
        last[key] = last_at
        found[key].update(zip(instants, values, strict=True))
    assert found == models


# -- the tests ------------------------------------------------------------------------------------

KINDS = (
    "append",
    "append",
    "append",
    "append_unpromised",
    "before",
    "gap",
    "gap",
    "among",
    "among",
    "update",
    "update",
    "delete",
)
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from((0, 0, 0, 1)),  # which register: mostly the first
        st.one_of(st.integers(1, 5), st.integers(1, 250)),  # how many readings
        st.integers(0, 2**32 - 1),  # the seed of the rest of the details
    ),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("block", BLOCK_SIZES)
@settings(
    max_examples=40,
    deadline=None,
    # Each example works in its own rolled-back transaction: the register fixture is shared
    # by the examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_the_store_answers_as_a_model_after_random_writes(
    live_server: LiveServer,
    registers: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    block: int,
    operations: list[tuple[str, int, int, int]],
) -> None:
    """After every append, insert (before, in a gap, among stored readings), update or deletion,
    on one of two registers, every read of both registers answers what a dict of the readings
    says: half-open ranges, open-ended or not, with limits below, at and above the block size,
    inclusive ranges, neighbours at stored instants, in gaps and beyond both ends, values at
    instants, counts of one and of both registers, and whether a slice is stored exactly. The
    blocks are well formed after every write."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block)
    models: dict[int, Model] = {key: {} for key in registers}
    with rolled_back(live_server, registers) as session:
        for kind, which, size, seed in operations:
            rng = random.Random(seed)
            key = registers[which]
            apply(session, key, models[key], kind, size, rng)
            for other in registers:
                check(live_server, session, other, models[other], rng, thorough=other == key)
            assert rowstore.count_readings(session, list(registers)) == sum(map(len, models.values()))
            assert rowstore.count_readings(session, []) == 0
            check_blocks(session, models)


@pytest.mark.parametrize("block", [1, 3, 100])
def test_the_ends_of_64_bits_are_stored_and_found(
    live_server: LiveServer, registers: tuple[int, int], monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Readings at the lowest and highest 64-bit instants, with the lowest and highest values,
    are stored and read back exactly; open ends include them, a closed high end excludes its
    own instant, and ranges ending at the lowest instant are empty."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block)
    key = registers[0]
    instants = [LOWEST, LOWEST + 1, -1, 0, 1, HIGHEST - 1, HIGHEST]
    values = [HIGHEST, LOWEST, 10**18, -(10**18), 0, -1, LOWEST]
    with rolled_back(live_server, registers) as session:
        rowstore.insert_readings(session, key, instants[2:5], values[2:5])
        rowstore.insert_readings(session, key, instants[5:], values[5:], appending=True)
        rowstore.insert_readings(session, key, instants[:2], values[:2])
        assert rowstore.read_readings(session, key, None, None) == (instants, values)
        assert rowstore.read_readings(session, key, LOWEST, None) == (instants, values)
        assert rowstore.read_readings(session, key, None, HIGHEST) == (instants[:-1], values[:-1])
        assert rowstore.read_readings(session, key, None, LOWEST) == ([], [])
        assert rowstore.read_readings(session, key, None, LOWEST + 1) == (instants[:1], values[:1])
        assert rowstore.read_readings(session, key, HIGHEST, None, limit=5) == (instants[-1:], values[-1:])
        assert rowstore.stored_range(session, key, LOWEST, HIGHEST) == list(
            zip(instants, values, strict=True)
        )
        assert rowstore.neighbour(session, key, LOWEST, before=True) == (LOWEST, HIGHEST)
        assert rowstore.neighbour(session, key, HIGHEST, before=False) == (HIGHEST, LOWEST)
        assert rowstore.neighbour(session, key, 2, before=False) == (HIGHEST - 1, -1)
        assert rowstore.neighbour(session, key, -2, before=True) == (LOWEST + 1, LOWEST)
        assert rowstore.values_at(session, key, [HIGHEST, LOWEST, 5]) == {HIGHEST: LOWEST, LOWEST: HIGHEST}
        assert rowstore.holds_exactly(session, key, instants, values) is True
        rowstore.update_readings(session, key, [HIGHEST, LOWEST], [HIGHEST, LOWEST])
        assert rowstore.values_at(session, key, instants) == {
            **dict(zip(instants, values, strict=True)),
            HIGHEST: HIGHEST,
            LOWEST: LOWEST,
        }
        assert rowstore.count_readings(session, [key]) == len(instants)
        model = dict(zip(instants, values, strict=True)) | {HIGHEST: HIGHEST, LOWEST: LOWEST}
        check_blocks(session, {key: model, registers[1]: {}})


@pytest.mark.parametrize("block", BLOCK_SIZES)
@pytest.mark.parametrize("seed", [1, 2])
def test_blocks_stay_well_formed_through_a_long_random_history(
    live_server: LiveServer,
    registers: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    block: int,
    seed: int,
) -> None:
    """Sixty random writes to two registers, the blocks read directly after each: no two
    blocks of a register overlap, each holds ascending instants matching its first and last
    instant and its count, none holds more than `BLOCK_READINGS`, together they are the
    readings written."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block)
    rng = random.Random(seed * 1_000 + block)
    models: dict[int, Model] = {key: {} for key in registers}
    with rolled_back(live_server, registers) as session:
        for _ in range(60):
            key = rng.choice(registers)
            apply(
                session, key, models[key], rng.choice(KINDS), rng.choice((1, 2, 5, rng.randint(1, 250))), rng
            )
            check_blocks(session, models)


def block_count(session: Session, key: int) -> int:
    """How many blocks a register has."""
    return int(
        session.scalar(
            text("SELECT count(*) FROM measurement_blocks WHERE register_key = :key"), {"key": key}
        )
        or 0
    )


@pytest.mark.parametrize("block", BLOCK_SIZES)
@pytest.mark.parametrize("appending", [True, False], ids=["appending", "not-promised"])
def test_readings_appended_one_by_one_fill_blocks_up(
    live_server: LiveServer,
    registers: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    block: int,
    appending: bool,
) -> None:
    """Readings appended one at a time go into the register's last block while it has room:
    n readings take ceil(n / BLOCK_READINGS) blocks after every append, whether or not the
    caller promised that they are the newest."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block)
    key = registers[0]
    count = 2 * block + 1 if block < 100 else 250
    with rolled_back(live_server, registers) as session:
        for n in range(1, count + 1):
            rowstore.insert_readings(session, key, [T0 + n], [n], appending=appending)
            assert block_count(session, key) == math.ceil(n / block), n
        check_blocks(session, {key: {T0 + n: n for n in range(1, count + 1)}, registers[1]: {}})


@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_batches_appended_fill_blocks_up(
    live_server: LiveServer, registers: tuple[int, int], monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Batches of any size appended after each other leave only the last block with room:
    n readings take ceil(n / BLOCK_READINGS) blocks."""
    monkeypatch.setattr(blockstore, "BLOCK_READINGS", block)
    key = registers[0]
    rng = random.Random(block)
    model: Model = {}
    with rolled_back(live_server, registers) as session:
        for _ in range(30):
            size = rng.choice((1, 2, block - 1, block, block + 1, rng.randint(1, 250)))
            instants = new_instants("append", sorted(model), max(size, 1), rng)
            values = some_values(rng, len(instants))
            rowstore.insert_readings(session, key, instants, values, appending=True)
            model.update(zip(instants, values, strict=True))
            assert block_count(session, key) == math.ceil(len(model) / block)
        check_blocks(session, {key: model, registers[1]: {}})
