"""One row per reading: the layout the server had before its readings moved into blocks, kept
here as the benchmarks' reference (the plain-SQL queries, the row limits and merges, the layout
comparison). Its table is ``measurements`` (register key, instant µs, value µ-units; primary key
register + instant, WITHOUT ROWID on SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain

from sqlalchemy import BigInteger, Column, MetaData, Table
from sqlalchemy.engine import Connection, Engine

from zevvy_server.metering import rowinsert

ROWS = Table(
    "measurements",
    MetaData(),
    Column("register_key", BigInteger, primary_key=True, autoincrement=False),
    Column("read_at", BigInteger, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)


def create(bind: Engine | Connection) -> None:
    """The rows table, unless it exists."""
    ROWS.create(bind, checkfirst=True)


@lru_cache(maxsize=64)
def _values_insert(rows: int) -> str:
    # ?1 is the register key in every row; each bare ? after it takes the next number.
    return "INSERT INTO measurements (register_key, read_at, value) VALUES " + ",".join(["(?1,?,?)"] * rows)


def sqlite_insert(
    connection: sqlite3.Connection, key: int, instants: Sequence[int], values: Sequence[int]
) -> None:
    """INSERT readings of one register as rows, in multi-row statements of the server's fixed
    sizes (`rowinsert.statement_spans`; fewer rows each where the build allows fewer parameters)."""
    most = (connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1) // 2
    for start, stop in rowinsert.statement_spans(len(instants), most):
        params: list[int] = [key]
        params.extend(chain.from_iterable(zip(instants[start:stop], values[start:stop], strict=True)))
        connection.execute(_values_insert(stop - start), params)
