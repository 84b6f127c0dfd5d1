"""The storage's own limits, in-process: the same rows, our schema, our value encoding (epoch µs,
micro-units) and our durability (SQLite WAL + ``synchronous=FULL``; PostgreSQL
``synchronous_commit=on``), through the database driver alone, one transaction per batch.

Our schema is blocks of readings on both databases (see the server's `blockstore`); both are also
measured with one row per reading (`rowtable`: on SQLite two ways to INSERT, on PostgreSQL a
binary COPY and two merges into the row table), the layout the server had before and the one
plain SQL reads best.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from itertools import repeat
from pathlib import Path

import rowtable
from sqlalchemy import create_engine

from zevvy_server.metering import blockstore, rowstore
from zevvy_server.metering.models import MeasurementBlock

Batch = tuple[int, list[int], list[int]]  # (register key, instants µs, values µ-units)


def _schema(url: str) -> None:
    engine = create_engine(url)
    try:
        rowtable.create(engine)
        MeasurementBlock.__table__.create(engine)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def interleaved(batches: list[Batch], clients: int) -> list[Batch]:
    """`batches` (register after register) in the order `clients` clients that each take every
    `clients`-th register send them, moving in step: the registers of a group of `clients`
    take turns, batch by batch."""
    by_register: dict[int, list[Batch]] = {}
    for batch in batches:
        by_register.setdefault(batch[0], []).append(batch)
    registers = list(by_register.values())
    out = []
    for first in range(0, len(registers), clients):
        group = registers[first : first + clients]
        for step in range(max(len(r) for r in group)):
            out.extend(r[step] for r in group if step < len(r))
    return out


SQLITE_WAYS = ("blocks", "blocks_4_interleaved", "executemany", "values", "values_4_interleaved")


def sqlite_insert(batches: list[Batch], ways: tuple[str, ...] = SQLITE_WAYS) -> dict[str, float]:
    """Readings/s into SQLite, ``BEGIN IMMEDIATE … COMMIT`` per batch, each way on a fresh
    database. Our blocks through the server's own block functions (`blockstore.insert`,
    appending; every reading read back): the storage's limit. One row per reading, for
    reference: plain ``executemany`` (one run of the statement per row) and multi-row ``INSERT …
    VALUES`` statements (`rowtable.sqlite_insert`, what the server did before blocks). Blocks and
    multi-row rows again with the batches in the order four clients send them (`interleaved`):
    as rows only the register with the table's highest key appends at the end of the table's
    B-tree; the others insert inside it, where SQLite finds the place of each row from the root."""
    rates = {}
    for name in ways:
        order = interleaved(batches, 4) if name.endswith("_4_interleaved") else batches
        with tempfile.TemporaryDirectory(prefix="zevvy-bench-limit-") as tmp:
            path = Path(tmp) / "limit.db"
            _schema(f"sqlite:///{path}")
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            sql = "INSERT INTO measurements (register_key, read_at, value) VALUES (?, ?, ?)"
            rows = 0
            started = time.perf_counter()
            for key, instants, values in order:
                conn.execute("BEGIN IMMEDIATE")
                if name.startswith("blocks"):
                    blockstore.insert(conn, key, instants, values, appending=True)
                elif name == "executemany":
                    conn.executemany(sql, zip(repeat(key), instants, values))
                else:
                    rowtable.sqlite_insert(conn, key, instants, values)
                conn.execute("COMMIT")
                rows += len(instants)
            elapsed = time.perf_counter() - started
            if name.startswith("blocks"):
                _check_blocks(conn, batches, f"SQLite {name}")
            else:
                stored = conn.execute("SELECT count(*) FROM measurements").fetchone()[0]
                if stored != rows:
                    raise AssertionError(f"SQLite {name}: {stored} rows stored of {rows}")
            conn.close()
        prefix = "sqlite_" if name.startswith("blocks") else "sqlite_insert_"
        rates[prefix + name] = rows / elapsed
    return rates


def _check_blocks(conn: object, batches: list[Batch], what: str) -> None:
    """Every register's readings read back from the blocks equal the batches sent."""
    for key in {b[0] for b in batches}:
        stored = blockstore.read(conn, key, rowstore.LOWEST, rowstore.HIGHEST, None)
        sent = [b for b in batches if b[0] == key]
        if stored != ([t for b in sent for t in b[1]], [v for b in sent for v in b[2]]):
            raise AssertionError(f"{what}: register {key} not stored as sent")


def postgres_copy(database_url: str, batches: list[Batch]) -> float:
    """Rows/s of binary COPY into the measurements table, one transaction per batch."""
    import psycopg

    _schema(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    rows = 0
    with psycopg.connect(database_url, options="-c synchronous_commit=on") as conn:
        started = time.perf_counter()
        for key, instants, values in batches:
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(
                    "COPY measurements (register_key, read_at, value) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int8", "int8", "int8"])
                for row in zip(repeat(key), instants, values):
                    copy.write_row(row)
            rows += len(instants)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE measurements, measurement_blocks")
        conn.commit()
    return rows / elapsed


