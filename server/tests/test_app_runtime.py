"""What the application does to its process when it starts (its lifespan)."""

from __future__ import annotations

import gc

from tests.conftest import LiveServer
from zevvy_server.app import GC_THRESHOLDS


def test_a_started_server_has_frozen_its_start_up_objects(live_server: LiveServer) -> None:
    """A full garbage collection no longer walks the modules and the app (the live writes' p99
    latency, docs/performance.md), and the collector runs less often."""
    assert gc.get_freeze_count() > 100_000
    assert gc.get_threshold() == GC_THRESHOLDS
