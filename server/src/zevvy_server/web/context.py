"""What every request handler may reach: settings, database, clock; built once per app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zevvy_server.clock import Clock
from zevvy_server.settings import Settings
from zevvy_server.storage.engine import Database


@dataclass
class AppContext:
    """The running server's shared objects (held in ``app.state.ctx``)."""

    settings: Settings
    db: Database
    clock: Clock
    # Long-lived helpers that domains register at start-up (key cache, revocation cache, ...).
    extras: dict[str, Any] = field(default_factory=dict)
