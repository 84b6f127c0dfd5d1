"""The readings table through the database driver, for the ingest hot path and bulk reads.

Readings travel as parallel lists of integers; no ORM object is built per reading. SQLite gets
multi-row ``INSERT … VALUES`` statements of 8,192 and 1,024 rows (inside the caller's ``BEGIN
IMMEDIATE`` transaction), PostgreSQL a binary ``COPY`` (inside the caller's transaction, after the
caller has locked the register row); the daily summaries go the same ways (`insert_rows`).
"""

from __future__ import annotations

import sqlite3
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain, repeat
from typing import Any, TypeVar

import orjson
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

T = TypeVar("T")

# Rows per SQLite INSERT statement, largest first. One statement of many rows runs the insert
# program once instead of once per row as ``executemany`` does (see docs/performance.md), and
# each statement lets go of the GIL once: under concurrent requests a thread waits up to the
# interpreter's switch interval to get it back, so a request's readings go in few statements.
# Fixed sizes keep the prepared statements few (each is cached per connection; an 8,192-row one
# holds about 1.5 MB); only the last, shorter statement has a size of its own. The build's
# bound-parameter limit caps them (999 parameters before SQLite 3.32).
STATEMENT_ROWS = (8_192, 1_024)

# Rows per piece of a PostgreSQL COPY of readings built by `int8_copy_rows` (about 76 KiB): each
# piece goes out as soon as it is built, as psycopg's own row-by-row writing sends its buffer.
COPY_CHUNK_ROWS = 2_048


@lru_cache(maxsize=64)
def _values_insert(rows: int) -> str:
    # ?1 is the register key in every row; each bare ? after it takes the next number.
    return "INSERT INTO measurements (register_key, read_at, value) VALUES " + ",".join(["(?1,?,?)"] * rows)


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


def sqlite_insert(
    connection: sqlite3.Connection, key: int, instants: Sequence[int], values: Sequence[int]
) -> None:
    """INSERT readings of one register through a SQLite driver connection, in multi-row
    statements (see `statement_spans`; fewer rows each where the build allows fewer parameters)."""
    most = (connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1) // 2
    for start, stop in statement_spans(len(instants), most):
        params: list[int] = [key]
        params.extend(chain.from_iterable(zip(instants[start:stop], values[start:stop], strict=True)))
        connection.execute(_values_insert(stop - start), params)


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


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"


def int8_copy_rows(fields: Sequence[int | Sequence[int]], start: int, stop: int) -> bytearray:
    """Rows [start, stop) in PostgreSQL's binary COPY format, every field a non-null int8; a
    field is a column (one value per row) or one value for every row.

    Built by slicing instead of formatting row by row: a template row repeated, then each byte
    of each column's big-endian numbers placed with one strided slice assignment (a COPY of
    10,000 readings: 2.0-2.5 ms of CPU against 4.9 ms through psycopg's `write_row`). A value
    outside 64 bits raises OverflowError.
    """
    width = 2 + 12 * len(fields)
    template = struct.pack(">h", len(fields)) + b"".join(
        struct.pack(">iq", 8, field if isinstance(field, int) else 0) for field in fields
    )
    out = bytearray(template * (stop - start))
    for index, field in enumerate(fields):
        if isinstance(field, int):
            continue
        numbers = array("q", field[start:stop])
        if sys.byteorder == "little":
            numbers.byteswap()
        data = numbers.tobytes()
        offset = 6 + 12 * index  # past the field count, the earlier fields and this length
        for byte in range(8):
            out[offset + byte :: width] = data[byte::8]
    return out


def pg_copy_int8(
    connection: Any,
    table: str,
    columns: Sequence[str],
    fields: Sequence[int | Sequence[int]],
    meanwhile: Callable[[], T] | None = None,
) -> T | None:
    """Binary COPY of int8 `fields` (see `int8_copy_rows`) into `columns` of `table`, in the
    caller's transaction, in pieces of `COPY_CHUNK_ROWS` rows. `meanwhile` runs once all rows
    are sent, while PostgreSQL is still storing them (the COPY's end waits for that); what it
    returns is returned."""
    count = max((len(f) for f in fields if not isinstance(f, int)), default=0)
    with _binary_copy(connection, table, columns) as copy:
        copy.write(_COPY_HEADER)
        for start in range(0, count, COPY_CHUNK_ROWS):
            copy.write(int8_copy_rows(fields, start, min(start + COPY_CHUNK_ROWS, count)))
        copy.write(_COPY_TRAILER)
        result = None if meanwhile is None else meanwhile()
    return result


