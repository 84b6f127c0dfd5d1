"""Crashes: SIGKILL the server during bulk imports; a PostgreSQL restart under load."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import BACKEND, Scale
from db_checks import integrity_problems, measurement_count
from harness import Figures, ServerProcess, Tenant, database, free_port, make_tenant, percentile
from workload import Key, assert_exactly, keys_of, series, stored_readings

SERIES_PER_BATCH = 6
BLOCKS_PER_SERIES = 8  # 6 x 8 x 48 = 2,304 readings per batch


BATCHES_PER_GROUP = 100  # 100 x 8 x 48 quarter-hours: about 4 months, well before "now"


def crash_batch(number: int) -> list[dict[str, object]]:
    """Batch `number`: six registers, each a run of blocks no other batch touches. Every hundred
    batches move to new devices, so instants stay in the past however long the run."""
    group, offset = divmod(number, BATCHES_PER_GROUP)
    return [
        series(f"crash-{group}-{s}", "main", offset * BLOCKS_PER_SERIES, BLOCKS_PER_SERIES)
        for s in range(SERIES_PER_BATCH)
    ]


class Sender:
    """Clients sending numbered batches until stopped; remembers which ones were acknowledged."""

    def __init__(self, server: ServerProcess, tenant: Tenant, threads: int = 3) -> None:
        self.server, self.tenant, self.threads = server, tenant, threads
        self.next_number = 0
        self.sent: set[int] = set()
        self.acknowledged: set[int] = set()
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def _take(self) -> int:
        with self._lock:
            self.next_number += 1
            self.sent.add(self.next_number)
            return self.next_number

    def _run(self) -> None:
        with self.tenant.http(self.server, timeout=30) as http:
            while not self._stop.is_set():
                number = self._take()
                try:
                    response = http.post("/measurements/_bulk_create", json=crash_batch(number))
                except httpx.HTTPError:
                    return  # the server died under us: this batch's fate is unknown
                with self._lock:
                    if response.status_code == 201:
                        self.acknowledged.add(number)
                    else:
                        self.unexpected.append(f"{response.status_code} {response.text[:200]}")

    def start(self) -> None:
        """Start the sending threads."""
        self._stop.clear()
        self._workers = [threading.Thread(target=self._run) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()

    def join(self) -> None:
        """Stop sending and wait for the threads."""
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=120)


def stored_keys(http: httpx.Client, numbers: set[int]) -> set[Key]:
    """Every reading of the crash registers that batches `numbers` write to."""
    found: set[Key] = set()
    for group in sorted({n // BATCHES_PER_GROUP for n in numbers}):
        for s in range(SERIES_PER_BATCH):
            device = f"crash-{group}-{s}"
            for slot in stored_readings(http, device, "main") or {}:
                found.add((device, "main", slot))
    return found


def test_sigkill_during_bulk_imports_leaves_every_batch_whole_or_absent_and_resending_completes_it(
    server: ServerProcess, scale: Scale, figures: Figures
) -> None:
    seed = int(os.environ.get("ZEVVY_RELIABILITY_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    db = database(server)
    tenant = make_tenant(server, db)
    sender = Sender(server, tenant)
    restart_seconds: list[float] = []
    torn: list[int] = []
    lost: list[int] = []
    in_flight_absent = 0
    in_flight_present = 0
    for _ in range(scale.crashes):
        before = set(sender.sent)
        sender.start()
        time.sleep(rng.uniform(0.05, 1.5))
        server.kill()
        sender.join()
        began = time.perf_counter()
        server.start()
        restart_seconds.append(time.perf_counter() - began)
        assert integrity_problems(db) == [], f"seed {seed}"
        with tenant.http(server) as http:
            # Only the registers this round wrote to: reading every register after every kill
            # grows with the square of the kills and does not fit the long run's time limit.
            stored = stored_keys(http, sender.sent - before)
            for number in sorted(sender.sent - before):
                keys = keys_of(crash_batch(number))
                present = len(keys & stored)
                if present not in (0, len(keys)):
                    torn.append(number)
                elif present == 0 and number in sender.acknowledged:
                    lost.append(number)
                elif number not in sender.acknowledged:
                    in_flight_present += present > 0
                    in_flight_absent += present == 0
            # The client's re-send of what it never saw acknowledged.
            for number in sorted(sender.sent - sender.acknowledged):
                response = http.post("/measurements/_bulk_create", json=crash_batch(number))
                assert response.status_code == 201, response.text
                sender.acknowledged.add(number)
    expected: set[Key] = set()
    for number in sender.sent:
        expected |= keys_of(crash_batch(number))
    with tenant.http(server) as http:
        stored_count = assert_exactly(http, expected)
    figures.record(
        "crash_sigkill",
        backend=BACKEND,
        seed=seed,
        kills=scale.crashes,
        batches=len(sender.sent),
        readings_per_batch=SERIES_PER_BATCH * BLOCKS_PER_SERIES * 48,
        unacknowledged_found_committed=in_flight_present,
        unacknowledged_found_absent=in_flight_absent,
        torn_batches=len(torn),
        acknowledged_but_lost=len(lost),
        readings_expected=len(expected),
        readings_stored=stored_count,
        restart_p50_s=round(percentile(restart_seconds, 0.5), 2),
        restart_max_s=round(max(restart_seconds), 2),
    )
    assert torn == [] and lost == [], f"seed {seed}"
    assert sender.unexpected == []
    assert stored_count == len(expected) == measurement_count(db, tenant.organization_id)
    db.dispose()


# -- PostgreSQL restart ---------------------------------------------------------------------------
PG_BIN = Path(os.environ.get("ZEVVY_PG_BIN", "/usr/lib/postgresql/15/bin"))


@contextmanager
def throwaway_cluster() -> Iterator[tuple[str, Path]]:
    """A new PostgreSQL cluster on its own port, owned by the `postgres` account; removed afterwards."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"needs PostgreSQL's server binaries in {PG_BIN} and runuser")
    folder = Path(tempfile.mkdtemp(prefix="zevvy-pg-"))
    shutil.chown(folder, "postgres")
    data = folder / "data"
    port = free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120
        )

    try:
        as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--no-sync")
        as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on",
            "start",
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


