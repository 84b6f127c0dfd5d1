"""Stored readings through the database driver: the only code that reads or writes them.

Readings travel as parallel lists of integers; no ORM object is built per reading. Both databases
keep them in blocks (`blockstore`), written inside the caller's transaction (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: after the caller has locked the register row). Other tables' rows in
bulk, such as the daily summaries, go through `insert_rows`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from zevvy_server.metering import blockstore

# Rows per SQLite INSERT statement, largest first. One statement of many rows runs the insert
# program once instead of once per row as ``executemany`` does (see docs/performance.md), and
# each statement lets go of the GIL once: under concurrent requests a thread waits up to the
# interpreter's switch interval to get it back, so a request's rows go in few statements.
# Fixed sizes keep the prepared statements few (each is cached per connection); only the last,
# shorter statement has a size of its own. The build's bound-parameter limit caps them (999
# parameters before SQLite 3.32).
STATEMENT_ROWS = (8_192, 1_024)


def statement_spans(count: int, most: int) -> list[tuple[int, int]]:
    """How `count` rows are split into statements of at most `most` rows: (start, stop) spans of
    the sizes in `STATEMENT_ROWS` as long as they fill up, then one shorter span."""
    spans = []
    start = 0
    for size in STATEMENT_ROWS:
        size = min(size, most)
        while count - start >= size:
            spans.append((start, start + size))
            start += size
    if start < count:
        spans.append((start, count))
    return spans


@lru_cache(maxsize=64)
def _rows_insert(table: str, columns: tuple[str, ...], rows: int, mark: str = "?") -> str:
    """A multi-row INSERT of `rows` rows into `columns`, with the driver's placeholder `mark`."""
    row = "(" + ",".join([mark] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ",".join([row] * rows)


@contextmanager
def _binary_copy(connection: Any, table: str, columns: Sequence[str]) -> Iterator[Any]:
    """A psycopg COPY into `columns` of `table` in binary format, in the caller's transaction."""
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        yield copy


def _pg_copy(
    connection: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Binary COPY of rows whose columns have the PostgreSQL `types`, row by row through psycopg."""
    with _binary_copy(connection, table, columns) as copy:
        copy.set_types(list(types))
        write_row = copy.write_row
        for row in rows:
            write_row(row)


# Up to this many rows go to PostgreSQL as one INSERT (one round trip) instead of a COPY (two:
# the COPY's start is answered before its data is sent): a live reading's day summary row.
PG_INSERT_ROWS = 32


def _pg_insert(connection: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    sql = _rows_insert(table, tuple(columns), len(rows), "%s")
    connection.execute(sql, list(chain.from_iterable(rows)))


def insert_rows(
    connection: Any,
    is_pg: bool,
    table: str,
    columns: Sequence[str],
    pg_types: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """INSERT `rows` (one value per column) through a driver connection: a binary COPY on
    PostgreSQL, multi-row statements on SQLite (see `STATEMENT_ROWS`). ``executemany`` would run
    the statement once per row: on SQLite letting go of the GIL each time, on PostgreSQL one
    protocol exchange per row (pipelined, still about twice the time of a COPY for a
    request's daily summaries)."""
    if not rows:
        return
    if is_pg:
        if len(rows) <= PG_INSERT_ROWS:
            _pg_insert(connection, table, columns, rows)
        else:
            _pg_copy(connection, table, columns, pg_types, rows)
        return
    most = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(columns)
    for start, stop in statement_spans(len(rows), most):
        params = list(chain.from_iterable(rows[start:stop]))
        connection.execute(_rows_insert(table, tuple(columns), stop - start), params)


LOWEST, HIGHEST = blockstore.LOWEST, blockstore.HIGHEST  # the instants of open ends


def driver(session: Session) -> tuple[Any, bool]:
    """The DBAPI connection of the session's transaction and whether it is PostgreSQL."""
    connection = session.connection()
    return connection.connection.driver_connection, connection.dialect.name == "postgresql"


def insert_ignoring_conflicts(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT a row unless a unique key already holds it; True when inserted.

    On PostgreSQL a concurrent transaction inserting the same key makes this wait for its
    outcome instead of failing, so "insert or fetch" never creates a thing twice.
    """
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        statement = insert(table).values(**values)
    # RETURNING tells inserted from skipped on both drivers (rowcount is not reliable here).
    key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(key)).first() is not None


def lock_registers(session: Session, keys: Sequence[int]) -> dict[int, tuple[int | None, int | None]]:
    """Lock register rows (PostgreSQL: FOR UPDATE, in key order so writers never deadlock on
    them; SQLite already holds the database's write lock) and read their latest reading."""
    raw, is_pg = driver(session)
    ordered = sorted(set(keys))
    found: dict[int, tuple[int | None, int | None]] = {}
    if is_pg:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT key, last_read_at, last_value FROM registers"
                " WHERE key = ANY(%s) ORDER BY key FOR UPDATE",
                (ordered,),
            )
            for key, last_read_at, last_value in cursor.fetchall():
                found[key] = (last_read_at, last_value)
        return found
    cursor = raw.cursor()
    try:
        for key in ordered:
            row = cursor.execute(
                "SELECT last_read_at, last_value FROM registers WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                found[key] = (row[0], row[1])
    finally:
        cursor.close()
    return found


def stored_range(session: Session, key: int, low: int, high: int) -> list[tuple[int, int]]:
    """Stored readings of a register with low <= instant <= high, ascending (instant, value)."""
    return list(zip(*blockstore.read(driver(session)[0], key, low, high, None), strict=True))


def holds_exactly(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> bool:
    """True when the register's stored readings from instants[0] to instants[-1] are exactly
    these (ascending) readings: a re-sent batch, compared as whole lists without a Python object
    per stored reading."""
    if not instants:
        return False
    stored = blockstore.read(driver(session)[0], key, instants[0], instants[-1], None)
    return stored == (list(instants), list(values))


def insert_readings(
    session: Session, key: int, instants: Sequence[int], values: Sequence[int], *, appending: bool = False
) -> None:
    """Store new readings (the caller made sure none of the instants is stored; `appending`:
    that every stored reading is older than the first of them)."""
    if instants:
        blockstore.insert(driver(session)[0], key, instants, values, appending=appending)


def update_readings(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> None:
    """Replace the values of stored readings."""
    if instants:
        blockstore.update(driver(session)[0], key, instants, values)


def read_readings(
    session: Session, key: int, low: int | None, high: int | None, *, limit: int | None = None
) -> tuple[list[int], list[int]]:
    """Readings with low <= instant < high (open ends when None), ascending, as parallel lists."""
    low_at = LOWEST if low is None else low
    high_at = HIGHEST if high is None else high - 1
    return blockstore.read(driver(session)[0], key, low_at, high_at, limit)


def neighbour(session: Session, key: int, instant: int, *, before: bool) -> tuple[int, int] | None:
    """The reading at or before `instant` (before=True), or at or after it."""
    return blockstore.neighbour(driver(session)[0], key, instant, before=before)


def values_at(session: Session, key: int, instants: Sequence[int]) -> dict[int, int]:
    """The stored values at these instants (those with none are left out)."""
    return blockstore.values_at(driver(session)[0], key, instants) if instants else {}


def count_readings(session: Session, keys: Sequence[int]) -> int:
    """How many readings these registers hold."""
    return blockstore.count(driver(session)[0], keys) if keys else 0


def delete_readings(session: Session, keys: Sequence[int]) -> None:
    """Remove every reading of these registers."""
    if keys:
        blockstore.delete(driver(session)[0], keys)
