"""Stored readings: blocks of up to `BLOCK_READINGS` consecutive readings of one register.

One row of ``measurement_blocks`` holds a run of a register's readings: their instants and values
as big-endian 64-bit integers packed into two byte columns (``bytea``; SQLite ``BLOB``), the first
and last instant, and how many there are. Blocks of a register never overlap; each holds
ascending unique instants. The primary key (register, first instant) finds the blocks of any span
with one index range.

Why: a reading stored as its own row costs a B-tree entry (on PostgreSQL also a heap tuple), and
on both databases that is most of a back-fill's time (see docs/performance.md); on SQLite a
request of several registers' readings inserts inside the table's B-tree, each row looked up from
the root. A block of 100 readings is one row (`rowinsert`: a COPY row on PostgreSQL). A live
reading is appended to its register's last block by one UPDATE that concatenates the bytes, as
long as the block has room.

Writes keep the layout compact: readings sent among stored ones are merged with the blocks they
fall into and the block just before them (when it has room), and the result is cut again into
full blocks from the first one on. A block stays below PostgreSQL's TOAST threshold (about
2 kB), so none is compressed or moved out of line; on SQLite the table keeps its rowids, whose
B-tree pages hold rows of up to about 4 kB (a WITHOUT ROWID table moves what passes about 1 kB
of a row to an overflow page).

Every function works through the driver connection of the caller's transaction (psycopg or
sqlite3; the statements are written once, with psycopg's placeholders). A writer holds the
register's row lock on PostgreSQL (`rowstore.lock_registers` or the register's own look-up) and
the database's write lock on SQLite, so no two transactions rewrite one register's blocks at once.
"""

from __future__ import annotations

import sqlite3
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from zevvy_server.metering import rowinsert

BLOCK_READINGS = 100  # readings per block: 2 x 800 bytes of data, below the TOAST threshold
TABLE = "measurement_blocks"
COLUMNS = ("register_key", "first_at", "last_at", "readings", "instant_bytes", "value_bytes")
_PG_TYPES = ("int8", "int8", "int8", "int4", "bytea", "bytea")

_LITTLE = sys.byteorder == "little"
LOWEST, HIGHEST = -(2**63), 2**63 - 1  # the instants a block can hold; asked instants are clamped


def pack(numbers: Sequence[int]) -> bytes:
    """64-bit integers as big-endian bytes (OverflowError outside 64 bits)."""
    packed = array("q", numbers)
    if _LITTLE:
        packed.byteswap()
    return packed.tobytes()


def unpack(data: bytes) -> list[int]:
    """The integers of `pack`'s bytes."""
    numbers = array("q")
    numbers.frombytes(data)
    if _LITTLE:
        numbers.byteswap()
    return numbers.tolist()


@dataclass(slots=True)
class Block:
    """One stored block, its readings unpacked."""

    first_at: int
    instants: list[int]
    values: list[int]


# -- statements on either driver ----------------------------------------------------------------


@lru_cache(maxsize=128)
def _sqlite(sql: str) -> str:
    """A statement written with psycopg's placeholders (%s, %b for bytes) in sqlite3's."""
    return sql.replace("%s", "?").replace("%b", "?")


def _fetch(raw: Any, sql: str, params: Sequence[Any]) -> list[Any]:
    if isinstance(raw, sqlite3.Connection):
        return raw.execute(_sqlite(sql), params).fetchall()
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()  # type: ignore[no-any-return]


def _run(raw: Any, sql: str, params: Sequence[Any]) -> int:
    """Run a statement; how many rows it changed."""
    if isinstance(raw, sqlite3.Connection):
        return raw.execute(_sqlite(sql), params).rowcount
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount  # type: ignore[no-any-return]


