"""What the storage layout costs, in-process: one row per reading (the server's schema and its
insert paths before blocks, `rowtable`) against one row per register and UTC block of time (a day by
default) holding that block's readings as two packed arrays (`blockstore.pack`). Measured to size
the server's block layout, which came to bound its blocks by count rather than by span
(`blockstore`).

    python benchmarks/layouts.py [--registers 100] [--block-hours 24] [--live] [--postgres URL]

A block holds a register's readings of one UTC span of `--block-hours` (a day by default).

The rows are those of `compare.py`'s back-fill (registers × a year of 15-minute readings, 10,000 per
batch), one transaction per batch, with the server's durability (SQLite WAL and
``synchronous=FULL``; PostgreSQL ``synchronous_commit=on``). One row per reading goes in through
`rowtable.sqlite_insert` (multi-row INSERT statements, the server's SQLite path before blocks) and a
binary COPY built by byte slicing (`_pg_copy_rows`, what the server did before it kept blocks).
Blocks: a batch's readings are split by UTC block; a block the previous batch already began is read,
extended and updated, the other blocks are inserted (SQLite: one multi-row INSERT; PostgreSQL:
binary COPY). Only appends in order are measured: a real block layout would also merge, diff and
keep conflicts per reading. Every reading is read back and compared with what was sent before a
figure counts.

With ``--live``, the same two layouts under live traffic instead: every register gets one new
reading per round, each reading its own statement (as one request each stores it), one
transaction per round (as a group of concurrent requests shares one COMMIT), for a week of
15-minute readings and for a day of one-minute readings (a day block then grows to 1,440
readings, about 23 KB, rewritten by each append). Rows: one INSERT per reading. Day blocks: the
reading is appended to its block (PostgreSQL: one ``INSERT … ON CONFLICT DO UPDATE``
concatenating the arrays; SQLite: the block read and written back). PostgreSQL also reports the
WAL it wrote per reading.
"""

from __future__ import annotations

import argparse
import sqlite3
import struct
import tempfile
import time
from bisect import bisect_left
from itertools import chain
from pathlib import Path
from typing import Any

import compare
import limits
import rowtable
from harness import throwaway_database

from zevvy_server.metering import blockstore

BLOCKS_TABLE = (
    "CREATE TABLE reading_blocks (register_key BIGINT NOT NULL, block BIGINT NOT NULL,"
    " instants {blob} NOT NULL, vals {blob} NOT NULL, PRIMARY KEY (register_key, block))"
)


def _pg_copy_rows(conn: Any, key: int, instants: list[int], values: list[int]) -> None:
    """One row per reading by binary COPY, the rows built by slicing instead of row by row: a
    template row repeated, then each byte of each column's big-endian numbers placed with one
    strided slice assignment."""
    fields: list[int | list[int]] = [key, instants, values]
    width = 2 + 12 * len(fields)
    template = struct.pack(">h", len(fields)) + b"".join(
        struct.pack(">iq", 8, field if isinstance(field, int) else 0) for field in fields
    )
    out = bytearray(template * len(instants))
    for index, field in enumerate(fields):
        if isinstance(field, int):
            continue
        data = blockstore.pack(field)
        offset = 6 + 12 * index  # past the field count, the earlier fields and this length
        for byte in range(8):
            out[offset + byte :: width] = data[byte::8]
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY measurements (register_key, read_at, value) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8) + bytes(out) + b"\xff\xff")


def span_blocks(instants: list[int], values: list[int], span_us: int) -> list[tuple[int, bytes, bytes]]:
    """(number of the UTC block of `span_us`, packed instants, packed values) of ascending
    readings: one per block they fall in."""
    blocks = []
    start = 0
    while start < len(instants):
        number = instants[start] // span_us
        stop = bisect_left(instants, (number + 1) * span_us, start)
        blocks.append((number, blockstore.pack(instants[start:stop]), blockstore.pack(values[start:stop])))
        start = stop
    return blocks


