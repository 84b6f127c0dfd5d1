"""Daily summaries of readings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:16:59.285841
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "measurement_days",
        sa.Column("register_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("first_value", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.Column("resets", sa.Integer(), nullable=False),
        sa.Column("extra", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["register_key"],
            ["registers.key"],
            name=op.f("fk_measurement_days_register_key_registers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("register_key", "day_start", name=op.f("pk_measurement_days")),
        sqlite_with_rowid=False,
    )
    # Summarize the readings stored so far, register by register.
    from zevvy_server.metering import rollup

    conn = op.get_bind()
    keys = [row[0] for row in conn.execute(sa.text("SELECT key FROM registers ORDER BY key"))]
    insert = sa.text(
        "INSERT INTO measurement_days (register_key, day_start, readings, first_at, first_value,"
        " last_at, last_value, resets, extra) VALUES (:k, :s, :n, :fa, :fv, :la, :lv, :r, :e)"
    )
    for key in keys:
        rows = conn.execute(
            sa.text("SELECT read_at, value FROM measurements WHERE register_key = :k ORDER BY read_at"),
            {"k": key},
        ).all()
        days = rollup.summarize([r[0] for r in rows], [r[1] for r in rows])
        if days:
            conn.execute(
                insert,
                [
                    {
                        "k": key,
                        "s": d.start,
                        "n": d.readings,
                        "fa": d.first_at,
                        "fv": d.first_value,
                        "la": d.last_at,
                        "lv": d.last_value,
                        "r": d.resets,
                        "e": d.extra,
                    }
                    for d in days
                ],
            )


def downgrade() -> None:
    op.drop_table("measurement_days")