def _run_many(raw: Any, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if isinstance(raw, sqlite3.Connection):
        raw.executemany(_sqlite(sql), rows)
        return
    with raw.cursor() as cursor:
        cursor.executemany(sql, rows)


_LIST_MOST = 500  # items per list in a SQLite statement, within any build's parameter limit


def _lists(items: Sequence[int]) -> Iterator[list[int]]:
    """`items` cut into lists of at most `_LIST_MOST`, one per SQLite statement."""
    for start in range(0, len(items), _LIST_MOST):
        yield list(items[start : start + _LIST_MOST])


def _among(raw: Any, column: str, items: Sequence[int]) -> Iterator[tuple[str, list[Any]]]:
    """`column` among `items`, as (condition, parameters) of one statement each: one array
    parameter on PostgreSQL; on SQLite IN lists of at most `_LIST_MOST` items (999 parameters
    is the limit of builds before 3.32)."""
    if not isinstance(raw, sqlite3.Connection):
        yield f"{column} = ANY(%s)", [list(items)]
        return
    for part in _lists(items):
        yield f"{column} IN ({','.join(['%s'] * len(part))})", part


# -- reading --------------------------------------------------------------------------------------

_SELECT = "SELECT first_at, instant_bytes, value_bytes FROM measurement_blocks WHERE register_key = %s"
# The blocks from the one holding (or last before) `low` to the last one starting by `high`.
_SPAN = (
    _SELECT + " AND first_at <= %s AND first_at >= COALESCE((SELECT max(first_at) FROM measurement_blocks"
    " WHERE register_key = %s AND first_at <= %s), %s) ORDER BY first_at"
)


def _rows_to_blocks(rows: Iterable[tuple[int, bytes, bytes]]) -> list[Block]:
    return [Block(first_at, unpack(instants), unpack(values)) for first_at, instants, values in rows]


def span(raw: Any, key: int, low: int, high: int) -> list[Block]:
    """The blocks holding readings with low <= instant <= high, ascending, and before them the
    block last starting before `low` even when it ends before `low` (it may have room)."""
    return _rows_to_blocks(_fetch(raw, _SPAN, (key, high, key, low, low)))


def readings(blocks: Sequence[Block], low: int, high: int) -> tuple[list[int], list[int]]:
    """The readings of ascending `blocks` with low <= instant <= high, as parallel lists."""
    instants: list[int] = []
    values: list[int] = []
    for block in blocks:
        start = bisect_left(block.instants, low)
        stop = bisect_right(block.instants, high)
        if start == 0 and stop == len(block.instants):
            instants += block.instants
            values += block.values
        elif start < stop:
            instants += block.instants[start:stop]
            values += block.values[start:stop]
    return instants, values


# The first blocks of `_SPAN` that hold `limit` readings from `low` on: the readings of the
# blocks before each one are summed, and only the first block can hold readings before `low`.
_SPAN_LIMITED = (
    "SELECT first_at, instant_bytes, value_bytes FROM (SELECT first_at, instant_bytes, value_bytes,"
    " sum(readings) OVER (ORDER BY first_at) - readings AS before FROM measurement_blocks"
    " WHERE register_key = %s AND first_at <= %s AND first_at >= COALESCE((SELECT max(first_at)"
    " FROM measurement_blocks WHERE register_key = %s AND first_at <= %s), %s)) AS spanned"
    " WHERE before < %s ORDER BY first_at"
)


def read(raw: Any, key: int, low: int, high: int, limit: int | None) -> tuple[list[int], list[int]]:
    """Readings with low <= instant <= high, ascending; the first `limit` of them if given. One
    statement, so one snapshot even outside a transaction."""
    low, high = max(low, LOWEST), min(high, HIGHEST)
    if low > high:
        return [], []
    if limit is None:
        return readings(span(raw, key, low, high), low, high)
    rows = _fetch(raw, _SPAN_LIMITED, (key, high, key, low, low, limit + BLOCK_READINGS))
    instants, values = readings(_rows_to_blocks(rows), low, high)
    return instants[:limit], values[:limit]


_BEFORE = f"{_SELECT} AND first_at <= %s ORDER BY first_at DESC LIMIT 1"
_AROUND = (
    f"SELECT * FROM ({_BEFORE}) AS before_it UNION ALL SELECT * FROM"
    f" ({_SELECT} AND first_at > %s ORDER BY first_at LIMIT 1) AS after_it ORDER BY first_at"
)


def neighbour(raw: Any, key: int, instant: int, *, before: bool) -> tuple[int, int] | None:
    """The reading at or before `instant` (before=True), or at or after it. One statement."""
    # The block starting last at or before `instant` holds the reading at or before it; the
    # reading at or after it is in that block or is the next block's first.
    if not LOWEST <= instant <= HIGHEST:
        if (instant < LOWEST) == before:
            return None
        instant = max(min(instant, HIGHEST), LOWEST)
    sql = _BEFORE if before else _AROUND
    params = (key, instant) if before else (key, instant, key, instant)
    blocks = _rows_to_blocks(_fetch(raw, sql, params))
    for block in blocks:
        if before:
            index = bisect_right(block.instants, instant) - 1
            return block.instants[index], block.values[index]
        index = bisect_left(block.instants, instant)
        if index < len(block.instants):
            return block.instants[index], block.values[index]
    return None


# The blocks that may hold the instants of t(at): for each, the one starting last at or before it.
_HOLDING = (
    "WITH t(at) AS ({instants}) " + _SELECT + " AND first_at IN (SELECT (SELECT max(first_at)"
    " FROM measurement_blocks WHERE register_key = %s AND first_at <= t.at) FROM t) ORDER BY first_at"
)


def values_at(raw: Any, key: int, instants: Sequence[int]) -> dict[int, int]:
    """The stored values at these instants (those with none are left out), reading only the
    blocks that may hold them."""
    wanted = sorted({at for at in instants if LOWEST <= at <= HIGHEST})
    if not wanted:
        return {}
    if isinstance(raw, sqlite3.Connection):
        rows = []
        for part in _lists(wanted):
            source = "VALUES " + ",".join(["(%s)"] * len(part))
            rows += _fetch(raw, _HOLDING.format(instants=source), (*part, key, key))
    else:
        rows = _fetch(raw, _HOLDING.format(instants="SELECT unnest(%s::int8[])"), (wanted, key, key))
    blocks = _rows_to_blocks(rows)
    held = set(wanted)
    return {
        instant: value
        for block in blocks
        for instant, value in zip(block.instants, block.values, strict=True)
        if instant in held
    }


# The readings of blocks as rows (register_key, read_at, value), for SQL that wants one row per
# reading: the benchmarks' plain-SQL reference, an operator's ad-hoc query. PostgreSQL only
# (SQLite before 3.41 has no SQL that turns bytes into an integer).
ROWS_SQL = (
    "SELECT register_key,"
    " ('x' || encode(substring(instant_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint AS read_at,"
    " ('x' || encode(substring(value_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint AS value"
    " FROM measurement_blocks, generate_series(0, readings - 1) AS i"
)


def count(raw: Any, keys: Sequence[int]) -> int:
    """How many readings these registers hold."""
    sql = f"SELECT COALESCE(sum(readings), 0) FROM {TABLE} WHERE "
    return sum(
        int(_fetch(raw, sql + among, params)[0][0]) for among, params in _among(raw, "register_key", keys)
    )


# -- writing --------------------------------------------------------------------------------------


def delete(raw: Any, keys: Sequence[int]) -> None:
    """Remove every reading of these registers."""
    for among, params in _among(raw, "register_key", keys):
        _run(raw, f"DELETE FROM {TABLE} WHERE {among}", params)


# SQLite's || makes text of bytes, byte for byte in a UTF-8 database (ours), and CAST makes
# them bytes again.
_APPEND = (
    "UPDATE measurement_blocks SET last_at = %s, readings = readings + %s,"
    " instant_bytes = {concat_instants}, value_bytes = {concat_values}"
    " WHERE register_key = %s AND first_at = (SELECT max(first_at) FROM measurement_blocks"
    " WHERE register_key = %s) AND last_at < %s AND readings + %s <= %s"
)
_APPEND_PG = _APPEND.format(concat_instants="instant_bytes || %b", concat_values="value_bytes || %b")
_APPEND_SQLITE = _APPEND.format(
    concat_instants="CAST(instant_bytes || %b AS BLOB)", concat_values="CAST(value_bytes || %b AS BLOB)"
)


def insert(raw: Any, key: int, instants: Sequence[int], values: Sequence[int], *, appending: bool) -> None:
    """Store new readings (none of their instants is stored). `appending`: the caller expects
    every stored reading to be older than instants[0]; a few such readings then usually go into
    the register's last block with one UPDATE (which checks that, so a wrong guess costs only
    that statement)."""
    if not instants:
        return
    count = len(instants)
    if appending and count < BLOCK_READINGS:
        sql = _APPEND_SQLITE if isinstance(raw, sqlite3.Connection) else _APPEND_PG
        params = (
            instants[-1],
            count,
            pack(instants),
            pack(values),
            key,
            key,
            instants[0],
            count,
            BLOCK_READINGS,
        )
        if _run(raw, sql, params) == 1:
            return
    old = span(raw, key, instants[0], instants[-1])
    if old and old[0].instants[-1] < instants[0] and len(old[0].instants) == BLOCK_READINGS:
        del old[0]  # the block before the new readings is full: it stays as it is
    if not old:
        _write(raw, key, [], instants, values)
    elif len(old) == 1 and old[0].instants[-1] < instants[0]:  # appended to a block with room
        _write(raw, key, [old[0].first_at], old[0].instants + list(instants), old[0].values + list(values))
    else:  # among stored readings: merged by instant (no instant is in both)
        by_instant = dict(zip(instants, values, strict=True))
        for block in old:
            by_instant.update(zip(block.instants, block.values, strict=True))
        merged = sorted(by_instant)
        _write(raw, key, [b.first_at for b in old], merged, list(map(by_instant.__getitem__, merged)))


def update(raw: Any, key: int, instants: Sequence[int], values: Sequence[int]) -> None:
    """Replace the values of stored readings (instants not stored are left alone)."""
    if not instants:
        return
    replacing = dict(zip(instants, values, strict=True))
    changed = []
    for block in span(raw, key, min(instants), max(instants)):
        new_values = [
            replacing.get(instant, value) for instant, value in zip(block.instants, block.values, strict=True)
        ]
        if new_values != block.values:
            changed.append((pack(new_values), key, block.first_at))
    if changed:
        _run_many(
            raw, f"UPDATE {TABLE} SET value_bytes = %b WHERE register_key = %s AND first_at = %s", changed
        )


def _write(raw: Any, key: int, replaced: list[int], instants: Sequence[int], values: Sequence[int]) -> None:
    """Delete the blocks starting at `replaced`, then store the readings as full blocks."""
    for among, params in _among(raw, "first_at", replaced) if replaced else ():
        _run(raw, f"DELETE FROM {TABLE} WHERE register_key = %s AND {among}", [key, *params])
    is_pg = not isinstance(raw, sqlite3.Connection)
    rowinsert.insert_rows(raw, is_pg, TABLE, COLUMNS, _PG_TYPES, _rows(key, instants, values))


def _rows(key: int, instants: Sequence[int], values: Sequence[int]) -> list[tuple[Any, ...]]:
    """The rows of the readings cut into full blocks (the last one may have room). Each list is
    packed once and its bytes sliced per block (packing per block cost twice as much)."""
    size = BLOCK_READINGS
    instant_bytes, value_bytes = pack(instants), pack(values)
    rows = []
    for start in range(0, len(instants), size):
        stop = min(start + size, len(instants))
        low, high = 8 * start, 8 * stop
        first, last = instants[start], instants[stop - 1]
        rows.append((key, first, last, stop - start, instant_bytes[low:high], value_bytes[low:high]))
    return rows
