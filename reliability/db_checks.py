"""Checks made directly on the database: integrity, and row counts that the API cannot hide."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text

from zevvy_server.metering.models import Device, MeasurementBlock, Register
from zevvy_server.storage.engine import Database


def integrity_problems(db: Database) -> list[str]:
    """SQLite's integrity_check and foreign_key_check; on PostgreSQL amcheck on every B-tree index
    (with heap checks) plus orphan queries. An empty list means healthy."""
    problems: list[str] = []
    with db.engine.connect() as conn:
        if db.is_sqlite:
            result = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
            if result != ["ok"]:
                problems.extend(result)
            problems.extend(str(tuple(row)) for row in conn.exec_driver_sql("PRAGMA foreign_key_check"))
            return problems
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = conn.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE a.amname = 'btree' AND n.nspname = 'public'"
            )
        ).scalars()
        for index in list(indexes):
            try:
                conn.execute(text("SELECT bt_index_check(CAST(:i AS regclass), true)"), {"i": index})
            except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
                problems.append(f"{index}: {exc}")
        conn.commit()
    with db.read() as session:
        orphans = session.scalar(
            select(func.coalesce(func.sum(MeasurementBlock.readings), 0)).where(
                ~select(Register.key).where(Register.key == MeasurementBlock.register_key).exists()
            )
        )
        if orphans:
            problems.append(f"{orphans} measurements (in blocks) without a register")
    return problems


def measurement_count(db: Database, organization_id: str) -> int:
    """Readings belonging to the organization: those of its blocks in `measurement_blocks`."""
    organization = uuid.UUID(organization_id)
    with db.read() as session:
        in_blocks = session.scalar(
            select(func.coalesce(func.sum(MeasurementBlock.readings), 0))
            .select_from(MeasurementBlock)
            .join(Register, Register.key == MeasurementBlock.register_key)
            .where(Register.organization_id == organization)
        )
    return int(in_blocks or 0)


def device_references(db: Database, organization_id: str) -> list[str]:
    """The reference of every device of the organization (duplicates would show twice)."""
    with db.read() as session:
        return [
            str(r)
            for r in session.scalars(
                select(Device.reference).where(Device.organization_id == uuid.UUID(organization_id))
            )
        ]
