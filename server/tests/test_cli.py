"""The administration commands of `zevvy-server`."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import make_settings
from zevvy_server.cli import app
from zevvy_server.identity.models import Membership, Organization, User
from zevvy_server.storage.engine import Database

runner = CliRunner()


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "ZEVVY_DATABASE_URL": url,
        "ZEVVY_DATA_DIR": str(tmp_path),
        "ZEVVY_ADMIN_PASSWORD": "first-admin-pass",
    }


def test_users_create_without_organization_gives_the_user_an_organization_as_admin(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """The new user is admin of a new organization named after them."""
    result = runner.invoke(
        app,
        ["users", "create", "Alice", "--email", "alice@example.org", "--password-stdin"],
        input="a-long-password\n",
        env=_env(fresh_database_url, tmp_path),
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert created["username"] == "alice" and created["role"] == "admin"
    db = Database(make_settings(fresh_database_url, tmp_path))
    try:
        with db.read() as session:
            user = session.scalar(select(User).where(User.username == "alice"))
            assert user is not None and user.password_hash.startswith("$argon2id$")
            org = session.scalar(select(Organization).where(Organization.name == "alice"))
            assert org is not None
            assert session.get(Membership, (user.id, org.id)) is not None
    finally:
        db.dispose()


def test_users_create_refuses_a_short_password_and_a_taken_username(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """Exit code 1 and a message; nothing created."""
    env = _env(fresh_database_url, tmp_path)
    short = runner.invoke(
        app, ["users", "create", "bob", "--email", "b@x", "--password-stdin"], input="short\n", env=env
    )
    assert short.exit_code == 1
    ok = runner.invoke(
        app,
        [
            "users",
            "create",
            "bob",
            "--email",
            "b@x",
            "--organization",
            "ACME",
            "--role",
            "viewer",
            "--password-stdin",
        ],
        input="long-enough-pass\n",
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.strip().splitlines()[-1])["role"] == "viewer"
    taken = runner.invoke(
        app,
        ["users", "create", "BOB", "--email", "b@x", "--password-stdin"],
        input="long-enough-pass\n",
        env=env,
    )
    assert taken.exit_code == 1


def test_clients_create_prints_json_with_the_secret_once(fresh_database_url: str, tmp_path: Path) -> None:
    """--json prints client_id and client_secret; a public client has no secret."""
    env = _env(fresh_database_url, tmp_path)
    result = runner.invoke(
        app,
        [
            "clients",
            "create",
            "Gateway",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "measurement",
            "--json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout.strip().splitlines()[-1])
    assert created["client_id"] and len(created["client_secret"]) >= 32
    public = runner.invoke(app, ["clients", "create", "CLI", "--public", "--json"], env=env)
    assert json.loads(public.stdout.strip().splitlines()[-1])["client_secret"] is None


def test_keys_rotate_adds_a_new_signing_key(fresh_database_url: str, tmp_path: Path) -> None:
    """Each rotation prints a new key id."""
    env = _env(fresh_database_url, tmp_path)
    first = runner.invoke(app, ["keys", "rotate"], env=env)
    second = runner.invoke(app, ["keys", "rotate"], env=env)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert first.stdout != second.stdout
