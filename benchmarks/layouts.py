"""What the storage layout costs, in-process: one row per reading (the server's schema and its
insert paths) against one row per register and UTC day holding that day's readings as two
packed arrays (a layout the server does not have; measured to size the next step).

    python benchmarks/layouts.py [--registers 100] [--postgres URL]

The rows are those of `compare.py`'s back-fill (registers × a year of 15-minute readings,
10,000 per batch), one transaction per batch, with the server's durability (SQLite WAL and
``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``). One row per reading goes in through
the server's own functions: `rowstore.sqlite_insert` (multi-row INSERT statements) and
`rowstore.pg_copy_int8` (binary COPY). Day blocks: a batch's readings are split by UTC day; a
day the previous batch already began is read, extended and updated, the other days are
inserted (SQLite: one multi-row INSERT; PostgreSQL: binary COPY). Only appends in order are
measured: a real block layout would also merge, diff and keep conflicts per reading. Every
reading is read back and compared with what was sent before a figure counts.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from array import array
from bisect import bisect_left
from itertools import chain
from pathlib import Path
from typing import Any

import compare
import limits
from harness import throwaway_database

from zevvy_server.metering import rowstore

DAY_US = 86_400 * 1_000_000
BLOCKS_TABLE = (
    "CREATE TABLE reading_blocks (register_key BIGINT NOT NULL, day BIGINT NOT NULL,"
    " instants {blob} NOT NULL, vals {blob} NOT NULL, PRIMARY KEY (register_key, day))"
)


def _packed(numbers: list[int]) -> bytes:
    return array("q", numbers).tobytes()


def _unpacked(data: bytes) -> list[int]:
    numbers = array("q")
    numbers.frombytes(data)
    return numbers.tolist()


def day_blocks(instants: list[int], values: list[int]) -> list[tuple[int, bytes, bytes]]:
    """(UTC day, packed instants, packed values) of ascending readings."""
    blocks = []
    start = 0
    while start < len(instants):
        day = instants[start] // DAY_US
        stop = bisect_left(instants, (day + 1) * DAY_US, start)
        blocks.append((day, _packed(instants[start:stop]), _packed(values[start:stop])))
        start = stop
    return blocks


def _extend_first_day(
    conn: Any, key: int, blocks: list[tuple[int, bytes, bytes]], mark: str, lock: str = ""
) -> list[tuple[int, bytes, bytes]]:
    """When the batch's first day is stored already (the batch before began it), append to that
    block in place; the blocks left to insert. `mark` is the driver's placeholder."""
    day, instants, values = blocks[0]
    found = conn.execute(
        f"SELECT instants, vals FROM reading_blocks WHERE register_key = {mark} AND day = {mark}{lock}",
        (key, day),
    ).fetchone()
    if not found:
        return blocks
    conn.execute(
        f"UPDATE reading_blocks SET instants = {mark}, vals = {mark} WHERE register_key = {mark} AND day = {mark}",
        (bytes(found[0]) + instants, bytes(found[1]) + values, key, day),
    )
    return blocks[1:]


def sqlite_rates(batches: list[limits.Batch]) -> dict[str, float]:
    """Readings/s into SQLite, one row per reading and day blocks, each on a fresh database."""
    rates = {}
    for layout in ("rows", "blocks"):
        with tempfile.TemporaryDirectory(prefix="zevvy-bench-layout-") as tmp:
            path = Path(tmp) / "layout.db"
            if layout == "rows":
                limits._schema(f"sqlite:///{path}")
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            if layout == "blocks":
                conn.execute(BLOCKS_TABLE.format(blob="BLOB") + " WITHOUT ROWID")
            started = time.perf_counter()
            for key, instants, values in batches:
                conn.execute("BEGIN IMMEDIATE")
                if layout == "rows":
                    rowstore.sqlite_insert(conn, key, instants, values)
                else:
                    _sqlite_blocks(conn, key, day_blocks(instants, values))
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - started
            _check(batches, _read_stored(conn, layout))
            conn.close()
        rates[f"sqlite_{layout}"] = sum(len(b[1]) for b in batches) / elapsed
    return rates


