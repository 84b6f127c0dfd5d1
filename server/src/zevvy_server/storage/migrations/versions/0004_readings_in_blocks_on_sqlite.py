"""Readings in blocks on SQLite too

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000

SQLite keeps a register's readings in blocks of up to 100 consecutive readings as PostgreSQL
does since 0003; its readings move there. The blocks table, empty on SQLite until now, is made
again with rowids: a WITHOUT ROWID table keeps at most about 1 kB of a row in its B-tree page
and would move the rest of each block to an overflow page. The table of one row per reading,
empty on both databases afterwards, goes.

SQLite has no SQL that turns integers into bytes (before 3.41), so the readings move in Python,
register by register, a bounded number at a time.
"""

import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK_READINGS = 100  # as blockstore.BLOCK_READINGS when this migration was written
_CHUNK = 1_000 * BLOCK_READINGS  # readings read at a time, a whole number of blocks


def _pack(numbers: Sequence[int]) -> bytes:
    packed = array("q", numbers)
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tobytes()


def _unpack(data: bytes) -> list[int]:
    numbers = array("q")
    numbers.frombytes(data)
    if sys.byteorder == "little":
        numbers.byteswap()
    return numbers.tolist()


def _blocks_table(*, with_rowid: bool) -> None:
    op.create_table(
        "measurement_blocks",
        sa.Column("register_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_at", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("instant_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("value_bytes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("register_key", "first_at", name=op.f("pk_measurement_blocks")),
        sqlite_with_rowid=with_rowid,
    )


def _rows_table() -> None:
    op.create_table(
        "measurements",
        sa.Column("register_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("read_at", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("register_key", "read_at", name=op.f("pk_measurements")),
        sqlite_with_rowid=False,
    )


def _pages(
    bind: sa.Connection, table: str, columns: str, order: str, rows: int
) -> Iterator[tuple[int, Sequence[Any]]]:
    """(register key, up to `rows` rows of `columns`) of `table`, register by register, ascending
    by `order` (the first of `columns`): keyset pages, so memory stays bounded."""
    keys = [row[0] for row in bind.exec_driver_sql(f"SELECT DISTINCT register_key FROM {table}")]
    for key in keys:
        after = None
        while True:
            page = bind.exec_driver_sql(
                f"SELECT {columns} FROM {table} WHERE register_key = ? AND (? IS NULL OR {order} > ?)"
                f" ORDER BY {order} LIMIT {rows}",
                (key, after, after),
            ).fetchall()
            if not page:
                break
            yield key, page
            after = page[-1][0]


def _rows_to_blocks(bind: sa.Connection) -> None:
    for key, rows in _pages(bind, "measurements", "read_at, value", "read_at", _CHUNK):
        blocks = []
        for start in range(0, len(rows), BLOCK_READINGS):
            part = rows[start : start + BLOCK_READINGS]
            instants = [row[0] for row in part]
            values = [row[1] for row in part]
            blocks.append((key, instants[0], instants[-1], len(part), _pack(instants), _pack(values)))
        bind.exec_driver_sql(
            "INSERT INTO measurement_blocks (register_key, first_at, last_at, readings,"
            " instant_bytes, value_bytes) VALUES (?, ?, ?, ?, ?, ?)",
            blocks,
        )


def _blocks_to_rows(bind: sa.Connection) -> None:
    columns = "first_at, instant_bytes, value_bytes"
    for key, blocks in _pages(bind, "measurement_blocks", columns, "first_at", _CHUNK // BLOCK_READINGS):
        rows = [
            (key, instant, value)
            for _, instants, values in blocks
            for instant, value in zip(_unpack(instants), _unpack(values), strict=True)
        ]
        bind.exec_driver_sql("INSERT INTO measurements (register_key, read_at, value) VALUES (?, ?, ?)", rows)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.drop_table("measurement_blocks")
        _blocks_table(with_rowid=True)
        _rows_to_blocks(bind)
    op.drop_table("measurements")


def downgrade() -> None:
    bind = op.get_bind()
    _rows_table()
    if bind.dialect.name == "sqlite":
        _blocks_to_rows(bind)
        op.drop_table("measurement_blocks")
        _blocks_table(with_rowid=False)
