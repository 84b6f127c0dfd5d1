"""Side by side, in one run: our server against InfluxDB 1.x and against the storage's own limit.

    python benchmarks/compare.py --runs 3 --postgres postgresql://postgres@127.0.0.1:5432/test

Workloads (a run counts only when every reading is afterwards found stored with exactly the
value sent, in our database and in InfluxDB alike):

* back-fill: N registers (default 100) × one year of 15-minute cumulative integer Wh readings
  from 2025-01-01T00:00:00Z, 10,000 readings of one register per request, real access token, by
  1 client and by 4 concurrent clients (client processes, pre-encoded requests); then the 1-client
  data set re-sent unchanged;
* live: 2,000 registers, one reading per request, 16 concurrent clients, a fixed number of
  requests (p50/p99 latency); and one register filled with a whole year one reading per request;
* consumption over HTTP of one register's year by day (365 local days, Europe/Zurich) and by
  month, for the back-fill register and the live-filled one, against InfluxDB's
  ``sum(difference())`` per day on the same data; and a measurement point fed by the 100
  back-fill registers, by month, against the sum of its registers' plain-SQL queries;
* in-process limits: the same readings stored through the driver alone (our schema, encoding and
  durability): our blocks on both databases, and for reference one row per reading (SQLite
  ``executemany`` and multi-row INSERT statements, PostgreSQL COPY) and, on PostgreSQL, the best
  merge for overlaps;
* PostgreSQL (with ``--postgres``): new data, batches half overlapping stored data, re-sends.

Figures are medians over the runs; every ratio is taken within one run, then its median is shown.
The results are printed, stored as JSON (``--json``) and written into docs/performance.md between
its result markers (``--write-doc``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import influx
import limits
import loadgen
import msgspec
import rowtable
from harness import START, Server, access_token, percentile, running_server, year_of_counter
from sqlalchemy import select

from zevvy_server.metering import aggregation, blockstore, codec, rowstore
from zevvy_server.metering.models import Register
from zevvy_server.metering.periods import parse_period
from zevvy_server.storage.engine import Database

ROOT = Path(__file__).resolve().parent.parent
START_S = int(START.timestamp())
STEP_S = 900
US = 1_000_000
YEAR_FROM, YEAR_TO = "2025-01-01", "2026-01-01"
INFLUX_FROM, INFLUX_TO = "2024-12-31T23:00:00Z", "2025-12-31T23:00:00Z"


# -- data -----------------------------------------------------------------------------------------


class Dataset:
    """N registers' years: values per register, and the encoded bodies for us and for InfluxDB."""

    def __init__(self, registers: int, batch: int, seed_base: int = 0) -> None:
        self.values = [year_of_counter(seed_base + i)[1] for i in range(registers)]
        self.stamps = year_of_counter(0)[0]
        self.epochs = [START_S + STEP_S * n for n in range(len(self.stamps))]
        self.batch = batch

    def bodies(self, i: int, offsets: list[int] | None = None) -> list[bytes]:
        """Path-form bodies of register i: `batch` readings from each offset."""
        starts = offsets if offsets is not None else list(range(0, len(self.stamps), self.batch))
        encoder = msgspec.json.Encoder()
        return [
            encoder.encode(
                [
                    {"readAt": t, "value": v}
                    for t, v in zip(
                        self.stamps[s : s + self.batch], self.values[i][s : s + self.batch], strict=True
                    )
                ]
            )
            for s in starts
        ]

    def lines(self, name: str, i: int) -> list[bytes]:
        """Line-protocol bodies of register i, `batch` readings each."""
        return [
            influx.lines(name, self.epochs[s : s + self.batch], self.values[i][s : s + self.batch])
            for s in range(0, len(self.epochs), self.batch)
        ]


def _bulk_path(device: str, register: str = "energy") -> str:
    return f"/deviceRef/{quote(device, safe='')}/registerRef/{quote(register, safe='')}/measurements/_bulk_create"


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _shares(jobs_per_register: list[list[loadgen.Job]], clients: int) -> list[list[loadgen.Job]]:
    """Registers dealt round-robin to clients; each client sends its registers' jobs in order."""
    shares: list[list[loadgen.Job]] = [[] for _ in range(clients)]
    for i, jobs in enumerate(jobs_per_register):
        shares[i % clients].extend(jobs)
    return shares


def _check(outcome: loadgen.Outcome, what: str) -> None:
    if outcome.failures:
        raise RuntimeError(f"{what}: requests failed: {outcome.failures[:3]}")


# -- our server -----------------------------------------------------------------------------------