# Up to this many rows go to PostgreSQL as one INSERT (one round trip) instead of a COPY (two:
# the COPY's start is answered before its data is sent): a live reading, a day's summary row.
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
    PostgreSQL, multi-row statements on SQLite as `sqlite_insert` does. ``executemany`` would run
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


READING_COLUMNS = ("register_key", "read_at", "value")


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
    raw, is_pg = driver(session)
    mark = "%s" if is_pg else "?"
    sql = (
        f"SELECT read_at, value FROM measurements WHERE register_key = {mark}"
        f" AND read_at BETWEEN {mark} AND {mark} ORDER BY read_at"
    )
    cursor = raw.cursor()
    try:
        cursor.execute(sql, (key, low, high))
        return cursor.fetchall()  # type: ignore[no-any-return]
    finally:
        cursor.close()


# json_group_array is built into SQLite from 3.38 on (earlier builds may lack it).
_JSON_FUNCTIONS = sqlite3.sqlite_version_info >= (3, 38)
_SAME_READINGS = (
    "SELECT json_group_array(read_at) = ? AND json_group_array(value) = ? FROM (SELECT read_at, value"
    " FROM measurements WHERE register_key = ? AND read_at BETWEEN ? AND ? ORDER BY read_at)"
)


def holds_exactly(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> bool:
    """True when the register's stored readings from instants[0] to instants[-1] are exactly
    these (ascending) readings: a re-sent batch. SQLite compares them as JSON text in C without
    building a Python row per reading; False means "not known to be equal" (look row by row)."""
    raw, is_pg = driver(session)
    if is_pg or not _JSON_FUNCTIONS or not instants:
        return False
    sent = orjson.dumps(instants).decode(), orjson.dumps(values).decode()
    row = raw.execute(_SAME_READINGS, (*sent, key, instants[0], instants[-1])).fetchone()
    return bool(row[0])


def insert_readings(
    session: Session,
    key: int,
    instants: Sequence[int],
    values: Sequence[int],
    meanwhile: Callable[[], T] | None = None,
) -> T | None:
    """Store new readings (the caller made sure none of the instants is stored). `meanwhile`, if
    given, runs once: while PostgreSQL stores a COPY's rows, else after the rows are stored; what
    it returns is returned."""
    if instants:
        raw, is_pg = driver(session)
        if not is_pg:
            sqlite_insert(raw, key, instants, values)
        elif len(instants) <= PG_INSERT_ROWS:
            rows = [(key, t, v) for t, v in zip(instants, values, strict=True)]
            _pg_insert(raw, "measurements", READING_COLUMNS, rows)
        else:
            return pg_copy_int8(raw, "measurements", READING_COLUMNS, (key, instants, values), meanwhile)
    return None if meanwhile is None else meanwhile()


def update_readings(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> None:
    """Replace the values of stored readings."""
    if not instants:
        return
    raw, is_pg = driver(session)
    if is_pg:
        with raw.cursor() as cursor:
            cursor.executemany(
                "UPDATE measurements SET value = %s WHERE register_key = %s AND read_at = %s",
                list(zip(values, repeat(key), instants, strict=False)),
            )
        return
    raw.executemany(
        "UPDATE measurements SET value = ? WHERE register_key = ? AND read_at = ?",
        zip(values, repeat(key), instants, strict=False),
    )


def read_readings(
    session: Session, key: int, low: int | None, high: int | None, *, limit: int | None = None
) -> tuple[list[int], list[int]]:
    """Readings with low <= instant < high (open ends when None), ascending, as parallel lists."""
    raw, is_pg = driver(session)
    mark = "%s" if is_pg else "?"
    sql = f"SELECT read_at, value FROM measurements WHERE register_key = {mark}"
    params: list[Any] = [key]
    if low is not None:
        sql += f" AND read_at >= {mark}"
        params.append(low)
    if high is not None:
        sql += f" AND read_at < {mark}"
        params.append(high)
    sql += " ORDER BY read_at"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return [r[0] for r in rows], [r[1] for r in rows]


def neighbour(session: Session, key: int, instant: int, *, before: bool) -> tuple[int, int] | None:
    """The reading at or before `instant` (before=True), or at or after it."""
    raw, is_pg = driver(session)
    mark = "%s" if is_pg else "?"
    comparison, order = ("<=", "DESC") if before else (">=", "ASC")
    sql = (
        f"SELECT read_at, value FROM measurements WHERE register_key = {mark}"
        f" AND read_at {comparison} {mark} ORDER BY read_at {order} LIMIT 1"
    )
    cursor = raw.cursor()
    try:
        cursor.execute(sql, (key, instant))
        row = cursor.fetchone()
    finally:
        cursor.close()
    return None if row is None else (row[0], row[1])