def _extend_first_block(
    conn: Any, key: int, blocks: list[tuple[int, bytes, bytes]], mark: str, lock: str = ""
) -> list[tuple[int, bytes, bytes]]:
    """When the batch's first block is stored already (the batch before began it), append to it
    in place; the blocks left to insert. `mark` is the driver's placeholder."""
    number, instants, values = blocks[0]
    found = conn.execute(
        f"SELECT instants, vals FROM reading_blocks WHERE register_key = {mark} AND block = {mark}{lock}",
        (key, number),
    ).fetchone()
    if not found:
        return blocks
    conn.execute(
        f"UPDATE reading_blocks SET instants = {mark}, vals = {mark} WHERE register_key = {mark} AND block = {mark}",
        (bytes(found[0]) + instants, bytes(found[1]) + values, key, number),
    )
    return blocks[1:]


Transaction = list[limits.Batch]  # what one transaction stores, batch after batch


def sqlite_rates(transactions: list[Transaction], span_us: int) -> dict[str, float]:
    """Readings/s into SQLite, one row per reading and blocks, each on a fresh database."""
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
            for transaction in transactions:
                conn.execute("BEGIN IMMEDIATE")
                for key, instants, values in transaction:
                    if layout == "rows":
                        rowtable.sqlite_insert(conn, key, instants, values)
                    else:
                        _sqlite_blocks(conn, key, span_blocks(instants, values, span_us))
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - started
            _check(transactions, _read_stored(conn, layout))
            conn.close()
        rates[f"sqlite_{layout}"] = _count(transactions) / elapsed
    return rates


def _sqlite_blocks(conn: sqlite3.Connection, key: int, blocks: list[tuple[int, bytes, bytes]]) -> None:
    blocks = _extend_first_block(conn, key, blocks, "?")
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
    sql = "SELECT register_key, instants, vals FROM reading_blocks ORDER BY register_key, block"
    for key, instants, values in conn.execute(sql):
        entry = stored.setdefault(key, ([], []))
        entry[0].extend(blockstore.unpack(instants))
        entry[1].extend(blockstore.unpack(values))
    return stored


# A single reading appended to its block in one statement, as a live request would.
_APPEND_TO_BLOCK = (
    "INSERT INTO reading_blocks VALUES (%s, %s, %s, %s) ON CONFLICT (register_key, block) DO UPDATE"
    " SET instants = reading_blocks.instants || excluded.instants,"
    " vals = reading_blocks.vals || excluded.vals"
)
_INSERT_ROW = "INSERT INTO measurements (register_key, read_at, value) VALUES (%s, %s, %s)"


def postgres_rates(url: str, transactions: list[Transaction], span_us: int) -> dict[str, float]:
    """Readings/s into PostgreSQL, one row per reading and blocks, each in a fresh database, and
    the WAL bytes written per reading. A single reading is one statement (INSERT; a block's
    upsert), more go in by binary COPY."""
    import psycopg

    rates = {}
    for layout in ("rows", "blocks"):
        with throwaway_database(url, Path("/tmp")) as database_url:
            if layout == "rows":
                limits._schema(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
            with psycopg.connect(database_url, options="-c synchronous_commit=on") as conn:
                if layout == "blocks":
                    conn.execute(BLOCKS_TABLE.format(blob="BYTEA"))
                wal_before = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
                conn.commit()
                started = time.perf_counter()
                for transaction in transactions:
                    for key, instants, values in transaction:
                        if layout == "rows" and len(instants) == 1:
                            conn.execute(_INSERT_ROW, (key, instants[0], values[0]))
                        elif layout == "rows":
                            _pg_copy_rows(conn, key, instants, values)
                        elif len(instants) == 1:
                            block = (
                                instants[0] // span_us,
                                blockstore.pack(instants),
                                blockstore.pack(values),
                            )
                            conn.execute(_APPEND_TO_BLOCK, (key, *block))
                        else:
                            _postgres_blocks(conn, key, span_blocks(instants, values, span_us))
                    conn.commit()
                elapsed = time.perf_counter() - started
                wal = conn.execute(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", (wal_before,)
                ).fetchone()[0]
                conn.commit()
                _check(transactions, _read_stored(conn, layout))
        rates[f"postgresql_{layout}"] = _count(transactions) / elapsed
        rates[f"postgresql_{layout}_wal_bytes"] = float(wal) / _count(transactions)
    return rates


def _postgres_blocks(conn: Any, key: int, blocks: list[tuple[int, bytes, bytes]]) -> None:
    blocks = _extend_first_block(conn, key, blocks, "%s", " FOR UPDATE")
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY reading_blocks FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "int8", "bytea", "bytea"])
        for number, instants, values in blocks:
            copy.write_row((key, number, instants, values))


