"""PostgreSQL's readings: blocks of up to `BLOCK_READINGS` consecutive readings of one register.

One row of ``measurement_blocks`` holds a run of a register's readings: their instants and values
as big-endian 64-bit integers packed into two ``bytea`` columns, the first and last instant, and
how many there are. Blocks of a register never overlap; each holds ascending unique instants.
The primary key (register, first instant) finds the blocks of any span with one index range.

Why: on PostgreSQL a reading stored as its own row costs a heap tuple and an index entry, and the
index entry is most of a back-fill's time (see docs/performance.md). A block of 100 readings is
one tuple and one index entry, written with one COPY row. A live reading is appended to its
register's last block by one UPDATE that concatenates the bytes, as long as the block has room.

Writes keep the layout compact: readings sent among stored ones are merged with the blocks they
fall into and the block just before them (when it has room), and the result is cut again into
full blocks from the first one on. The block sizes stay below PostgreSQL's TOAST threshold
(about 2 kB), so no block is compressed or moved out of line.

Every function works through the psycopg connection of the caller's transaction; the caller
holds the register's row lock (`rowstore.lock_registers` or the register's own look-up), so no
two transactions rewrite one register's blocks at once.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

BLOCK_READINGS = 100  # readings per block: 2 x 800 bytes of data, below the TOAST threshold
TABLE = "measurement_blocks"
COLUMNS = ("register_key", "first_at", "last_at", "readings", "instant_bytes", "value_bytes")
# Up to this many blocks go to PostgreSQL as one INSERT (one round trip), more as a COPY.
INSERT_BLOCKS = 8

_LITTLE = sys.byteorder == "little"


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
    with raw.cursor() as cursor:
        cursor.execute(_SPAN, (key, high, key, low, low))
        return _rows_to_blocks(cursor.fetchall())


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
    if limit is None:
        return readings(span(raw, key, low, high), low, high)
    with raw.cursor() as cursor:
        cursor.execute(_SPAN_LIMITED, (key, high, key, low, low, limit + BLOCK_READINGS))
        instants, values = readings(_rows_to_blocks(cursor.fetchall()), low, high)
    return instants[:limit], values[:limit]


def neighbour(raw: Any, key: int, instant: int, *, before: bool) -> tuple[int, int] | None:
    """The reading at or before `instant` (before=True), or at or after it. One statement."""
    # The block starting last at or before `instant` holds the reading at or before it; the
    # reading at or after it is in that block or is the next block's first.
    sql = f"({_SELECT} AND first_at <= %s ORDER BY first_at DESC LIMIT 1)"
    params: tuple[int, ...] = (key, instant)
    if not before:
        sql += f" UNION ALL ({_SELECT} AND first_at > %s ORDER BY first_at LIMIT 1) ORDER BY first_at"
        params += (key, instant)
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        blocks = _rows_to_blocks(cursor.fetchall())
    for block in blocks:
        if before:
            index = bisect_right(block.instants, instant) - 1
            return block.instants[index], block.values[index]
        index = bisect_left(block.instants, instant)
        if index < len(block.instants):
            return block.instants[index], block.values[index]
    return None


# The block that may hold each of the instants: the one starting last at or before it.
_HOLDING = (
    "SELECT DISTINCT ON (b.first_at) b.first_at, b.instant_bytes, b.value_bytes"
    " FROM unnest(%s::int8[]) AS t(at) CROSS JOIN LATERAL (" + _SELECT + " AND first_at <= t.at"
    " ORDER BY first_at DESC LIMIT 1) AS b ORDER BY b.first_at"
)


def values_at(raw: Any, key: int, instants: Sequence[int]) -> dict[int, int]:
    """The stored values at these instants (those with none are left out), reading only the
    blocks that may hold them."""
    wanted = set(instants)
    with raw.cursor() as cursor:
        cursor.execute(_HOLDING, (sorted(wanted), key))
        blocks = _rows_to_blocks(cursor.fetchall())
    return {
        instant: value
        for block in blocks
        for instant, value in zip(block.instants, block.values, strict=True)
        if instant in wanted
    }


# The readings of blocks as rows (register_key, read_at, value), for SQL that wants one row per
# reading: the benchmarks' plain-SQL reference, an operator's ad-hoc query.
ROWS_SQL = (
    "SELECT register_key,"
    " ('x' || encode(substring(instant_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint AS read_at,"
    " ('x' || encode(substring(value_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint AS value"
    " FROM measurement_blocks, generate_series(0, readings - 1) AS i"
)


def count(raw: Any, keys: Sequence[int]) -> int:
    """How many readings these registers hold."""
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(sum(readings), 0) FROM measurement_blocks WHERE register_key = ANY(%s)",
            (list(keys),),
        )
        return int(cursor.fetchone()[0])


# -- writing --------------------------------------------------------------------------------------


def delete(raw: Any, keys: Sequence[int]) -> None:
    """Remove every reading of these registers."""
    with raw.cursor() as cursor:
        cursor.execute("DELETE FROM measurement_blocks WHERE register_key = ANY(%s)", (list(keys),))


_APPEND = (
    "UPDATE measurement_blocks SET last_at = %s, readings = readings + %s,"
    " instant_bytes = instant_bytes || %b, value_bytes = value_bytes || %b"
    " WHERE register_key = %s AND first_at = (SELECT max(first_at) FROM measurement_blocks"
    " WHERE register_key = %s) AND last_at < %s AND readings + %s <= %s"
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
        with raw.cursor() as cursor:
            cursor.execute(
                _APPEND,
                (
                    instants[-1],
                    count,
                    pack(instants),
                    pack(values),
                    key,
                    key,
                    instants[0],
                    count,
                    BLOCK_READINGS,
                ),
            )
            if cursor.rowcount == 1:
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
        with raw.cursor() as cursor:
            cursor.executemany(
                "UPDATE measurement_blocks SET value_bytes = %b WHERE register_key = %s AND first_at = %s",
                changed,
            )


def _write(raw: Any, key: int, replaced: list[int], instants: Sequence[int], values: Sequence[int]) -> None:
    """Delete the blocks starting at `replaced`, then store the readings as full blocks."""
    with raw.cursor() as cursor:
        if replaced:
            cursor.execute(
                "DELETE FROM measurement_blocks WHERE register_key = %s AND first_at = ANY(%s)",
                (key, replaced),
            )
        starts = range(0, len(instants), BLOCK_READINGS)
        if len(starts) <= INSERT_BLOCKS:
            rows = [_row(key, instants, values, start) for start in starts]
            sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES " + ",".join(
                ["(%s,%s,%s,%s,%b,%b)"] * len(rows)
            )
            cursor.execute(sql, list(chain.from_iterable(rows)))
            return
        with cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"".join(_copy_rows(key, instants, values, starts)))


def _row(key: int, instants: Sequence[int], values: Sequence[int], start: int) -> tuple[Any, ...]:
    stop = start + BLOCK_READINGS
    part = instants[start:stop]
    return key, part[0], part[-1], len(part), pack(part), pack(values[start:stop])


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_COPY_FIELDS = struct.Struct(">hiqiqiqii")  # 6 fields: key, first, last (int8), readings (int4)


def _copy_rows(key: int, instants: Sequence[int], values: Sequence[int], starts: range) -> Iterator[bytes]:
    """The blocks in PostgreSQL's binary COPY format, header and trailer included."""
    yield _COPY_HEADER
    for start in starts:
        part = instants[start : start + BLOCK_READINGS]
        instant_bytes = pack(part)
        value_bytes = pack(values[start : start + BLOCK_READINGS])
        yield _COPY_FIELDS.pack(6, 8, key, 8, part[0], 8, part[-1], 4, len(part))
        yield struct.pack(">i", len(instant_bytes)) + instant_bytes
        yield struct.pack(">i", len(value_bytes)) + value_bytes
    yield _COPY_TRAILER
