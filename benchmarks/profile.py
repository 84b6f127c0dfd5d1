"""Profiles of the server (py-spy, sampling the real `zevvy-server serve` process) under the
back-fill, the live workload and the consumption queries.

    python benchmarks/profile.py [--postgres URL] [--out /tmp/zevvy-profiles]

Writes one py-spy "raw" (collapsed stacks) file per workload and prints the top functions by own
and by cumulative time. Needs `py-spy` (pip install py-spy) and permission to trace the process.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

import compare
import loadgen
from harness import access_token, running_server


def top(path: Path, n: int = 25) -> str:
    """The n heaviest frames by own samples and by inclusive samples."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            incl[frame] += count
    out = [f"{path.name}: {total} samples", "  own:"]
    out += [f"    {c / total:6.1%}  {f}" for f, c in own.most_common(n)]
    out += ["  inclusive:"]
    out += [f"    {c / total:6.1%}  {f}" for f, c in incl.most_common(n)]
    return "\n".join(out)


def main() -> None:
    """Profile each workload in turn."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres")
    parser.add_argument("--registers", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("/tmp/zevvy-profiles"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = compare.Dataset(args.registers, 10_000)
    with running_server(args.postgres) as server:
        token = access_token(server)

        def profiled(name: str, work) -> None:  # type: ignore[no-untyped-def]
            target = args.out / f"{name}.txt"
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    "--pid",
                    str(server.process.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "250",
                    "--output",
                    str(target),
                    "--nonblocking",
                    "--threads",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            work()
            spy.send_signal(2)
            spy.wait(timeout=60)
            print(top(target))

        profiled("backfill", lambda: compare.backfill_ours(server, token, data, "bf", 1))
        profiled("live", lambda: compare.live_ours(server, token, 500, 4_000, "live"))
        _key, rid = compare.register_keys(server, ["bf-0"])["bf-0"]
        auth = {"Authorization": f"Bearer {token}"}
        encoded = loadgen.request(server.url, "GET", compare.consumption_path(rid, "day"), headers=auth)
        profiled("consumption_day", lambda: compare.latency(server.url, encoded, 200))


if __name__ == "__main__":
    main()
