"""The bulk decoder in-process: milliseconds per request body, by stage, medians of many runs.

    python benchmarks/decode.py [--readings 10000] [--repeat 300]

Bodies as the back-fill sends them (one register, 15-minute instants in whole seconds, `Z`),
with integer values and with 3-decimal values. Stages: the whole path-form decode
(`codec.decode_path_body`, what a request pays before the database), msgspec's typed decode alone,
and the conversion of the decoded instants to epoch microseconds (`instants_from_datetimes`)
against the plain per-item arithmetic. Each figure is checked against the plain arithmetic's
result before it is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from zevvy_server.metering import codec
from zevvy_server.metering.values import instant_from_datetime, instants_from_datetimes


def median_ms(work: Callable[[], object], repeat: int) -> float:
    """The median wall time of `work` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def body(readings: int, *, decimals: bool) -> bytes:
    """A path-form body of one register's cumulative readings, 15 minutes apart."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = []
    for i in range(readings):
        value = f"{1_000 + i * 7}.{i % 1000:03d}" if decimals else str(1_000 + i * 7)
        at = (start + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        items.append(f'{{"readAt":"{at}","value":{value}}}')
    return ("[" + ",".join(items) + "]").encode()


def per_item(moments: list[datetime]) -> list[int]:
    """The plain conversion, one datetime at a time."""
    return [instant_from_datetime(moment) for moment in moments]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    limits = codec.Limits(now_us=int(time.time() * 1_000_000))
    for name, decimals in (("integer values", False), ("3-decimal values", True)):
        data = body(args.readings, decimals=decimals)
        series = codec.decode_path_body(data, limits)
        moments = [r.read_at for r in codec._TYPED.decode(data)]
        plain = per_item(moments)
        assert series.instants == plain and instants_from_datetimes(moments) == plain
        print(f"{args.readings:,} readings, {name} ({len(data) / 1e6:.2f} MB):")
        stages: list[tuple[str, Callable[[], object]]] = [
            ("decode_path_body", partial(codec.decode_path_body, data, limits)),
            ("msgspec typed decode alone", partial(codec._TYPED.decode, data)),
            ("instants, in bulk", partial(instants_from_datetimes, moments)),
            ("instants, per item", partial(per_item, moments)),
        ]
        for stage, work in stages:
            print(f"  {stage:28s} {median_ms(work, args.repeat):6.3f} ms")


if __name__ == "__main__":
    main()
