"""`zevvy push` killed mid-way (SIGKILL) resumes without re-sending what the server confirmed."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clitools import Cli
from conftest import Account, Server, log_in, unique

import zevvy

TOTAL = 200_000
BATCH = 10_000


def write_readings(path: Path) -> None:
    start = datetime(2019, 1, 1, tzinfo=UTC)
    with path.open("w") as handle:
        handle.write("readAt,value\n")
        for i in range(TOTAL):
            moment = start + timedelta(minutes=15 * i)
            handle.write(f"{moment:%Y-%m-%dT%H:%M:%SZ},{1_000_000 + 3 * i}.{i % 1000:03d}\n")


def confirmed(config_dir: Path) -> int:
    states = list(config_dir.glob("push-state/*.json"))
    if not states:
        return 0
    try:
        return int(json.loads(states[0].read_text())["confirmed"])
    except (ValueError, KeyError):
        return 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_killed_push_resumes_after_the_last_confirmed_batch(
    live_server: Server, account: Account, tmp_path: Path
) -> None:
    """Every reading ends up stored once, and no confirmed batch is sent twice."""
    data = tmp_path / "year.csv"
    write_readings(data)
    cli = Cli.for_server(tmp_path / "config", live_server.auth_url, live_server.url)
    cli.login(live_server, account)
    ref = unique("resume")
    args = [
        "push",
        str(data),
        "--device-ref",
        ref,
        "--register-ref",
        "energy",
        "--batch-size",
        str(BATCH),
        "--json",
    ]

    process = cli.start(*args)
    deadline = time.monotonic() + 300
    while confirmed(cli.config_dir) < 5 * BATCH:
        assert process.poll() is None, "the push ended before it could be interrupted"
        assert time.monotonic() < deadline, "the push made no progress"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    at_kill = confirmed(cli.config_dir)
    assert 5 * BATCH <= at_kill < TOTAL and at_kill % BATCH == 0

    resumed = cli.run(*args, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["skipped"] == at_kill
    assert summary["sent"] == TOTAL - at_kill
    assert summary["delivered"] == TOTAL and summary["complete"] is True

    with zevvy.Client(live_server.url, auth_url=live_server.auth_url) as client:
        log_in(client, live_server, account)
        batches = list(_all_imports(client))
        register = next(iter(client.iter_registers(client.get_device_by_reference(ref).id)))
        stored = sum(1 for _ in client.iter_measurements(register.id))
    sent = sum(b.readings for b in batches)
    assert stored == TOTAL
    assert sum(b.created for b in batches) == TOTAL
    # At most the batch in flight at the kill reached the server without being recorded; the
    # server answered its re-sent readings as unchanged.
    assert sent - TOTAL == sum(b.unchanged for b in batches) <= BATCH
    assert len(batches) in {TOTAL // BATCH, TOTAL // BATCH + 1}


def _all_imports(client: zevvy.Client) -> list[zevvy.ImportBatch]:
    batches: list[zevvy.ImportBatch] = []
    cursor: str | None = None
    while True:
        page = client.list_imports(limit=100, cursor=cursor)
        batches.extend(page.items)
        if not page.next_cursor:
            return batches
        cursor = page.next_cursor
