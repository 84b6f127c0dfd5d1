"""Service-level fixtures: the live server's database and clock, used without HTTP."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from sqlalchemy.orm import Session

from tests.conftest import LiveServer
from zevvy_server.clock import AdjustableClock
from zevvy_server.settings import Settings

Transaction = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def clock(live_server: LiveServer) -> AdjustableClock:
    """The shared adjustable clock."""
    return live_server.clock


@pytest.fixture
def settings(live_server: LiveServer) -> Settings:
    """The server's settings."""
    return live_server.settings


@pytest.fixture
def transaction(live_server: LiveServer) -> Transaction:
    """`with transaction() as session:` — a committed write transaction."""
    return live_server.db.write