def postgres_blocks(database_url: str, batches: list[Batch]) -> float:
    """Readings/s stored as our blocks through the server's own block functions
    (`blockstore.insert`, appending), one transaction per batch; every reading read back."""
    import psycopg

    _schema(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    rows = 0
    with psycopg.connect(database_url, options="-c synchronous_commit=on") as conn:
        started = time.perf_counter()
        for key, instants, values in batches:
            with conn.transaction():
                blockstore.insert(conn, key, instants, values, appending=True)
            rows += len(instants)
        elapsed = time.perf_counter() - started
        _check_blocks(conn, batches, "PostgreSQL blocks")
        conn.execute("DROP TABLE measurements, measurement_blocks")
        conn.commit()
    return rows / elapsed


def postgres_merge(database_url: str, batches: list[Batch]) -> dict[str, float]:
    """Rows/s of three merges with the full per-row outcome (created / unchanged / changed), on
    batches that overlap stored readings. Into one row per reading: (a) COPY into a temporary
    table and one set-based statement; (b) SELECT the batch's range, diff in Python (a batch
    that begins with exactly the stored rows split by one list comparison, as the server does),
    COPY only the new rows. Into our blocks: (c) the same diff on the blocks' readings, then the
    new readings stored by `blockstore.insert`. Each batch runs after locking its register (as
    the server does) in its own transaction."""
    import psycopg

    _schema(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    rates: dict[str, float] = {}
    with psycopg.connect(database_url, options="-c synchronous_commit=on") as conn:
        conn.execute("CREATE TEMP TABLE incoming (read_at bigint, value bigint) ON COMMIT DELETE ROWS")
        conn.commit()
        for name in ("temp_table_merge", "select_diff_copy", "block_merge"):
            conn.execute("TRUNCATE measurements, measurement_blocks")
            conn.commit()
            rows = 0
            started = time.perf_counter()
            for key, instants, values in batches:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                    if name == "temp_table_merge":
                        with cur.copy("COPY incoming (read_at, value) FROM STDIN (FORMAT BINARY)") as copy:
                            copy.set_types(["int8", "int8"])
                            for row in zip(instants, values, strict=True):
                                copy.write_row(row)
                        cur.execute(
                            "WITH added AS (INSERT INTO measurements (register_key, read_at, value)"
                            " SELECT %(k)s, read_at, value FROM incoming ON CONFLICT DO NOTHING RETURNING 1)"
                            " SELECT (SELECT count(*) FROM added), i.read_at, m.value, i.value FROM incoming i"
                            " JOIN measurements m ON m.register_key = %(k)s AND m.read_at = i.read_at"
                            " AND m.read_at BETWEEN %(lo)s AND %(hi)s WHERE m.value <> i.value",
                            {"k": key, "lo": instants[0], "hi": instants[-1]},
                        )
                        cur.fetchall()
                    elif name == "block_merge":
                        _block_merge(conn, key, instants, values)
                    else:
                        cur.execute(
                            "SELECT read_at, value FROM measurements WHERE register_key = %s"
                            " AND read_at BETWEEN %s AND %s ORDER BY read_at",
                            (key, instants[0], instants[-1]),
                        )
                        new_instants, new_values = _new_readings(cur.fetchall(), instants, values)
                        new = [(key, t, v) for t, v in zip(new_instants, new_values, strict=True)]
                        if new:
                            with cur.copy(
                                "COPY measurements (register_key, read_at, value) FROM STDIN (FORMAT BINARY)"
                            ) as copy:
                                copy.set_types(["int8", "int8", "int8"])
                                for row in new:
                                    copy.write_row(row)
                rows += len(instants)
            rates[name] = rows / (time.perf_counter() - started)
        conn.execute("DROP TABLE measurements, measurement_blocks")
        conn.commit()
    return rates


def _new_readings(
    held: list[tuple[int, int]], instants: list[int], values: list[int]
) -> tuple[list[int], list[int]]:
    """The readings of a batch not among the `held` (stored) ones of its range, with the
    per-reading outcome computed as the server does: a batch that begins with exactly the stored
    readings is split by one list comparison, any other is diffed reading by reading."""
    count = len(held)
    if 0 < count < len(instants) and held == list(zip(instants[:count], values[:count], strict=True)):
        return instants[count:], values[count:]
    stored = dict(held)
    new = [(t, v) for t, v in zip(instants, values, strict=True) if t not in stored]
    changed = [t for t, v in zip(instants, values, strict=True) if stored.get(t, v) != v]
    del changed
    return [t for t, _ in new], [v for _, v in new]


def _block_merge(conn: object, key: int, instants: list[int], values: list[int]) -> None:
    """One batch merged into our blocks with the per-reading outcome, as the server's ingest
    does on PostgreSQL: the stored readings of the batch's range, then only the new ones stored."""
    held_instants, held_values = blockstore.read(conn, key, instants[0], instants[-1], None)
    held = list(zip(held_instants, held_values, strict=True))
    new_instants, new_values = _new_readings(held, instants, values)
    appending = not held_instants or new_instants[:1] > held_instants[-1:]
    blockstore.insert(conn, key, new_instants, new_values, appending=bool(appending))
