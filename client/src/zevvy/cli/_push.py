"""``zevvy push``: send a file's readings in batches, resumably.

After every batch the server confirmed (201 or 409), the number of readings delivered is written
to a small state file (temporary file, fsync, rename), keyed by profile, file (path, size,
modification time), device and register references and conflict mode. A re-run after an
interruption, even a ``kill -9``, starts after the last confirmed batch; at most the batch that was
in flight is sent again, which the server answers as ``unchanged``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zevvy import BulkResult, Client, PayloadTooLarge, ValidationError
from zevvy._files import write_private_file
from zevvy._wire import instant_text
from zevvy.cli._readings import Row

STATE_VERSION = 1


@dataclass
class PushState:
    """How far a push got; stored as JSON."""

    file: str
    size: int
    mtime_ns: int
    device_ref: str
    register_ref: str
    profile: str
    total: int = 0
    confirmed: int = 0
    batches: int = 0
    created: int = 0
    unchanged: int = 0
    overwritten: int = 0
    conflicts: int = 0
    complete: bool = False
    device_id: str | None = None
    register_id: str | None = None
    updated_at: str = ""
    version: int = STATE_VERSION

    def add(self, result: BulkResult, readings: int) -> None:
        """Count a confirmed batch."""
        self.confirmed += readings
        self.batches += 1
        self.created += result.created
        self.unchanged += result.unchanged
        self.overwritten += result.overwritten
        self.conflicts += result.conflicts
        if result.device is not None:
            self.device_id = result.device.id
        if result.register is not None:
            self.register_id = result.register.id


@dataclass
class StateFile:
    """The state file of one push."""

    path: Path

    @classmethod
    def for_push(
        cls, root: Path, profile: str, file: Path, device_ref: str, register_ref: str, on_conflict: str
    ) -> tuple[StateFile, PushState]:
        """The state file for this push and a fresh state (see `load`)."""
        stat = file.stat()
        identity = [
            profile,
            str(file.resolve()),
            stat.st_size,
            stat.st_mtime_ns,
            device_ref,
            register_ref,
            on_conflict,
        ]
        key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
        fresh = PushState(
            file=str(file.resolve()),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            device_ref=device_ref,
            register_ref=register_ref,
            profile=profile,
        )
        return cls(root / "push-state" / f"{key}.json"), fresh

    def load(self) -> PushState | None:
        """The stored state, or None."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") != STATE_VERSION:
                return None
            return PushState(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, state: PushState) -> None:
        """Store `state` atomically and durably."""
        state.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        write_private_file(self.path, json.dumps(asdict(state), indent=2) + "\n")


@dataclass
class PushOptions:
    """What to send where, and how."""

    device_ref: str
    register_ref: str
    batch_size: int = 10_000
    on_conflict: str = "keep"
    register_kind: str | None = None
    period: str | None = None
    unit: str | None = None
    conflicts_file: Path | None = None


@dataclass
class Outcome:
    """How a run ended."""

    state: PushState
    sent: int = 0
    skipped: int = 0
    error: Exception | None = None
    conflict_rows: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class ConflictWriter:
    """Appends conflict samples to a CSV file (``readAt,storedValue,sentValue``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, result: BulkResult) -> int:
        """Append the samples of `result`; the number written."""
        if not result.conflict_samples:
            return 0
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["readAt", "storedValue", "sentValue"])
            for sample in result.conflict_samples:
                stored = "" if sample.stored_value is None else format(sample.stored_value, "f")
                writer.writerow([instant_text(sample.read_at), stored, format(sample.sent_value, "f")])
        return len(result.conflict_samples)


def push_rows(
    client: Client,
    rows: list[Row],
    options: PushOptions,
    state: PushState,
    state_file: StateFile | None,
    *,
    on_batch: Callable[[int], None] = lambda n: None,
) -> Outcome:
    """Send `rows` from `state.confirmed` on; stops at the first batch that fails for good.

    A 413 halves the batch (down to the server's stated limit) and tries again; other errors end
    the run with everything confirmed so far recorded.
    """
    outcome = Outcome(state=state, skipped=state.confirmed)
    writer = ConflictWriter(options.conflicts_file) if options.conflicts_file else None
    size = max(1, options.batch_size)
    state.total = len(rows)
    while state.confirmed < len(rows):
        batch = rows[state.confirmed : state.confirmed + size]
        try:
            result = client.bulk_create(
                options.device_ref,
                options.register_ref,
                [(row.read_at, row.value) for row in batch],
                on_conflict="overwrite" if options.on_conflict == "overwrite" else "keep",
                register_kind=options.register_kind,
                period=options.period,
                unit=options.unit,
            )
        except PayloadTooLarge as exc:
            if size == 1:
                outcome.error = exc
                return outcome
            size = max(1, min(size // 2, exc.max_readings or size))
            continue
        except ValidationError as exc:
            outcome.error = _locate(exc, batch)
            return outcome
        except Exception as exc:  # noqa: BLE001 - every failure ends the run with the state kept
            outcome.error = exc
            return outcome
        state.add(result, len(batch))
        state.complete = state.confirmed >= len(rows)
        if state_file is not None:
            state_file.save(state)
        if writer is not None:
            outcome.conflict_rows += writer.write(result)
        outcome.sent += len(batch)
        outcome.batch_sizes.append(len(batch))
        on_batch(len(batch))
    state.complete = True
    return outcome


def _locate(exc: ValidationError, batch: list[Row]) -> ValidationError:
    """Name the file's lines in the details (``/17/readAt`` of a batch → the row it came from)."""
    for detail in exc.details:
        pointer = str(detail.get("pointer", ""))
        parts = pointer.split("/")
        if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(batch):
            detail["line"] = batch[int(parts[1])].line
    return exc


def rate(count: int, started: float) -> float:
    """Readings per second since `started` (a monotonic time)."""
    elapsed = time.monotonic() - started
    return count / elapsed if elapsed > 0 else 0.0


def summary(state: PushState, outcome: Outcome, seconds: float) -> dict[str, Any]:
    """The run's result for --json and the closing line."""
    return {
        "file": state.file,
        "deviceRef": state.device_ref,
        "registerRef": state.register_ref,
        "deviceId": state.device_id,
        "registerId": state.register_id,
        "total": state.total,
        "skipped": outcome.skipped,
        "sent": outcome.sent,
        "delivered": state.confirmed,
        "batches": state.batches,
        "created": state.created,
        "unchanged": state.unchanged,
        "overwritten": state.overwritten,
        "conflicts": state.conflicts,
        "complete": state.complete,
        "seconds": round(seconds, 3),
    }
