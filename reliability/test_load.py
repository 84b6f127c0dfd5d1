"""Load: 16 concurrent writers, overlapping and auto-creating, with readers watching for torn batches."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

from tests.conftest import throwaway_database

from conftest import BACKEND, Scale
from db_checks import device_references, integrity_problems, measurement_count
from harness import Figures, ServerProcess, database, make_tenant, percentile
from workload import Key, assert_exactly, keys_of, series, stored_readings, torn_blocks, value

SHARED_DEVICES = 4


def batch_for(writer: int, request: int) -> list[dict[str, object]]:
    """Writer `w` and writer `w + 8` send the same shared series at the same step (same values);
    every writer auto-creates the same four shared devices in its first requests."""
    shared = series(
        f"shared-{request % SHARED_DEVICES}", f"r{writer % 2}", (request // 4) * 4 + (writer % 8) // 2
    )
    own = series(f"writer-{writer}", "main", request)
    return [shared, own] if writer % 2 else [own, shared]


def test_concurrent_writers_store_every_reading_exactly_once_and_readers_never_see_half_a_batch(
    server: ServerProcess, scale: Scale, figures: Figures
) -> None:
    run_load(server, scale, figures, "load")


def test_the_same_with_two_worker_processes(tmp_path: Path, scale: Scale, figures: Figures) -> None:
    """Two processes serve the same database: on SQLite their writers queue on a file lock,
    on PostgreSQL on row locks; nothing may be lost, duplicated or seen half-written."""
    with throwaway_database(tmp_path) as url:
        server = ServerProcess(url, tmp_path / "data", extra_env={"ZEVVY_WORKERS": "2"})
        server.start()
        try:
            run_load(server, scale, figures, "load_two_workers")
        finally:
            server.stop()  # SIGTERM: the supervisor stops its workers (SIGKILL would orphan them)


def run_load(server: ServerProcess, scale: Scale, figures: Figures, name: str) -> None:
    """16 writers and 2 readers against `server`; checks and records the figures as `name`."""
    db = database(server)
    tenant = make_tenant(server, db)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    latencies: list[float] = []
    sent: set[Key] = set()
    lock = threading.Lock()
    writers_done = threading.Event()
    reads = Counter[str]()

    def write(writer: int) -> None:
        with tenant.http(server) as http:
            for request in range(scale.requests_per_writer):
                batch = batch_for(writer, request)
                started = time.perf_counter()
                response = http.post("/measurements/_bulk_create", json=batch)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[response.status_code] += 1
                    sent.update(keys_of(batch))
                    if response.status_code != 201:
                        failures.append(f"{response.status_code} {response.text[:300]}")

    def read(reader: int) -> None:
        rng = random.Random(reader)
        with tenant.http(server) as http:
            while not writers_done.is_set():
                device, register = f"shared-{rng.randrange(SHARED_DEVICES)}", f"r{rng.randrange(2)}"
                stored = stored_readings(http, device, register, one_snapshot=True)
                with lock:
                    reads["reads"] += 1
                if stored is None:
                    continue
                torn = torn_blocks(stored)
                wrong = [s for s, v in stored.items() if v != value(device, register, s)]
                with lock:
                    if torn or wrong:
                        reads["torn"] += 1
                        failures.append(f"reader saw {device}/{register} torn {torn[:3]} wrong {wrong[:3]}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(scale.writers)]
    readers = [threading.Thread(target=read, args=(r,)) for r in range(2)]
    began = time.perf_counter()
    for thread in threads + readers:
        thread.start()
    for thread in threads:
        thread.join()
    duration = time.perf_counter() - began
    writers_done.set()
    for thread in readers:
        thread.join()

    with tenant.http(server) as http:
        stored = assert_exactly(http, sent)
    references = device_references(db, tenant.organization_id)
    log = server.log_text()
    figures.record(
        name,
        backend=BACKEND,
        writers=scale.writers,
        requests=sum(statuses.values()),
        readings_sent=sum(
            len(keys_of(batch_for(w, r)))
            for w in range(scale.writers)
            for r in range(scale.requests_per_writer)
        ),
        readings_distinct=len(sent),
        readings_stored=stored,
        statuses={str(k): v for k, v in statuses.items()},
        errors_to_clients=sum(v for k, v in statuses.items() if k != 201),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 1),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
        max_ms=round(max(latencies) * 1000, 1),
        requests_per_second=round(sum(statuses.values()) / duration, 1),
        concurrent_reads=reads["reads"],
        torn_reads=reads["torn"],
        server_retries_logged=log.count("retrying a write transaction"),
    )
    assert failures == []
    assert stored == len(sent) == measurement_count(db, tenant.organization_id)
    assert sorted(references) == sorted(
        [f"shared-{d}" for d in range(SHARED_DEVICES)] + [f"writer-{w}" for w in range(scale.writers)]
    )
    assert integrity_problems(db) == []
    assert "Traceback" not in log
    db.dispose()
