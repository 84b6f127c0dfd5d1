"""Upper bounds of the goals not met: what a request costs before it stores anything, measured
against each goal's reference in the same run.

    python benchmarks/floors.py [--runs 3] [--postgres URL] [--write-doc]

A stored request does all that a request refused at its first check, or a dry run, does, and then
stores; with one client, or with every core busy, it cannot be answered faster than those. Their
rates are therefore upper bounds of ours, and their ratios to a goal's reference upper bounds of
the goal's ratio. Per run, everything verified:

* live: the live workload's requests (2,000 registers, one reading each, 16 clients) sent
  without an access token, so the server answers 401 from routing and its authentication
  dependency, reading and storing nothing; to a server with one worker process and to one with
  two; against InfluxDB's single-line writes measured as in compare.py, and beside our real live
  writes (one worker);
* back-fill: 10,000-reading requests with ``dryRun=true`` to registers that do not exist, one
  client: the body is read, decoded and validated, the device looked up in a write transaction,
  nothing stored (checked); against the in-process storage limit (SQLite, our blocks through the
  driver, as compare.py measures it), and beside the real back-fill of the same data;
* with ``--postgres``, batches overlapping stored data: the dry run on PostgreSQL, and the best
  in-process merge on the same overlapping batches as compare.py. A request must be decoded
  before it can be merged, and one client sends the next only after the answer, so per reading
  it takes at least the dry run's time plus the merge's (the server merges through the same
  block functions as the in-process block merge): the bound is t_merge / (t_dry + t_merge); our
  real overlapping batches (compare.py's workload) beside it.

Medians over the runs (each ratio taken within its run) are printed and, with ``--write-doc``,
written into docs/performance.md between its ``floors`` markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import compare
import influx
import limits
import loadgen
from harness import Server, access_token, running_server, throwaway_database

LIVE_REGISTERS = 2_000


def refused_live(server: Server, requests: int) -> dict[str, float]:
    """The live workload's requests without an access token: requests/s of the 401 answers."""
    shares = compare.live_jobs(
        server.url,
        LIVE_REGISTERS,
        requests,
        lambda register: compare._bulk_path(f"refused-{register}"),
        compare._live_body,
        401,
    )
    outcome = loadgen.run(server.url, shares)
    compare._check(outcome, "refused live")
    return compare._rate(outcome)


