"""First start, later starts and schema checks."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import make_settings
from zevvy_server.bootstrap import SchemaOutdated, prepare_database
from zevvy_server.clock import Clock
from zevvy_server.identity.models import User
from zevvy_server.oauth.models import Client
from zevvy_server.storage.engine import Database


def test_first_start_creates_the_admin_with_a_password_shown_once_that_must_be_changed(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """The generated password goes to the given stream once, and the account must change it."""
    settings = make_settings(fresh_database_url, tmp_path, admin_password=None)
    db = Database(settings)
    out = io.StringIO()
    try:
        assert prepare_database(db, settings, Clock(), migrate_schema=False, out=out).initialised
        shown = out.getvalue()
        assert "password:" in shown
        with db.read() as session:
            admin = session.scalar(select(User).where(User.username == "admin"))
            assert admin is not None and admin.must_change_password
            assert session.scalar(select(Client).where(Client.client_id == "zevvy-cli")) is not None
        again = io.StringIO()
        assert not prepare_database(db, settings, Clock(), migrate_schema=False, out=again).initialised
        assert again.getvalue() == ""
    finally:
        db.dispose()


def test_parallel_first_starts_initialise_exactly_once(fresh_database_url: str, tmp_path: Path) -> None:
    """Four workers starting together create one admin and one CLI client."""
    settings = make_settings(fresh_database_url, tmp_path)
    results: list[bool] = []
    errors: list[BaseException] = []

    def start() -> None:
        db = Database(settings)
        try:
            results.append(
                prepare_database(db, settings, Clock(), migrate_schema=False, out=io.StringIO()).initialised
            )
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [False, False, False, True]
    db = Database(settings)
    try:
        with db.read() as session:
            assert len(session.scalars(select(User)).all()) == 1
    finally:
        db.dispose()


def test_a_later_start_refuses_an_outdated_schema_unless_told_to_migrate(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """A schema behind the code's head revision is refused without --migrate and upgraded with it."""
    settings = make_settings(fresh_database_url, tmp_path)
    db = Database(settings)
    try:
        prepare_database(db, settings, Clock(), migrate_schema=False, out=io.StringIO())
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
        with pytest.raises(SchemaOutdated):
            prepare_database(db, settings, Clock(), migrate_schema=False, out=io.StringIO())
    finally:
        db.dispose()