def register_keys(server: Server, devices: list[str]) -> dict[str, tuple[int, str]]:
    """(key, id) of each device's `energy` register."""
    from zevvy_server.metering.models import Device

    db = Database(server.settings)
    try:
        with db.read() as session:
            rows = session.execute(
                select(Device.reference, Register.key, Register.id)
                .join(Register, Register.device_id == Device.id)
                .where(Device.reference.in_(devices))
            ).all()
    finally:
        db.dispose()
    return {ref: (key, str(rid)) for ref, key, rid in rows}


def verify_ours(server: Server, expected: dict[str, tuple[list[int], list[int]]]) -> None:
    """Every register holds exactly the (epoch s, whole-unit value) readings expected."""
    keys = register_keys(server, list(expected))
    db = Database(server.settings)
    try:
        with db.read() as session:
            for device, (epochs, values) in expected.items():
                instants, stored = rowstore.read_readings(session, keys[device][0], None, None)
                if instants != [e * US for e in epochs] or stored != [v * US for v in values]:
                    raise AssertionError(f"{device}: stored data differs from what was sent")
    finally:
        db.dispose()


def backfill_ours(server: Server, token: str, data: Dataset, prefix: str, clients: int) -> dict[str, float]:
    """Back-fill every register of `data`; readings/s, verified."""
    headers = _headers(token)
    jobs = [
        [
            (loadgen.request(server.url, "POST", _bulk_path(f"{prefix}-{i}"), body, headers), 201)
            for body in data.bodies(i)
        ]
        for i in range(len(data.values))
    ]
    outcome = loadgen.run(server.url, _shares(jobs, clients))
    _check(outcome, f"back-fill {prefix}")
    verify_ours(server, {f"{prefix}-{i}": (data.epochs, data.values[i]) for i in range(len(data.values))})
    total = len(data.values) * len(data.epochs)
    return {"readings_per_s": total / outcome.seconds, "seconds": outcome.seconds}


def resend_ours(server: Server, token: str, data: Dataset, prefix: str) -> dict[str, float]:
    """Re-send a stored data set unchanged (1 client); every answer must say all unchanged."""
    headers = _headers(token)
    jobs = [
        [
            (loadgen.request(server.url, "POST", _bulk_path(f"{prefix}-{i}"), body, headers), 201)
            for body in data.bodies(i)
        ]
        for i in range(len(data.values))
    ]
    outcome = loadgen.run(server.url, _shares(jobs, 1), keep_answers=True)
    _check(outcome, "re-send")
    for answer in outcome.answers:
        parsed = json.loads(answer)
        if parsed["created"] or parsed["overwritten"] or parsed["conflicts"] or not parsed["unchanged"]:
            raise AssertionError(f"re-send answered {parsed}")
    verify_ours(server, {f"{prefix}-{i}": (data.epochs, data.values[i]) for i in range(len(data.values))})
    total = len(data.values) * len(data.epochs)
    return {"readings_per_s": total / outcome.seconds}


def overlap_ours(server: Server, token: str, data: Dataset, prefix: str) -> dict[str, float]:
    """Batches that each overlap the stored data by half (1 client); sent readings/s, verified."""
    headers = _headers(token)
    half = data.batch // 2
    offsets = list(range(0, len(data.epochs) - half, half))
    jobs = [
        [
            (loadgen.request(server.url, "POST", _bulk_path(f"{prefix}-{i}"), body, headers), 201)
            for body in data.bodies(i, offsets)
        ]
        for i in range(len(data.values))
    ]
    sent = sum(len(data.epochs[o : o + data.batch]) for o in offsets) * len(data.values)
    outcome = loadgen.run(server.url, _shares(jobs, 1))
    _check(outcome, "overlap")
    verify_ours(server, {f"{prefix}-{i}": (data.epochs, data.values[i]) for i in range(len(data.values))})
    return {"readings_per_s": sent / outcome.seconds}


def live_jobs(
    url: str, registers: int, requests: int, path_of: Any, body_of: Any, status: int
) -> list[list[loadgen.Job]]:
    """Request n goes to register n % registers with its next reading; client = register % 16."""
    shares: list[list[loadgen.Job]] = [[] for _ in range(16)]
    for n in range(requests):
        register, index = n % registers, n // registers + 1
        shares[register % 16].append(
            (loadgen.request(url, "POST", path_of(register), body_of(register, index)), status)
        )
    return shares


def _live_body(register: int, index: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_S + STEP_S * index))
    return b'[{"readAt":"%s","value":%d}]' % (stamp.encode(), 1000 + register + 7 * index)


