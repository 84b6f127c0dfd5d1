"""Readings in blocks on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00.000000

PostgreSQL keeps a register's readings in blocks of up to 100 consecutive readings (instants and
values as big-endian 64-bit integers packed into bytes); its readings move there, in SQL. SQLite
keeps one row per reading and gets the table empty, so that both databases have one schema.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK_READINGS = 100  # as blockstore.BLOCK_READINGS when this migration was written

_TO_BLOCKS = f"""
INSERT INTO measurement_blocks (register_key, first_at, last_at, readings, instant_bytes, value_bytes)
SELECT register_key, min(read_at), max(read_at), count(*),
       string_agg(int8send(read_at), ''::bytea ORDER BY read_at),
       string_agg(int8send(value), ''::bytea ORDER BY read_at)
FROM (SELECT register_key, read_at, value,
             (row_number() OVER (PARTITION BY register_key ORDER BY read_at) - 1) / {BLOCK_READINGS} AS block
      FROM measurements) AS numbered
GROUP BY register_key, block
"""

_TO_ROWS = """
INSERT INTO measurements (register_key, read_at, value)
SELECT register_key,
       ('x' || encode(substring(instant_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint,
       ('x' || encode(substring(value_bytes FROM i * 8 + 1 FOR 8), 'hex'))::bit(64)::bigint
FROM measurement_blocks, generate_series(0, readings - 1) AS i
"""


def upgrade() -> None:
    op.create_table(
        "measurement_blocks",
        sa.Column("register_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_at", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("instant_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("value_bytes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("register_key", "first_at", name=op.f("pk_measurement_blocks")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_TO_BLOCKS)
        op.execute("DELETE FROM measurements")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_TO_ROWS)
    op.drop_table("measurement_blocks")
