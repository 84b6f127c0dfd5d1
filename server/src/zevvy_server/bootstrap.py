"""Preparing the database at start-up: schema, first-start initialisation, schema check.

The first start with an empty database, under a lock so parallel workers cannot race, creates the
schema, a signing key, a session secret, the public ``zevvy-cli`` client and an admin account. The
admin's generated password is written once to stderr, outside the structured log, and must be
changed at first login (unless ``ZEVVY_ADMIN_PASSWORD`` set it).
"""

from __future__ import annotations

import secrets
import sys
from dataclasses import dataclass
from typing import TextIO

from zevvy_server.clock import Clock
from zevvy_server.identity.service import IdentityService
from zevvy_server.models import metadata
from zevvy_server.oauth import keys
from zevvy_server.oauth.service import ClientService
from zevvy_server.settings import Settings
from zevvy_server.storage import migrate
from zevvy_server.storage.engine import Database
from zevvy_server.storage.state import get_value, set_value

CLI_CLIENT_ID = "zevvy-cli"
CLI_SCOPES = ["device", "register", "measurement", "offline_access"]
ADMIN_USERNAME = "admin"
DEFAULT_ORGANIZATION = "Default"


class SchemaOutdated(RuntimeError):
    """The database is older than the code and may not be migrated implicitly."""


@dataclass
class PrepareResult:
    """What `prepare_database` did."""

    initialised: bool
    migrated: bool


def prepare_database(
    db: Database, settings: Settings, clock: Clock, *, migrate_schema: bool, out: TextIO = sys.stderr
) -> PrepareResult:
    """Create or check the schema; on the very first start, initialise the server."""
    with migrate.startup_lock(db.engine, settings.data_dir):
        if migrate.is_empty(db.engine):
            migrate.upgrade(db.engine, metadata)
            _initialise(db, settings, clock, out)
            return PrepareResult(initialised=True, migrated=True)
        current, head = migrate.current_revision(db.engine), migrate.head_revision()
        if current != head:
            if not migrate_schema:
                raise SchemaOutdated(
                    f"the database schema is at {current}, this version needs {head}; "
                    "run `zevvy-server db upgrade` or start with --migrate"
                )
            migrate.upgrade(db.engine, metadata)
            return PrepareResult(initialised=False, migrated=True)
        return PrepareResult(initialised=False, migrated=False)


def _initialise(db: Database, settings: Settings, clock: Clock, out: TextIO) -> None:
    with db.write() as session:
        if get_value(session, "initialised_at") is not None:
            return
        keys.ensure_signing_key(session, clock)
        set_value(session, "session_secret", secrets.token_urlsafe(32))
        identity = IdentityService(session, clock)
        org = identity.create_organization(DEFAULT_ORGANIZATION)
        generated = settings.admin_password is None
        password = settings.admin_password or secrets.token_urlsafe(15)
        admin = identity.create_user(
            ADMIN_USERNAME, "admin@localhost", password, must_change_password=generated
        )
        identity.add_member(org, admin, "admin")
        ClientService(session, clock).create(
            "zevvy CLI",
            org.id,
            client_id=CLI_CLIENT_ID,
            public=True,
            grant_types=["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            scopes=CLI_SCOPES,
        )
        identity.audit("server.initialised", organization_id=org.id, user_id=admin.id)
        set_value(session, "initialised_at", clock.now().isoformat())
    if generated:
        # Deliberately outside the log: shown once to whoever started the server.
        print(
            "\n  zevvy-server first start: an admin account was created.\n"
            f"    username: {ADMIN_USERNAME}\n    password: {password}\n"
            "  It must be changed at the first login. This password is not shown again.\n",
            file=out,
            flush=True,
        )


def session_secret(db: Database, settings: Settings) -> str:
    """The secret that keys console cookies and CSRF tokens."""
    if settings.secret_key:
        return settings.secret_key
    with db.read() as session:
        value = get_value(session, "session_secret")
    if value is None:
        raise RuntimeError("the database is not initialised")
    return value
