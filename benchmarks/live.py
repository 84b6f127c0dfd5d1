"""Live writes alone: requests/s, latency and the server's CPU time per request.

    python benchmarks/live.py [--postgres URL] [--requests 6000] [--rounds 2]

The live workload of `compare.py` (2,000 registers, each created by a first reading, untimed;
then one reading per request from 16 client processes), repeated in rounds on the same server,
each verified afterwards. Per round: requests/s, p50/p99, and the server process's CPU time
(user + system, from /proc) per request with its share of the wall time (1.0 = one core busy).
With one server process the rate is bounded by its CPU time per request, so that figure shows a
change to the request path more steadily than the rate, which moves with the machine's load.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import compare
import loadgen
from harness import access_token, running_server

REGISTERS = 2_000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run the rounds and print one line per round."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL server URL (a throwaway database is created)")
    parser.add_argument("--requests", type=int, default=6_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with running_server(args.postgres) as server:
        headers = compare._headers(access_token(server))
        pid = server.process.pid

        def job(register: int, index: int) -> loadgen.Job:
            path = compare._bulk_path(f"live-{register}")
            body = compare._live_body(register, index)
            return loadgen.request(server.url, "POST", path, body, headers), 201

        compare.live_warm_up(server.url, REGISTERS, job)
        sent: dict[int, list[int]] = {register: [0] for register in range(REGISTERS)}
        for number in range(1, args.rounds + 1):
            shares: list[list[loadgen.Job]] = [[] for _ in range(16)]
            for n in range(args.requests):
                register = n % REGISTERS
                index = len(sent[register])
                sent[register].append(index)
                shares[register % 16].append(job(register, index))
            before = cpu_seconds(pid)
            outcome = loadgen.run(server.url, shares)
            used = cpu_seconds(pid) - before
            compare._check(outcome, "live")
            rate = compare._rate(outcome)
            print(
                f"round {number}: {rate['requests_per_s']:,.0f} requests/s, p50 {rate['p50_ms']:.1f} ms,"
                f" p99 {rate['p99_ms']:.1f} ms; server CPU {1000 * used / args.requests:.2f} ms per request,"
                f" {used / outcome.seconds:.2f} of the wall time",
                flush=True,
            )
        compare.verify_ours(
            server,
            {
                f"live-{register}": compare.live_expected(register, indices)
                for register, indices in sent.items()
            },
        )


if __name__ == "__main__":
    main()
