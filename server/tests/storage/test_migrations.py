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