def restart_cluster(data: Path) -> None:
    """Stop PostgreSQL abruptly (-m immediate: crash recovery at the next start) and start it again."""
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(data.parent / "log"),
            "-m",
            "immediate",
            "-w",
            "restart",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.postgresql_only
def test_a_postgresql_restart_under_load_ends_with_exactly_once_data_after_client_retries(
    tmp_path: Path, scale: Scale, figures: Figures
) -> None:
    if BACKEND != "postgresql":
        pytest.skip("runs in the PostgreSQL run (ZEVVY_TEST_DATABASE_URL)")
    with throwaway_cluster() as (url, data):
        server = ServerProcess(url, tmp_path / "data")
        server.start()
        db = database(server)
        try:
            tenant = make_tenant(server, db)
            errors_seen = 0
            seen: Counter[str] = Counter()
            attempts = 0
            retried = 0
            numbers = list(range(1, 41 if not scale.long else 201))
            pending = list(numbers)
            lock = threading.Lock()
            restarts_done = threading.Event()

            def client() -> None:
                nonlocal errors_seen, attempts, retried
                with tenant.http(server, timeout=30) as http:
                    while True:
                        with lock:
                            if not pending:
                                return
                            number = pending.pop(0)
                        for attempt in range(60):
                            with lock:
                                attempts += 1
                                retried += attempt > 0
                            try:
                                response = http.post("/measurements/_bulk_create", json=crash_batch(number))
                            except httpx.HTTPError:
                                response = None
                            if response is not None and response.status_code == 201:
                                break
                            with lock:
                                errors_seen += 1
                                seen[
                                    "connection error" if response is None else str(response.status_code)
                                ] += 1
                            time.sleep(0.25)
                        else:
                            raise AssertionError(f"batch {number} never got through")

            threads = [threading.Thread(target=client) for _ in range(4)]
            for thread in threads:
                thread.start()
            for _ in range(scale.pg_restarts):
                time.sleep(0.7)
                restart_cluster(data)
            restarts_done.set()
            for thread in threads:
                thread.join()
            expected: set[Key] = set()
            for number in numbers:
                expected |= keys_of(crash_batch(number))
            with tenant.http(server) as http:
                stored = assert_exactly(http, expected)
            assert integrity_problems(db) == []
            figures.record(
                "postgresql_restart",
                backend=BACKEND,
                restarts=scale.pg_restarts,
                batches=len(numbers),
                errors_seen_by_clients=errors_seen,
                errors_by_kind=dict(seen),
                requests_retried=retried,
                readings_expected=len(expected),
                readings_stored=stored,
            )
            assert stored == len(expected) == measurement_count(db, tenant.organization_id)
            assert set(seen) <= {"503", "connection error"}, seen
        finally:
            db.dispose()
            server.kill()
