"""Back-fill over HTTP and a year's consumption: readings/s stored, and query latency.

    python benchmarks/ingest_http.py                      # SQLite
    python benchmarks/ingest_http.py --postgres postgresql://postgres@127.0.0.1:5432/test

100 registers × one year of 15-minute cumulative Wh readings (3,504,000), 10,000 readings of
one register per request to the path form of `_bulk_create`, with a real access token, by one
client and then by four concurrent clients (each run on new devices). A run counts only when
every reading is afterwards found stored with exactly the value sent. Then the p50/p95 of a year's
daily and monthly consumption of one register over HTTP.
"""

from __future__ import annotations

import argparse
import json
import platform
import threading
import time
import uuid
from urllib.parse import quote

import httpx
from harness import (
    READINGS_PER_YEAR,
    START,
    STEP,
    Server,
    access_token,
    bodies,
    percentile,
    running_server,
    year_of_counter,
)
from sqlalchemy import select

from zevvy_server.metering import rowstore
from zevvy_server.metering.models import Register
from zevvy_server.storage.engine import Database


def backfill(
    server: Server, token: str, registers: int, batch: int, clients: int, run: str
) -> dict[str, float]:
    """Send every register's year through `clients` concurrent HTTP clients; returns the rate."""
    data = [year_of_counter(seed) for seed in range(registers)]
    work = [(f"{run}-meter-{i}", bodies(*data[i], batch)) for i in range(registers)]
    register_ids: dict[int, str] = {}
    failures: list[str] = []

    def send(indices: list[int]) -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        ) as http:
            for i in indices:
                device, chunks = work[i]
                path = f"/deviceRef/{quote(device, safe='')}/registerRef/energy/measurements/_bulk_create"
                for body in chunks:
                    response = http.post(path, content=body, headers={"Content-Type": "application/json"})
                    if response.status_code != 201:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        return
                    register_ids[i] = response.json()["register"]["id"]

    shares = [list(range(k, registers, clients)) for k in range(clients)]
    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"requests failed: {failures[:3]}")
    verify(server, register_ids, data)
    total = registers * READINGS_PER_YEAR
    return {"readings": total, "seconds": elapsed, "readings_per_s": total / elapsed}


def verify(server: Server, register_ids: dict[int, str], data: list[tuple[list[str], list[int]]]) -> None:
    """Every reading sent is stored once with exactly its value."""
    start_us = int(START.timestamp()) * 1_000_000
    step_us = int(STEP.total_seconds()) * 1_000_000
    db = Database(server.settings)
    try:
        with db.read() as session:
            for i, register_id in register_ids.items():
                key = session.scalar(select(Register.key).where(Register.id == uuid.UUID(register_id)))
                rows = list(zip(*rowstore.read_readings(session, key, None, None), strict=True))
                expected = [(start_us + n * step_us, v * 1_000_000) for n, v in enumerate(data[i][1])]
                if rows != expected:
                    raise AssertionError(f"register {register_id}: stored data differs from what was sent")
    finally:
        db.dispose()


def consumption_latency(
    server: Server, token: str, register_id: str, interval: str, repeat: int
) -> dict[str, float]:
    """p50/p95 in ms of one register's year by `interval` over HTTP (after one warm-up)."""
    params = {"from": "2025-01-01", "to": "2026-01-01", "interval": interval, "timeZone": "Europe/Zurich"}
    samples = []
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for n in range(repeat + 1):
            started = time.perf_counter()
            response = http.get(f"/registers/{register_id}/consumption", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if n:
                samples.append(elapsed)
    return {"p50_ms": percentile(samples, 0.5), "p95_ms": percentile(samples, 0.95)}


def main() -> None:
    """Run the benchmark and print the figures (text and JSON)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--registers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    backend = "postgresql" if args.postgres else "sqlite"
    results: dict[str, object] = {"backend": backend, "machine": platform.processor() or platform.machine()}
    with running_server(args.postgres) as server:
        token = access_token(server)
        for clients in args.clients:
            run = f"c{clients}-{uuid.uuid4().hex[:6]}"
            figures = backfill(server, token, args.registers, args.batch, clients, run)
            results[f"backfill_{clients}_clients"] = figures
            print(
                f"{backend}: back-fill, {clients} client(s): {figures['readings_per_s']:,.0f} readings/s "
                f"({figures['readings']:,} readings in {figures['seconds']:.1f} s, all verified)"
            )
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
            device = http.get(f"/deviceRef/{quote(run + '-meter-0', safe='')}").json()
            register_id = http.get(f"/devices/{device['id']}/registers").json()["items"][0]["id"]
        for interval in ("day", "month"):
            latency = consumption_latency(server, token, register_id, interval, args.queries)
            results[f"consumption_{interval}"] = latency
            print(
                f"{backend}: a year's consumption by {interval}: p50 {latency['p50_ms']:.1f} ms, "
                f"p95 {latency['p95_ms']:.1f} ms"
            )
        results["server_peak_rss_mib"] = server.rss_kib() / 1024
    print(json.dumps(results))


if __name__ == "__main__":
    main()
