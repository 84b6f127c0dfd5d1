"""A deterministic bulk-import workload whose expected end state is known exactly.

Readings live on a 15-minute grid from 2024-01-01. A *block* is BLOCK consecutive slots; batches
always cover whole blocks, so any two batches touching one register either hold exactly the same
readings or none in common, and a reader can tell a whole batch from half of one. A reading's value
depends only on (device, register, slot): batches sent twice, or by two clients at once, agree.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx

BLOCK = 48
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

Key = tuple[str, str, int]  # (device reference, register reference, slot)


def read_at(slot: int) -> str:
    """The RFC 3339 instant of a slot."""
    return (EPOCH + timedelta(minutes=15 * slot)).strftime("%Y-%m-%dT%H:%M:%SZ")


def value(device: str, register: str, slot: int) -> int:
    """The one value every client sends for this reading."""
    return slot * 1000 + zlib.crc32(f"{device}|{register}".encode()) % 1000


def series(device: str, register: str, block: int, blocks: int = 1) -> dict[str, object]:
    """One body-form series covering `blocks` whole blocks from `block`."""
    slots = range(block * BLOCK, (block + blocks) * BLOCK)
    return {
        "deviceReference": device,
        "registerReference": register,
        "measurements": [{"readAt": read_at(s), "value": value(device, register, s)} for s in slots],
    }


def keys_of(batch: Iterable[dict[str, object]]) -> set[Key]:
    """The readings a batch (a list of series) holds."""
    found: set[Key] = set()
    for item in batch:
        device, register = str(item["deviceReference"]), str(item["registerReference"])
        for m in item["measurements"]:  # type: ignore[attr-defined]
            slot = int((datetime.fromisoformat(m["readAt"]) - EPOCH).total_seconds() // 900)
            found.add((device, register, slot))
    return found


def stored_readings(
    http: httpx.Client, device: str, register: str, *, one_snapshot: bool = False
) -> dict[int, int] | None:
    """slot -> value of one register; None when it is absent. With `one_snapshot`, the readings
    must come in one response (one transaction), so a reader sees one moment of the register."""
    path = f"/deviceRef/{quote(device, safe='')}/registerRef/{quote(register, safe='')}/measurements"
    params = {"format": "csv", "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    result: dict[int, int] = {}
    while True:
        response = http.get(path, params=params)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        for row in csv.DictReader(io.StringIO(response.text)):
            at = datetime.fromisoformat(row["readAt"].replace("Z", "+00:00"))
            result[int((at - EPOCH).total_seconds() // 900)] = int(row["value"])
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return result
        assert not one_snapshot, "more readings than one CSV page holds"
        params["cursor"] = cursor


def torn_blocks(slots: Iterable[int]) -> list[int]:
    """Blocks present in part only (a reader saw half a batch)."""
    counts: dict[int, int] = {}
    for slot in slots:
        counts[slot // BLOCK] = counts.get(slot // BLOCK, 0) + 1
    return sorted(block for block, n in counts.items() if n != BLOCK)


def assert_exactly(http: httpx.Client, expected: set[Key]) -> int:
    """Every expected reading is stored once with its value, and nothing else is; returns the count."""
    registers: dict[tuple[str, str], set[int]] = {}
    for device, register, slot in expected:
        registers.setdefault((device, register), set()).add(slot)
    total = 0
    for (device, register), slots in sorted(registers.items()):
        stored = stored_readings(http, device, register)
        assert stored is not None, f"{device}/{register} is missing"
        assert set(stored) == slots, (
            f"{device}/{register}: missing {sorted(slots - set(stored))[:5]}, "
            f"unexpected {sorted(set(stored) - slots)[:5]}"
        )
        wrong = [s for s, v in stored.items() if v != value(device, register, s)]
        assert wrong == [], f"{device}/{register}: wrong values at slots {wrong[:5]}"
        total += len(stored)
    return total
