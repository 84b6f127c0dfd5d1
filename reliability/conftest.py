"""Fixtures of the reliability suite: scale (bounded or --long), a server process per test, figures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import throwaway_database

from harness import Figures, ServerProcess, secret_leaks

BACKEND = "postgresql" if os.environ.get("ZEVVY_TEST_DATABASE_URL") else "sqlite"
_RECORDED: list[Figures] = []
RESULTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="the full run (minutes to hours), not the bounded one",
    )


@dataclass(frozen=True)
class Scale:
    """How much each case does: the bounded run for CI, the long run for the published figures."""

    long: bool
    writers: int
    requests_per_writer: int
    crashes: int
    pg_restarts: int
    schema_examples: int

    @property
    def name(self) -> str:
        """`long` or `bounded`."""
        return "long" if self.long else "bounded"


@pytest.fixture(scope="session")
def scale(request: pytest.FixtureRequest) -> Scale:
    """The run's scale."""
    if request.config.getoption("--long"):
        return Scale(
            True, writers=16, requests_per_writer=250, crashes=50, pg_restarts=5, schema_examples=1000
        )
    return Scale(False, writers=16, requests_per_writer=20, crashes=6, pg_restarts=1, schema_examples=100)


@pytest.fixture(scope="session")
def figures(scale: Scale) -> Figures:
    """Where each case records its figures (test-artifacts/reliability-<backend>-<scale>.json)."""
    recorded = Figures(RESULTS / f"reliability-{BACKEND}-{scale.name}.json")
    _RECORDED.append(recorded)
    return recorded


@pytest.fixture(scope="session", autouse=True)
def no_secrets_in_server_logs(figures: Figures) -> Iterator[None]:
    """When the run ends, scan the whole log of every server process it started: no line may hold
    a token or a secret the suite handed out (the admin password among them)."""
    yield
    logs = [process.log_text() for process in ServerProcess.started]
    leaks = [line for log in logs for line in secret_leaks(log)]
    figures.record(
        "log_scan",
        backend=BACKEND,
        servers=len(logs),
        lines=sum(log.count("\n") for log in logs),
        lines_with_secrets=len(leaks),
    )
    assert leaks == [], f"secrets or tokens in {len(leaks)} server log lines, e.g. {leaks[0]}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A started server process on a new database of the backend under test."""
    with throwaway_database(tmp_path) as url:
        process = ServerProcess(url, tmp_path / "data")
        process.start()
        try:
            yield process
        finally:
            process.kill()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for figures in _RECORDED:
        if figures.rows:
            terminalreporter.write_sep("-", f"figures ({figures.path.name})")
            terminalreporter.write_line(figures.path.read_text())
