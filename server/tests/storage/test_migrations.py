"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tests.conftest import make_settings
from zevvy_server.models import metadata
from zevvy_server.storage import migrate
from zevvy_server.storage.engine import Database


def test_upgrading_an_empty_database_gives_the_models_schema_without_drift(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """`upgrade head` then comparing with the models finds no difference (alembic check)."""
    db = Database(make_settings(fresh_database_url, tmp_path))
    try:
        migrate.upgrade(db.engine, metadata)
        assert migrate.current_revision(db.engine) == migrate.head_revision()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
    finally:
        db.dispose()


def test_every_migration_downgrades_and_upgrades_again(fresh_database_url: str, tmp_path: Path) -> None:
    """Down to base and back to head works."""
    db = Database(make_settings(fresh_database_url, tmp_path))
    try:
        migrate.upgrade(db.engine, metadata)
        migrate.downgrade(db.engine, metadata, "base")
        assert migrate.current_revision(db.engine) is None
        migrate.upgrade(db.engine, metadata)
        assert migrate.current_revision(db.engine) == migrate.head_revision()
    finally:
        db.dispose()


def test_readings_move_into_blocks_and_back_exactly(fresh_database_url: str, tmp_path: Path) -> None:
    """Migrations 0003 (PostgreSQL, in SQL) and 0004 (SQLite, in Python) keep every reading: the
    rows move into blocks of at most 100 (read back through rowstore equal, including 64-bit
    extremes and negative values), the rows' table goes, and downgrading moves the readings back
    into rows. On SQLite the blocks table keeps its rowids (a block stays in its B-tree page)."""
    from sqlalchemy import inspect, text

    from zevvy_server.metering import blockstore, rowstore

    db = Database(make_settings(fresh_database_url, tmp_path))
    readings = {
        1: [(n * 900_000_000, n * 1_000_000 - 5_000_000) for n in range(250)],
        2: [(-(2**63) + 1, -(2**63)), (0, 0), (2**63 - 1, 2**63 - 1)],
    }
    rows = [{"k": key, "t": t, "v": v} for key, pairs in readings.items() for t, v in pairs]
    try:
        migrate.upgrade(db.engine, metadata, "0002")
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO measurements (register_key, read_at, value) VALUES (:k, :t, :v)"), rows
            )
        migrate.upgrade(db.engine, metadata)
        with db.read() as session:
            for key, pairs in readings.items():
                assert rowstore.read_readings(session, key, None, None) == (
                    [t for t, _ in pairs],
                    [v for _, v in pairs],
                )
            assert rowstore.count_readings(session, [1, 2]) == 253
        with db.engine.connect() as conn:
            assert not inspect(conn).has_table("measurements")
            blocks = conn.execute(
                text("SELECT register_key, readings FROM measurement_blocks ORDER BY 1, 2")
            ).all()
            if db.is_sqlite:
                ddl = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'measurement_blocks'")
                ).scalar_one()
                assert "WITHOUT ROWID" not in ddl.upper()
        assert sorted(blocks) == [
            (1, 50),
            (1, blockstore.BLOCK_READINGS),
            (1, blockstore.BLOCK_READINGS),
            (2, 3),
        ]
        migrate.downgrade(db.engine, metadata, "0002")
        with db.engine.connect() as conn:
            back = conn.execute(
                text("SELECT register_key, read_at, value FROM measurements ORDER BY 1, 2")
            ).all()
        assert back == [(r["k"], r["t"], r["v"]) for r in rows]
    finally:
        db.dispose()