def live_expected(register: int, indices: list[int]) -> tuple[list[int], list[int]]:
    """The (epoch s, value) readings that `_live_body` sent to `register` for `indices`."""
    return [START_S + STEP_S * k for k in indices], [1000 + register + 7 * k for k in indices]


def live_warm_up(url: str, registers: int, job: Any) -> None:
    """Create the live registers, one first reading each (`job(register, 0)`), from 16 clients."""
    warm: list[list[loadgen.Job]] = [[] for _ in range(16)]
    for register in range(registers):
        warm[register % 16].append(job(register, 0))
    _check(loadgen.run(url, warm), "live warm-up")


def live_ours(server: Server, token: str, registers: int, requests: int, prefix: str) -> dict[str, float]:
    """2,000 registers (created by a first reading each, untimed), then `requests` single-reading
    requests from 16 clients; requests/s and latency, verified."""
    headers = _headers(token)

    def job(register: int, index: int) -> loadgen.Job:
        return (
            loadgen.request(
                server.url, "POST", _bulk_path(f"{prefix}-{register}"), _live_body(register, index), headers
            ),
            201,
        )

    live_warm_up(server.url, registers, job)
    shares: list[list[loadgen.Job]] = [[] for _ in range(16)]
    for n in range(requests):
        register, index = n % registers, n // registers + 1
        shares[register % 16].append(job(register, index))
    outcome = loadgen.run(server.url, shares)
    _check(outcome, "live")
    expected = {}
    for r in range(registers):
        count = 1 + sum(1 for n in range(r, requests, registers))
        expected[f"{prefix}-{r}"] = live_expected(r, list(range(count)))
    verify_ours(server, expected)
    return _rate(outcome)


def _rate(outcome: loadgen.Outcome) -> dict[str, float]:
    return {
        "requests_per_s": outcome.requests / outcome.seconds,
        "p50_ms": percentile(outcome.latencies_ms, 0.5),
        "p99_ms": percentile(outcome.latencies_ms, 0.99),
    }


def live_year_ours(server: Server, token: str, data: Dataset, device: str) -> dict[str, float]:
    """One register's year, one reading per request from 16 clients (arrivals interleave)."""
    headers = _headers(token)
    values = data.values[0]
    shares: list[list[loadgen.Job]] = [[] for _ in range(16)]
    for n, stamp in enumerate(data.stamps):
        body = b'[{"readAt":"%s","value":%d}]' % (stamp.encode(), values[n])
        shares[n % 16].append((loadgen.request(server.url, "POST", _bulk_path(device), body, headers), 201))
    outcome = loadgen.run(server.url, shares)
    _check(outcome, "live year")
    verify_ours(server, {device: (data.epochs, values)})
    return _rate(outcome)


def latency(url: str, encoded: bytes, repeat: int, *, check: Any = None) -> dict[str, float]:
    """p50/p95 in ms of one request sent `repeat` times on one keep-alive connection (+1 warm-up)."""
    connection = loadgen.Connection(url)
    samples = []
    try:
        for n in range(repeat + 1):
            started = time.perf_counter()
            status, body = connection.send(encoded)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200:
                raise RuntimeError(f"query failed: {status} {body[:300]!r}")
            if n == 0 and check is not None:
                check(body)
            if n:
                samples.append(elapsed)
    finally:
        connection.close()
    return {"p50_ms": percentile(samples, 0.5), "p95_ms": percentile(samples, 0.95)}


def consumption_path(register_id: str, interval: str, kind: str = "registers") -> str:
    """The consumption GET path for a year."""
    query = urlencode({"from": YEAR_FROM, "to": YEAR_TO, "interval": interval, "timeZone": "Europe/Zurich"})
    return f"/{kind}/{register_id}/consumption?{query}"


def exact_check(server: Server, key: int, interval: str) -> Any:
    """A check that an answer equals the aggregation computed from the raw readings in-process."""

    def check(body: bytes) -> None:
        answer = json.loads(body)
        from zevvy_server.metering.readings import zone

        tz = zone("Europe/Zurich")
        edges = aggregation.bucket_edges(
            codec.parse_instant("2024-12-31T23:00:00Z"),
            codec.parse_instant("2025-12-31T23:00:00Z"),
            interval,
            tz,  # type: ignore[arg-type]
        )
        db = Database(server.settings)
        try:
            with db.read() as session:
                instants, values = rowstore.read_readings(session, key, None, None)
        finally:
            db.dispose()
        buckets = aggregation.counter_consumption(
            instants, values, edges, parse_period("PT15M").seconds, int(time.time() * US), tz=tz
        )
        got = [(b["value"], b["resets"], b["receivedSlots"], b["expectedSlots"]) for b in answer["buckets"]]
        from zevvy_server.metering.values import value_to_json_text

        want = [
            (
                None if b.value is None else json.loads(value_to_json_text(b.value)),
                b.resets,
                b.received_slots,
                b.expected_slots,
            )
            for b in buckets
        ]
        if got != want:
            raise AssertionError(f"consumption by {interval} differs from the raw aggregation")

    return check


