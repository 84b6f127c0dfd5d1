"""Where a back-fill request's time goes inside the server: each phase timed in the real
`zevvy-server serve` process, with 1 and with 4 clients.

    python benchmarks/phases.py [--registers 40] [--postgres URL]

The server is started with a `sitecustomize` module on its path that wraps the import path's
functions (decode, resolve, the readings' insert, the daily summaries, the import batch, the whole
write, the write with its COMMIT) and records, per call, the wall time and the calling thread's CPU
time. The load is the back-fill of `compare.py` (10,000 readings per request). Printed per request:
each phase's wall and CPU milliseconds, and the server process's CPU time against the wall time of
the load (1.0 = one core busy). Benchmark only: the wrappers cost a few microseconds a call.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import compare
from harness import access_token, running_server

# (label, module, attribute path) of the functions timed; the ingest path calls each through its
# module or class attribute, so replacing the attribute is enough.
PHASES = [
    ("decode", "zevvy_server.metering.bulk", "decode_path_form"),
    ("write + COMMIT", "zevvy_server.metering.bulk", "store"),
    ("write", "zevvy_server.metering.ingest", "IngestService.ingest"),
    ("  resolve", "zevvy_server.metering.resolve", "Resolver.resolve"),
    ("  readings insert", "zevvy_server.metering.rowstore", "insert_readings"),
    ("  daily summaries", "zevvy_server.metering.rollup", "appended"),
    ("  import batch and latest readings", "zevvy_server.metering.ingest", "IngestService._finish"),
]

_HOOK = """
import importlib, json, os, threading, time
_out = os.environ["ZEVVY_PHASES_OUT"]
_stats = {}
_lock = threading.Lock()
def _wrap(label, module, path):
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    inner = getattr(owner, name)
    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            with _lock:
                entry = _stats.setdefault(label, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += wall
                entry[2] += cpu
                if label == "write + COMMIT":
                    with open(_out + ".tmp", "w") as f:
                        json.dump(_stats, f)
                    os.replace(_out + ".tmp", _out)
    setattr(owner, name, timed)
for _phase in json.loads(os.environ["ZEVVY_PHASES"]):
    _wrap(*_phase)
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(postgres: str | None, clients: int, registers: int) -> dict[str, object]:
    """One server, one back-fill; the phases per request."""
    with tempfile.TemporaryDirectory(prefix="zevvy-phases-") as tmp:
        hook = Path(tmp) / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(_HOOK)
        out = Path(tmp) / "phases.json"
        env = {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
            "ZEVVY_PHASES": json.dumps(PHASES),
            "ZEVVY_PHASES_OUT": str(out),
        }
        with running_server(postgres, **env) as server:
            token = access_token(server)
            compare.backfill_ours(server, token, compare.Dataset(2, 10_000), "warm", 1)
            before = json.loads(out.read_text())
            cpu = _cpu_seconds(server.process.pid)
            result = compare.backfill_ours(server, token, compare.Dataset(registers, 10_000), "bf", clients)
            cpu = _cpu_seconds(server.process.pid) - cpu
            time.sleep(0.2)
            after = json.loads(out.read_text())
    # The verification after the load reads the database directly, not through the server.
    phases = {}
    for label, _module, _path in PHASES:
        calls, wall, cpu_s = (a - b for a, b in zip(after[label], before.get(label, [0, 0, 0]), strict=True))
        phases[label] = {"wall_ms": 1000 * wall / calls, "cpu_ms": 1000 * cpu_s / calls, "calls": calls}
    requests = phases["write + COMMIT"]["calls"]
    return {
        "clients": clients,
        "readings_per_s": result["readings_per_s"],
        "ms_per_request": 1000 * result["seconds"] / requests,
        "server_cores": cpu / result["seconds"],
        "phases": phases,
    }


def main() -> None:
    """Measure with 1 and 4 clients and print the phases side by side."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres")
    parser.add_argument("--registers", type=int, default=40)
    args = parser.parse_args()
    runs = [measure(args.postgres, clients, args.registers) for clients in (1, 4)]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"back-fill on {backend}, {args.registers} registers, 10,000 readings per request")

    def row(label: str, cells: list[str]) -> None:
        print(f"{label:24s}" + "".join(f"{cell:>26s}" for cell in cells))

    row("per request, ms", [f"{run['clients']} client(s): wall / CPU" for run in runs])
    for label, _module, _path in PHASES:
        row(
            label,
            [f"{run['phases'][label]['wall_ms']:.2f} / {run['phases'][label]['cpu_ms']:.2f}" for run in runs],
        )  # type: ignore[index]
    row("load time / requests", [f"{run['ms_per_request']:.2f}" for run in runs])
    row("readings/s", [f"{run['readings_per_s']:,.0f}" for run in runs])
    row("server CPU / wall", [f"{run['server_cores']:.2f}" for run in runs])


if __name__ == "__main__":
    main()
