"""Many rows into a table through the database driver, in the caller's transaction: the readings'
blocks and the daily summaries.

PostgreSQL gets a binary ``COPY`` (or one ``INSERT`` for a few rows), SQLite multi-row ``INSERT …
VALUES`` statements. ``executemany`` would run the statement once per row: on SQLite letting go of
the GIL each time, on PostgreSQL one protocol exchange per row (pipelined, still about twice the
time of a COPY for a request's daily summaries).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
from typing import Any

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
# the COPY's start is answered before its data is sent): a live reading's day summary row, the
# block a few readings start.
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
    """INSERT `rows` (one value per column) through a driver connection: a binary COPY (or one
    INSERT of up to `PG_INSERT_ROWS`) on PostgreSQL, multi-row statements on SQLite (see
    `STATEMENT_ROWS`)."""
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