def create_point(server: Server, token: str, register_ids: list[str]) -> str:
    """A measurement point fed by the registers from 2025-01-01; its id."""
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        prop = (
            http.post("/properties", json={"name": f"bench-{uuid.uuid4().hex[:6]}"}).raise_for_status().json()
        )
        unit = (
            http.post("/usage-units", json={"propertyId": prop["id"], "name": "house"})
            .raise_for_status()
            .json()
        )
        point = (
            http.post(
                "/measurement-points",
                json={"usageUnitId": unit["id"], "name": "all", "costType": "electricity", "unit": "Wh"},
            )
            .raise_for_status()
            .json()
        )
        for rid in register_ids:
            http.post(
                f"/measurement-points/{point['id']}/assignments",
                json={"registerId": rid, "validFrom": YEAR_FROM},
            ).raise_for_status()
    return str(point["id"])


def plain_sql_month_ms(server: Server, keys: list[int]) -> float:
    """Sum over registers of one plain-SQL query each (window function, months cut in Zurich)."""
    from zevvy_server.metering.readings import zone

    edges = aggregation.bucket_edges(
        codec.parse_instant(f"{INFLUX_FROM}"),
        codec.parse_instant(f"{INFLUX_TO}"),
        "month",
        zone("Europe/Zurich"),  # type: ignore[arg-type]
    )
    db = Database(server.settings)
    try:
        _rows_of_blocks(db, keys)
        with db.read() as session:
            raw, is_pg = rowstore.driver(session)
            mark = "%s" if is_pg else "?"
            cases = " ".join(f"WHEN read_at < {e} THEN {n}" for n, e in enumerate(edges[1:]))
            sql = (
                f"SELECT b, sum(d) FROM (SELECT CASE {cases} END AS b, value - lag(value) OVER (ORDER BY read_at) AS d"
                f" FROM measurements WHERE register_key = {mark} AND read_at >= {mark} AND read_at <= {mark}) q"
                " GROUP BY b ORDER BY b"
            )
            cursor = raw.cursor()
            started = time.perf_counter()
            for key in keys:
                cursor.execute(sql, (key, edges[0], edges[-1]))
                cursor.fetchall()
            elapsed = (time.perf_counter() - started) * 1000
            cursor.close()
        with db.engine.begin() as conn:
            rowtable.ROWS.drop(conn)
    finally:
        db.dispose()
    return elapsed


def _rows_of_blocks(db: Database, keys: list[int]) -> None:
    """The registers' readings copied from the server's blocks into one row per reading
    (`rowtable`), the layout plain SQL reads: on PostgreSQL in SQL, on SQLite through Python."""
    with db.engine.begin() as conn:
        rowtable.create(conn)
        if not db.is_sqlite:
            conn.exec_driver_sql(
                f"INSERT INTO measurements (register_key, read_at, value) {blockstore.ROWS_SQL}"
                " WHERE register_key = ANY(%(keys)s)",
                {"keys": keys},
            )
            return
    for key in keys:
        with db.write() as session:
            instants, values = rowstore.read_readings(session, key, None, None)
            rowtable.sqlite_insert(rowstore.driver(session)[0], key, instants, values)


def memory_per_body(server: Server, token: str) -> dict[str, float]:
    """A 100,000-reading request: decode copies in-process (tracemalloc) and the server's RSS rise."""
    _, values = year_of_counter(99_999, 100_000)
    first = START_S - 3 * 365 * 86_400  # 100,000 quarter-hours end before today
    stamps = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(first + STEP_S * n)) for n in range(100_000)]
    body = msgspec.json.encode([{"readAt": t, "value": v} for t, v in zip(stamps, values, strict=True)])
    tracemalloc.start()
    codec.decode_path_body(body, codec.Limits(now_us=int(time.time() * US)))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    before = _rss_kib(server.process.pid, "VmRSS")
    status, answer = loadgen.Connection(server.url).send(
        loadgen.request(server.url, "POST", _bulk_path("memory-probe"), body, _headers(token))
    )
    if status != 201:
        raise RuntimeError(f"100k request failed: {status} {answer[:200]!r}")
    peak_after = _rss_kib(server.process.pid, "VmHWM")
    return {
        "body_mib": len(body) / 2**20,
        "decode_peak_bodies": peak / len(body),
        "server_rss_rise_bodies": max(0, peak_after - before) * 1024 / len(body),
    }