def dry_run(server: Server, token: str, data: compare.Dataset, prefix: str) -> dict[str, float]:
    """Every body of `data` with dryRun=true to registers that do not exist, one client;
    readings/s. Each answer must count all its readings as to be created, and nothing be stored."""
    headers = compare._headers(token)
    devices = [f"{prefix}-{i}" for i in range(len(data.values))]
    jobs = [
        [
            (
                loadgen.request(
                    server.url, "POST", compare._bulk_path(device) + "?dryRun=true", body, headers
                ),
                201,
            )
            for body in data.bodies(i)
        ]
        for i, device in enumerate(devices)
    ]
    outcome = loadgen.run(server.url, compare._shares(jobs, 1), keep_answers=True)
    compare._check(outcome, "dry run")
    sizes = [min(data.batch, len(data.epochs) - start) for start in range(0, len(data.epochs), data.batch)]
    for answer, size in zip(outcome.answers, sizes * len(devices), strict=True):
        parsed = json.loads(answer)
        if not parsed["dryRun"] or parsed["created"] != size or parsed["importId"] is not None:
            raise AssertionError(f"dry run answered {parsed}")
    if compare.register_keys(server, devices):
        raise AssertionError("a dry run stored a register")
    return {"readings_per_s": len(devices) * len(data.epochs) / outcome.seconds}


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement once."""
    data = compare.Dataset(args.registers, args.batch)
    run: dict[str, Any] = {}
    with influx.running() as server:
        run["influx_live"] = compare.influx_live(server, LIVE_REGISTERS, args.live_requests)
    with running_server(None) as server:
        token = access_token(server)
        run["refused_live_1"] = refused_live(server, args.live_requests)
        run["live"] = compare.live_ours(server, token, LIVE_REGISTERS, args.live_requests, "live")
        run["dry_run"] = dry_run(server, token, data, "dry")
        run["backfill"] = compare.backfill_ours(server, token, data, "bf", 1)
    with running_server(None, ZEVVY_WORKERS="2") as server:
        run["refused_live_2"] = refused_live(server, args.live_requests)
    run["limit"] = limits.sqlite_insert(compare.limit_batches(data), ways=("blocks",))["sqlite_blocks"]
    if args.postgres:
        overlap = compare.Dataset(args.overlap_registers, args.batch, seed_base=2000)
        with running_server(args.postgres) as server:
            token = access_token(server)
            run["pg_dry_run"] = dry_run(server, token, data, "dry")
            run["pg_overlap"] = compare.overlap_ours(server, token, overlap, "ov")
        with throwaway_database(args.postgres, Path("/tmp")) as url:
            merges = limits.postgres_merge(url, compare.limit_batches(overlap, overlap.batch // 2))
        run["pg_best_merge"] = max(merges.values())
    run["bounds"] = bounds(run)
    return run


def bounds(run: dict[str, Any]) -> dict[str, float]:
    """The upper bounds (and, beside them, the ratios reached) within one run."""
    influx_rate = run["influx_live"]["requests_per_s"]
    out = {
        "live_1_worker_bound": run["refused_live_1"]["requests_per_s"] / influx_rate,
        "live_2_workers_bound": run["refused_live_2"]["requests_per_s"] / influx_rate,
        "live_reached": run["live"]["requests_per_s"] / influx_rate,
        "sqlite_limit_bound": run["dry_run"]["readings_per_s"] / run["limit"],
        "sqlite_limit_reached": run["backfill"]["readings_per_s"] / run["limit"],
    }
    if "pg_dry_run" in run:
        dry, merge = 1 / run["pg_dry_run"]["readings_per_s"], 1 / run["pg_best_merge"]
        out["pg_overlap_bound"] = merge / (dry + merge)
        out["pg_overlap_reached"] = run["pg_overlap"]["readings_per_s"] / run["pg_best_merge"]
    return out


def markdown(summary: dict[str, tuple[float, float, float]], command: str, runs: int) -> str:
    """The floors block of docs/performance.md."""

    def fig(key: str, digits: int = 0, unit: str = "") -> str:
        if key not in summary:
            return "—"
        m, lo, hi = summary[key]
        return f"{m:,.{digits}f}{unit} ({lo:,.{digits}f}–{hi:,.{digits}f})"

    return "\n".join(
        [
            f"Command: `{command}` — {runs} run(s); median (min–max over runs); every ratio within one run.",
            "",
            "| goal | its reference | the floor (an upper bound of ours) | upper bound of the ratio | ratio reached in the same run |",
            "|---|---|---|---|---|",
            f"| live ≥ 1.0× InfluxDB | InfluxDB {fig('influx_live.requests_per_s')} requests/s | refused before any work (401): one worker {fig('refused_live_1.requests_per_s')}, two workers {fig('refused_live_2.requests_per_s')} requests/s | one worker {fig('bounds.live_1_worker_bound', 2, '×')}, two workers {fig('bounds.live_2_workers_bound', 2, '×')} | {fig('bounds.live_reached', 2, '×')} ({fig('live.requests_per_s')} requests/s, one worker) |",
            f"| SQLite back-fill ≥ 70 % of the storage limit | our blocks through the driver {fig('limit')} readings/s | dry run, nothing stored: {fig('dry_run.readings_per_s')} readings/s | {fig('bounds.sqlite_limit_bound', 2, '×')} | {fig('bounds.sqlite_limit_reached', 2, '×')} ({fig('backfill.readings_per_s')} readings/s) |",
            f"| PostgreSQL overlap ≥ 0.8× the best in-process merge | best merge {fig('pg_best_merge')} readings/s | dry run on PostgreSQL {fig('pg_dry_run.readings_per_s')} readings/s, then the merge | {fig('bounds.pg_overlap_bound', 2, '×')} | {fig('bounds.pg_overlap_reached', 2, '×')} ({fig('pg_overlap.readings_per_s')} readings/s) |",
        ]
    )


def main() -> None:
    """Run, summarise, print; optionally update the document."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL (throwaway databases are created)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--registers", type=int, default=40)
    parser.add_argument("--overlap-registers", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--live-requests", type=int, default=4_000)
    parser.add_argument("--write-doc", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    if not influx.available():
        raise SystemExit("influxd not found: install Debian's influxdb package (see benchmarks/README.md)")
    runs = []
    for n in range(args.runs):
        run = one_run(args)
        runs.append(run)
        print(f"run {n + 1}: " + json.dumps(run["bounds"]), flush=True)
    shown = [a for a in sys.argv[1:] if a != "--write-doc"]
    block = markdown(compare.medians(runs), " ".join(["python benchmarks/floors.py", *shown]), len(runs))
    print(block)
    if args.write_doc:
        compare.write_doc(block, "floors")


if __name__ == "__main__":
    main()