def _sqlite_blocks(conn: sqlite3.Connection, key: int, blocks: list[tuple[int, bytes, bytes]]) -> None:
    blocks = _extend_first_day(conn, key, blocks, "?")
    if blocks:
        sql = "INSERT INTO reading_blocks VALUES " + ",".join(["(?1,?,?,?)"] * len(blocks))
        conn.execute(sql, [key, *chain.from_iterable(blocks)])


def _read_stored(conn: Any, layout: str) -> dict[int, tuple[list[int], list[int]]]:
    """Every stored reading per register, ascending, from either driver's connection."""
    stored: dict[int, tuple[list[int], list[int]]] = {}
    if layout == "rows":
        sql = "SELECT register_key, read_at, value FROM measurements ORDER BY register_key, read_at"
        for key, instant, value in conn.execute(sql):
            entry = stored.setdefault(key, ([], []))
            entry[0].append(instant)
            entry[1].append(value)
        return stored
    sql = "SELECT register_key, instants, vals FROM reading_blocks ORDER BY register_key, day"
    for key, instants, values in conn.execute(sql):
        entry = stored.setdefault(key, ([], []))
        entry[0].extend(_unpacked(instants))
        entry[1].extend(_unpacked(values))
    return stored


def postgres_rates(url: str, batches: list[limits.Batch]) -> dict[str, float]:
    """Readings/s into PostgreSQL, one row per reading and day blocks, each in a fresh database."""
    import psycopg

    rates = {}
    for layout in ("rows", "blocks"):
        with throwaway_database(url, Path("/tmp")) as database_url:
            if layout == "rows":
                limits._schema(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
            with psycopg.connect(database_url, options="-c synchronous_commit=on") as conn:
                if layout == "blocks":
                    conn.execute(BLOCKS_TABLE.format(blob="BYTEA"))
                conn.commit()
                started = time.perf_counter()
                for key, instants, values in batches:
                    if layout == "rows":
                        columns = rowstore.READING_COLUMNS
                        rowstore.pg_copy_int8(conn, "measurements", columns, (key, instants, values))
                    else:
                        _postgres_blocks(conn, key, day_blocks(instants, values))
                    conn.commit()
                elapsed = time.perf_counter() - started
                _check(batches, _read_stored(conn, layout))
        rates[f"postgresql_{layout}"] = sum(len(b[1]) for b in batches) / elapsed
    return rates


def _postgres_blocks(conn: Any, key: int, blocks: list[tuple[int, bytes, bytes]]) -> None:
    blocks = _extend_first_day(conn, key, blocks, "%s", " FOR UPDATE")
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY reading_blocks FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "int8", "bytea", "bytea"])
        for day, instants, values in blocks:
            copy.write_row((key, day, instants, values))


def _check(batches: list[limits.Batch], stored: dict[int, tuple[list[int], list[int]]]) -> None:
    sent: dict[int, tuple[list[int], list[int]]] = {}
    for key, instants, values in batches:
        entry = sent.setdefault(key, ([], []))
        entry[0].extend(instants)
        entry[1].extend(values)
    if stored != sent:
        raise AssertionError("the stored readings differ from those sent")


def main() -> None:
    """Measure both layouts on SQLite and, with --postgres, on PostgreSQL; print rates and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--registers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    data = compare.Dataset(args.registers, args.batch)
    batches = compare.limit_batches(data)
    rates = sqlite_rates(batches)
    if args.postgres:
        rates.update(postgres_rates(args.postgres, batches))
    count = sum(len(b[1]) for b in batches)
    print(f"{args.registers} registers, {count:,} readings, {args.batch:,} per transaction")
    for name, rate in rates.items():
        print(f"  {name:20s} {rate:12,.0f} readings/s")
    for database in ("sqlite", "postgresql"):
        if f"{database}_rows" in rates:
            ratio = rates[f"{database}_blocks"] / rates[f"{database}_rows"]
            print(f"  {database}: day blocks {ratio:.1f}× one row per reading")


if __name__ == "__main__":
    main()