def _rss_kib(pid: int, field: str) -> int:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    kids = [int(c) for c in text.split()]
    return kids + [g for k in kids for g in _children(k)]


# -- InfluxDB -------------------------------------------------------------------------------------


def influx_part(args: argparse.Namespace, data: Dataset, data4: Dataset, year: Dataset) -> dict[str, Any]:
    """Back-fill (1 and 4 clients), live writes and the daily query, all verified."""
    out: dict[str, Any] = {}
    with influx.running() as server:
        out["version"] = server.version()
        path = server.write_path()
        for clients, dataset, prefix in ((1, data, "bf1"), (4, data4, "bf4")):
            jobs = [
                [
                    (loadgen.request(server.url, "POST", path, body), 204)
                    for body in dataset.lines(f"{prefix}-{i}", i)
                ]
                for i in range(len(dataset.values))
            ]
            outcome = loadgen.run(server.url, _shares(jobs, clients))
            _check(outcome, f"influx back-fill {clients}")
            for i in range(len(dataset.values)):
                if influx.stored(server, f"{prefix}-{i}") != list(
                    zip(dataset.epochs, dataset.values[i], strict=True)
                ):
                    raise AssertionError(f"influx {prefix}-{i}: stored data differs")
            out[f"backfill_{clients}"] = len(dataset.values) * len(dataset.epochs) / outcome.seconds
        out["live"] = influx_live(server, args.live_registers, args.live_requests)
        for body in year.lines("year-0", 0):
            httpx.post(server.url + path, content=body).raise_for_status()
        for name in ("bf1-0", "year-0"):
            query = influx.daily_query(name, INFLUX_FROM, INFLUX_TO)
            out[f"day_{name}"] = latency(
                server.url, loadgen.request(server.url, "GET", server.query_path(query)), args.queries
            )
    return out


