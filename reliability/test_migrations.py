"""Migrations from every Alembic revision to head, with data in the tables.

For each revision: a server at head stores readings (and everything a tenant needs), the database
is migrated down to that revision, then `zevvy-server db upgrade` brings it back to head. The
readings, and the daily consumption computed from them, must be exactly what they were.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from tests.conftest import throwaway_database

from db_checks import integrity_problems
from harness import ServerProcess, database, make_tenant
from workload import assert_exactly, keys_of, series
from zevvy_server.models import metadata
from zevvy_server.storage import migrate


def revisions() -> list[str]:
    """Every revision, oldest first."""
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


CONSUMPTION = "/deviceRef/migrated%20meter/registerRef/1.8.0/measurements"


@pytest.mark.parametrize("revision", revisions())
def test_a_database_with_data_at_each_revision_upgrades_to_head_and_serves_the_same_data(
    revision: str, tmp_path: Path
) -> None:
    head = migrate.head_revision()
    batch = [series("migrated meter", "1.8.0", 0, 8), series("migrated meter", "2.8.0", 0, 8)]
    with throwaway_database(tmp_path) as url:
        server = ServerProcess(url, tmp_path / "data")
        db = database(server)
        try:
            server.start()
            tenant = make_tenant(server, db)
            with tenant.http(server) as http:
                stored = http.post("/measurements/_bulk_create", json=batch)
                assert stored.status_code == 201, stored.text
                register_id = stored.json()["results"][0]["register"]["id"]
                daily = f"/registers/{register_id}/consumption"
                params = {"from": "2024-01-01", "to": "2024-01-06", "interval": "day"}
                before = http.get(daily, params=params).json()
            server.stop()
            if revision != head:
                migrate.downgrade(db.engine, metadata, revision)
                assert migrate.current_revision(db.engine) == revision
                refused = subprocess.run(
                    [sys.executable, "-m", "zevvy_server", "serve"],
                    env=server.env(),
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert refused.returncode == 3 and "db upgrade" in refused.stderr
            upgraded = subprocess.run(
                [sys.executable, "-m", "zevvy_server", "db", "upgrade"],
                env=server.env(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert upgraded.returncode == 0, upgraded.stderr
            assert migrate.current_revision(db.engine) == head
            server.start()
            with tenant.http(server) as http:
                assert_exactly(http, keys_of(batch))
                assert http.get(daily, params=params).json() == before
            assert integrity_problems(db) == []
        finally:
            server.kill()
            db.dispose()
