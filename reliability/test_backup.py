"""Backup while writers run, restore into a stopped server; migrations from every revision with data."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import BACKEND
from db_checks import integrity_problems, measurement_count
from harness import Figures, ServerProcess, database, make_tenant
from test_crash import Sender, crash_batch, stored_keys
from workload import keys_of


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`zevvy-server ...` against the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "zevvy_server", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_backup_taken_under_load_restores_exactly_the_data_of_its_moment(
    server: ServerProcess, tmp_path: Path, figures: Figures
) -> None:
    db = database(server)
    tenant = make_tenant(server, db)
    sender = Sender(server, tenant, threads=4)
    sender.start()
    time.sleep(1.5)
    acknowledged_before = set(sender.acknowledged)
    backup_file = tmp_path / "zevvy.backup"
    began = time.perf_counter()
    made = cli(server, "db", "backup", str(backup_file))
    backup_seconds = time.perf_counter() - began
    sent_after = set(sender.sent)
    time.sleep(1.0)  # writers go on after the backup's moment
    sender.join()
    assert made.returncode == 0, made.stderr
    assert sender.unexpected == []
    with tenant.http(server) as http:
        before_restore = stored_keys(http, sender.sent)
    assert sender.acknowledged and sender.acknowledged <= sent_after | set(sender.sent)

    server.stop()
    db.dispose()
    restored = cli(server, "db", "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    server.start()
    with tenant.http(server) as http:
        after = stored_keys(http, sender.sent)
    batches_in_backup = set()
    torn = []
    for number in sender.sent:
        keys = keys_of(crash_batch(number))
        present = len(keys & after)
        if present == len(keys):
            batches_in_backup.add(number)
        elif present:
            torn.append(number)
    whole = set()
    for number in batches_in_backup:
        whole |= keys_of(crash_batch(number))
    figures.record(
        "backup_restore",
        backend=BACKEND,
        batches_written=len(sender.sent),
        batches_acknowledged_before_backup=len(acknowledged_before),
        batches_in_backup=len(batches_in_backup),
        batches_after_backup_not_in_it=len(set(sender.sent) - batches_in_backup),
        readings_in_backup=len(after),
        backup_seconds=round(backup_seconds, 2),
        torn_batches=len(torn),
    )
    assert torn == []
    assert after == whole  # nothing else came back
    assert acknowledged_before <= batches_in_backup <= sent_after
    assert len(after) < len(before_restore)  # the later writes are gone: this is the backup's moment
    assert integrity_problems(db) == []
    assert measurement_count(db, tenant.organization_id) == len(after)
    db.dispose()


def test_a_backup_never_overwrites_a_file_and_a_missing_backup_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    backup_file = tmp_path / "first.backup"
    assert cli(server, "db", "backup", str(backup_file)).returncode == 0
    again = cli(server, "db", "backup", str(backup_file))
    assert again.returncode == 1 and "exists already" in again.stderr
    missing = cli(server, "db", "restore", str(tmp_path / "nothing.backup"))
    assert missing.returncode == 1 and "no backup file" in missing.stderr