def live_transactions(registers: int, step_s: int, days: int) -> list[Transaction]:
    """Rounds of live readings, one transaction each: every register one reading per `step_s`
    seconds from 2025-01-01 (cumulative counters), for `days` days."""
    start = compare.START_S * 1_000_000
    rounds = []
    for n in range(days * 86_400 // step_s):
        instant = start + n * step_s * 1_000_000
        rounds.append([(key, [instant], [(n + key) * 250_000]) for key in range(1, registers + 1)])
    return rounds


def _count(transactions: list[Transaction]) -> int:
    return sum(len(batch[1]) for transaction in transactions for batch in transaction)


def _check(transactions: list[Transaction], stored: dict[int, tuple[list[int], list[int]]]) -> None:
    sent: dict[int, tuple[list[int], list[int]]] = {}
    for key, instants, values in chain.from_iterable(transactions):
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
    parser.add_argument("--live", action="store_true", help="live rounds instead of the back-fill")
    parser.add_argument(
        "--block-hours", type=int, default=24, help="the UTC span of a block (a divisor of 24)"
    )
    args = parser.parse_args()
    if args.block_hours <= 0 or 24 % args.block_hours:
        parser.error("--block-hours must divide 24")
    span_us = args.block_hours * 3_600_000_000
    if args.live:
        live_main(args.registers, args.postgres, span_us)
        return
    data = compare.Dataset(args.registers, args.batch)
    transactions = [[batch] for batch in compare.limit_batches(data)]
    rates = sqlite_rates(transactions, span_us)
    if args.postgres:
        rates.update(postgres_rates(args.postgres, transactions, span_us))
    count = _count(transactions)
    print(f"{args.registers} registers, {count:,} readings, {args.batch:,} per transaction")
    for name, rate in rates.items():
        unit = "bytes of WAL per reading" if name.endswith("_wal_bytes") else "readings/s"
        print(f"  {name:28s} {rate:12,.0f} {unit}")
    for database in ("sqlite", "postgresql"):
        if f"{database}_rows" in rates:
            ratio = rates[f"{database}_blocks"] / rates[f"{database}_rows"]
            print(f"  {database}: {span_us // 3_600_000_000} h blocks {ratio:.1f}× one row per reading")


def live_main(registers: int, postgres: str | None, span_us: int) -> None:
    """Live rounds at two cadences on SQLite and, with `postgres`, on PostgreSQL; print the rates."""
    for label, step_s, days in (
        ("15-minute readings, 7 days", 900, 7),
        ("one-minute readings, 1 day", 60, 1),
    ):
        rounds = live_transactions(registers, step_s, days)
        rates = sqlite_rates(rounds, span_us)
        if postgres:
            rates.update(postgres_rates(postgres, rounds, span_us))
        print(f"live: {registers} registers, {label}: {len(rounds):,} rounds, one transaction each")
        for database in ("sqlite", "postgresql"):
            if f"{database}_rows" not in rates:
                continue
            rows, blocks = rates[f"{database}_rows"], rates[f"{database}_blocks"]
            line = (
                f"  {database:10s} rows {rows:9,.0f} readings/s,"
                f" {span_us // 3_600_000_000} h blocks {blocks:9,.0f} ({blocks / rows:.2f}×)"
            )
            if database == "postgresql":
                line += (
                    f"; WAL per reading: rows {rates['postgresql_rows_wal_bytes']:,.0f} B,"
                    f" blocks {rates['postgresql_blocks_wal_bytes']:,.0f} B"
                )
            print(line)


if __name__ == "__main__":
    main()