def influx_live(server: influx.Influx, registers: int, requests: int) -> dict[str, float]:
    """InfluxDB's live writes: `registers` series (one first point each, untimed), then `requests`
    single-line writes from 16 clients; requests/s and latency, spot-checked."""
    path = server.write_path()
    warm = [[] for _ in range(16)]  # type: list[list[loadgen.Job]]
    for r in range(registers):
        line = influx.lines(f"live-{r}", [START_S], [1000 + r])
        warm[r % 16].append((loadgen.request(server.url, "POST", path, line), 204))
    _check(loadgen.run(server.url, warm), "influx live warm-up")
    shares: list[list[loadgen.Job]] = [[] for _ in range(16)]
    for n in range(requests):
        r, k = n % registers, n // registers + 1
        line = influx.lines(f"live-{r}", [START_S + STEP_S * k], [1000 + r + 7 * k])
        shares[r % 16].append((loadgen.request(server.url, "POST", path, line), 204))
    outcome = loadgen.run(server.url, shares)
    _check(outcome, "influx live")
    for r in range(0, registers, max(1, registers // 50)):
        count = 1 + sum(1 for _ in range(r, requests, registers))
        want = [(START_S + STEP_S * k, 1000 + r + 7 * k) for k in range(count)]
        if influx.stored(server, f"live-{r}") != want:
            raise AssertionError(f"influx live-{r}: stored data differs")
    return _rate(outcome)


# -- one run --------------------------------------------------------------------------------------


def ours_part(
    args: argparse.Namespace, postgres: str | None, data: Dataset, data4: Dataset, year: Dataset
) -> dict[str, Any]:
    """Our server on one backend: everything above, verified."""
    out: dict[str, Any] = {}
    env = {"ZEVVY_WORKERS": str(args.workers)} if args.workers > 1 else {}
    with running_server(postgres, **env) as server:
        token = access_token(server)
        out["memory"] = memory_per_body(server, token)
        out["backfill_1"] = backfill_ours(server, token, data, "bf1", 1)
        out["resend_1"] = resend_ours(server, token, data, "bf1")
        if postgres is None:
            out["backfill_4"] = backfill_ours(server, token, data4, "bf4", 4)
        else:
            out["overlap_1"] = overlap_ours(server, token, data4, "ov1")
        out["backfill_peak_rss_mib"] = _rss_kib(server.process.pid, "VmHWM") / 1024
        out["live"] = live_ours(server, token, args.live_registers, args.live_requests, "live")
        if args.live_year:
            out["live_year"] = live_year_ours(server, token, year, "year-0")
        keys = register_keys(
            server, [f"bf1-{i}" for i in range(len(data.values))] + (["year-0"] if args.live_year else [])
        )
        auth = {"Authorization": f"Bearer {token}"}
        for name in ("bf1-0", "year-0") if args.live_year else ("bf1-0",):
            key, rid = keys[name]
            for interval in ("day", "month"):
                encoded = loadgen.request(server.url, "GET", consumption_path(rid, interval), headers=auth)
                out[f"{interval}_{name}"] = latency(
                    server.url, encoded, args.queries, check=exact_check(server, key, interval)
                )
        point = create_point(server, token, [keys[f"bf1-{i}"][1] for i in range(len(data.values))])
        encoded = loadgen.request(
            server.url, "GET", consumption_path(point, "month", "measurement-points"), headers=auth
        )
        out["point_month"] = latency(server.url, encoded, max(5, args.queries // 3))
        out["plain_sql_month_ms"] = plain_sql_month_ms(
            server, [keys[f"bf1-{i}"][0] for i in range(len(data.values))]
        )
        out["peak_rss_mib"] = _rss_kib(server.process.pid, "VmHWM") / 1024
    return out


def limit_batches(data: Dataset, step: int | None = None) -> list[limits.Batch]:
    """The data set's batches as stored rows (register key from 1, epoch µs, micro-units): one
    after the other, or with `step`, a batch of `data.batch` readings every `step` readings
    (overlapping the one before when `step` is shorter), the last starting `step` before the end."""
    starts = (
        range(0, len(data.epochs), data.batch) if step is None else range(0, len(data.epochs) - step, step)
    )
    return [
        (
            i + 1,
            [e * US for e in data.epochs[s : s + data.batch]],
            [v * US for v in data.values[i][s : s + data.batch]],
        )
        for i in range(len(data.values))
        for s in starts
    ]


def limits_part(postgres: str | None, data: Dataset, data4: Dataset) -> dict[str, float]:
    """The storage's own limits on the same rows."""
    batches = limit_batches(data)
    out = limits.sqlite_insert(batches)
    if postgres:
        from harness import throwaway_database

        with throwaway_database(postgres, Path("/tmp")) as url:
            out["postgres_copy"] = limits.postgres_copy(url, batches)
        with throwaway_database(postgres, Path("/tmp")) as url:
            out["postgres_blocks"] = limits.postgres_blocks(url, batches)
        overlapping = limit_batches(data4, data4.batch // 2)
        with throwaway_database(postgres, Path("/tmp")) as url:
            out.update({f"postgres_{k}": v for k, v in limits.postgres_merge(url, overlapping).items()})
    return out


def one_run(args: argparse.Namespace) -> dict[str, Any]:
    """Every part once, on the same data."""
    data = Dataset(args.registers, args.batch)
    data4 = Dataset(args.registers, args.batch, seed_base=1000)
    year = Dataset(1, args.batch, seed_base=5000)
    run: dict[str, Any] = {"influx": influx_part(args, data, data4, year)}
    run["sqlite"] = ours_part(args, None, data, data4, year)
    overlap = Dataset(args.overlap_registers, args.batch, seed_base=2000)
    if args.postgres:
        run["postgresql"] = ours_part(args, args.postgres, data, overlap, year)
    run["limits"] = limits_part(args.postgres, data, overlap)
    run["ratios"] = ratios(run)
    return run


def ratios(run: dict[str, Any]) -> dict[str, float]:
    """The goals' ratios within one run."""
    fx, sq, lim = run["influx"], run["sqlite"], run["limits"]
    r = {
        "sqlite_1c_vs_influx_1c": sq["backfill_1"]["readings_per_s"] / fx["backfill_1"],
        "sqlite_1c_vs_storage_limit": sq["backfill_1"]["readings_per_s"] / lim["sqlite_blocks"],
        "sqlite_4c_vs_sqlite_1c": sq["backfill_4"]["readings_per_s"] / sq["backfill_1"]["readings_per_s"],
        "sqlite_4c_vs_influx_4c": sq["backfill_4"]["readings_per_s"] / fx["backfill_4"],
        "sqlite_4c_vs_interleaved_limit": sq["backfill_4"]["readings_per_s"]
        / lim["sqlite_blocks_4_interleaved"],
        "sqlite_resend_vs_first": sq["resend_1"]["readings_per_s"] / sq["backfill_1"]["readings_per_s"],
        "sqlite_live_vs_influx_live": sq["live"]["requests_per_s"] / fx["live"]["requests_per_s"],
        "sqlite_point_month_vs_plain_sql": sq["plain_sql_month_ms"] / sq["point_month"]["p50_ms"],
    }
    pg = run.get("postgresql")
    # Consumption of the back-fill register and of the live-filled one (when measured).
    for backend, ours in (("sqlite", sq), ("pg", pg)):
        for name in ("bf1-0", "year-0"):
            if ours and f"day_{name}" in ours and f"day_{name}" in fx:
                for interval in ("day", "month"):
                    r[f"{backend}_{interval}_{name}_vs_influx_day"] = (
                        fx[f"day_{name}"]["p50_ms"] / ours[f"{interval}_{name}"]["p50_ms"]
                    )
    if pg:
        best_merge = max(
            lim["postgres_temp_table_merge"], lim["postgres_select_diff_copy"], lim["postgres_block_merge"]
        )
        r.update(
            {
                "pg_1c_vs_influx_1c": pg["backfill_1"]["readings_per_s"] / fx["backfill_1"],
                "pg_1c_vs_block_limit": pg["backfill_1"]["readings_per_s"] / lim["postgres_blocks"],
                "pg_overlap_vs_best_merge": pg["overlap_1"]["readings_per_s"] / best_merge,
                "pg_resend_vs_first": pg["resend_1"]["readings_per_s"] / pg["backfill_1"]["readings_per_s"],
                "pg_live_vs_influx_live": pg["live"]["requests_per_s"] / fx["live"]["requests_per_s"],
                "pg_point_month_vs_plain_sql": pg["plain_sql_month_ms"] / pg["point_month"]["p50_ms"],
            }
        )
    return r


# -- summary --------------------------------------------------------------------------------------


def _flatten(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = float(value)


def medians(runs: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """Median, min and max of every figure over the runs."""
    flat: list[dict[str, float]] = []
    for run in runs:
        f: dict[str, float] = {}
        _flatten("", run, f)
        flat.append(f)
    keys = [k for k in flat[0] if all(k in f for f in flat)]
    return {
        k: (statistics.median(f[k] for f in flat), min(f[k] for f in flat), max(f[k] for f in flat))
        for k in keys
    }


def machine() -> dict[str, str]:
    """Facts about the machine and the software."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    import sqlite3

    facts = {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{int(mem) // 1024} MiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    with contextlib.suppress(FileNotFoundError):
        facts["postgresql"] = subprocess.run(
            ["psql", "--version"], capture_output=True, text=True
        ).stdout.strip()
    return facts


def markdown(
    summary: dict[str, tuple[float, float, float]], facts: dict[str, str], command: str, runs: int
) -> str:
    """The results block of docs/performance.md."""

    def fig(key: str, unit: str = "", scale: float = 1.0, digits: int = 0) -> str:
        if key not in summary:
            return "—"
        m, lo, hi = (x * scale for x in summary[key])
        return f"{m:,.{digits}f}{unit} ({lo:,.{digits}f}–{hi:,.{digits}f})"

    lines = [
        f"Command: `{command}` — {runs} run(s); median (min–max over runs); every ratio is taken within one run.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in facts.items()) + ".",
        "",
        "| workload | zevvy (SQLite) | zevvy (PostgreSQL) | InfluxDB | in-process limit |",
        "|---|---|---|---|---|",
        f"| back-fill, 1 client, readings/s | {fig('sqlite.backfill_1.readings_per_s')} | {fig('postgresql.backfill_1.readings_per_s')} | {fig('influx.backfill_1')} | SQLite blocks {fig('limits.sqlite_blocks')}, one row per reading executemany {fig('limits.sqlite_insert_executemany')}, multi-row VALUES {fig('limits.sqlite_insert_values')}; PG blocks {fig('limits.postgres_blocks')}, one row per reading COPY {fig('limits.postgres_copy')} |",
        f"| back-fill, 4 clients, readings/s | {fig('sqlite.backfill_4.readings_per_s')} | — | {fig('influx.backfill_4')} | batches of 4 registers interleaved: SQLite blocks {fig('limits.sqlite_blocks_4_interleaved')}, multi-row VALUES {fig('limits.sqlite_insert_values_4_interleaved')} |",
        f"| re-send unchanged, 1 client, readings/s | {fig('sqlite.resend_1.readings_per_s')} | {fig('postgresql.resend_1.readings_per_s')} | | |",
        f"| half-overlapping batches, 1 client, readings/s | | {fig('postgresql.overlap_1.readings_per_s')} | | PG temp-table merge {fig('limits.postgres_temp_table_merge')}; select+diff+COPY {fig('limits.postgres_select_diff_copy')}; blocks select+diff+insert {fig('limits.postgres_block_merge')} |",
        f"| live, 16 clients, requests/s | {fig('sqlite.live.requests_per_s')} | {fig('postgresql.live.requests_per_s')} | {fig('influx.live.requests_per_s')} | |",
        f"| live, p50 / p99 ms | {fig('sqlite.live.p50_ms', digits=1)} / {fig('sqlite.live.p99_ms', digits=1)} | {fig('postgresql.live.p50_ms', digits=1)} / {fig('postgresql.live.p99_ms', digits=1)} | {fig('influx.live.p50_ms', digits=1)} / {fig('influx.live.p99_ms', digits=1)} | |",
        f"| one register's year filled one reading per request, 16 clients, requests/s | {fig('sqlite.live_year.requests_per_s')} | {fig('postgresql.live_year.requests_per_s')} | | |",
        f"| year by day, back-fill register, p50 ms | {fig('sqlite.day_bf1-0.p50_ms', digits=2)} | {fig('postgresql.day_bf1-0.p50_ms', digits=2)} | {fig('influx.day_bf1-0.p50_ms', digits=2)} | |",
        f"| year by month, back-fill register, p50 ms | {fig('sqlite.month_bf1-0.p50_ms', digits=2)} | {fig('postgresql.month_bf1-0.p50_ms', digits=2)} | (by day) | |",
        f"| year by day, live-filled register, p50 ms | {fig('sqlite.day_year-0.p50_ms', digits=2)} | {fig('postgresql.day_year-0.p50_ms', digits=2)} | {fig('influx.day_year-0.p50_ms', digits=2)} | |",
        f"| year by month, live-filled register, p50 ms | {fig('sqlite.month_year-0.p50_ms', digits=2)} | {fig('postgresql.month_year-0.p50_ms', digits=2)} | (by day) | |",
        f"| point of 100 registers by month, p50 ms | {fig('sqlite.point_month.p50_ms', digits=1)} | {fig('postgresql.point_month.p50_ms', digits=1)} | | plain SQL, sum of 100 queries: SQLite {fig('sqlite.plain_sql_month_ms', digits=0)} ms, PG {fig('postgresql.plain_sql_month_ms', digits=0)} ms |",
        f"| server peak RSS over the back-fill, MiB | {fig('sqlite.backfill_peak_rss_mib')} | {fig('postgresql.backfill_peak_rss_mib')} | | |",
        f"| 100,000-reading request ({fig('sqlite.memory.body_mib', ' MiB', digits=1)}): decode peak / server RSS rise, in bodies | {fig('sqlite.memory.decode_peak_bodies', digits=1)} / {fig('sqlite.memory.server_rss_rise_bodies', digits=1)} | — / {fig('postgresql.memory.server_rss_rise_bodies', digits=1)} | | |",
        "",
        "| ratio (within one run) | median (min–max) |",
        "|---|---|",
    ]
    for key in sorted(k for k in summary if k.startswith("ratios.")):
        lines.append(f"| {key[7:]} | {fig(key, '×', digits=2)} |")
    return "\n".join(lines)


def write_doc(block: str, name: str = "results") -> None:
    """Replace the block between docs/performance.md's `name` markers."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    path = ROOT / "docs" / "performance.md"
    text = path.read_text()
    head, found, rest = text.partition(begin)
    if not found:
        raise SystemExit(f"docs/performance.md has no {begin} marker")
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{block}\n{end}{tail}")


def main() -> None:
    """Run, summarise, print; optionally store JSON and update the document."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", help="PostgreSQL server URL (throwaway databases are created)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--registers", type=int, default=100)
    parser.add_argument("--overlap-registers", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--live-registers", type=int, default=2_000)
    parser.add_argument("--live-requests", type=int, default=16_000)
    parser.add_argument("--no-live-year", dest="live_year", action="store_false")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--json", type=Path, help="store every run's figures here")
    parser.add_argument("--write-doc", action="store_true", help="update docs/performance.md")
    args = parser.parse_args()
    if not influx.available():
        raise SystemExit("influxd not found: install Debian's influxdb package (see benchmarks/README.md)")
    facts = machine()
    runs = []
    for n in range(args.runs):
        run = one_run(args)
        runs.append(run)
        print(f"run {n + 1}: " + json.dumps(run["ratios"]), flush=True)
        if args.json:
            args.json.write_text(json.dumps({"machine": facts, "runs": runs}, indent=1))
    summary = medians(runs)
    shown, skip = [], False
    for a in sys.argv[1:]:
        if not skip and a != "--write-doc" and not a.startswith("--json"):
            shown.append(a)
        skip = a == "--json"
    command = "python benchmarks/compare.py " + " ".join(shown)
    block = markdown(summary, facts, command.strip(), len(runs))
    print(block)
    if args.write_doc:
        write_doc(block)


if __name__ == "__main__":
    main()
