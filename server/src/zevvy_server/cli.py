"""``zevvy-server``: serve, database chores, users, API clients and signing keys."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from zevvy_server.clock import Clock
from zevvy_server.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


app = typer.Typer(no_args_is_help=True, add_completion=False, help="The zevvy server.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema, backup and restore.")
users_app = typer.Typer(no_args_is_help=True, help="Accounts.")
clients_app = typer.Typer(no_args_is_help=True, help="OAuth API clients.")
keys_app = typer.Typer(no_args_is_help=True, help="Token signing keys.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder of the embedded SQLite database.")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="postgresql://... or sqlite:///...")]


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ValueError as exc:
        typer.echo(f"zevvy-server: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from exc


def _prepared(settings: Settings, *, migrate_schema: bool = False):  # type: ignore[no-untyped-def]
    from zevvy_server.bootstrap import SchemaOutdated, prepare_database
    from zevvy_server.storage.engine import Database

    db = Database(settings)
    try:
        prepare_database(db, settings, Clock(), migrate_schema=migrate_schema)
    except SchemaOutdated as exc:
        typer.echo(f"zevvy-server: {exc}", err=True)
        raise typer.Exit(3) from exc
    return db


@contextmanager
def _admin_write(data_dir: Path | None, database_url: str | None) -> Iterator[tuple[Session, Clock]]:
    """One write transaction of an administration command on a prepared database.

    A domain error ends the command with its message and exit code 1; nothing is written then.
    """
    from zevvy_server.errors import ZevvyError

    db = _prepared(_settings(data_dir=data_dir, database_url=database_url))
    try:
        with db.write() as session:
            yield session, Clock()
    except ZevvyError as exc:
        typer.echo(f"zevvy-server: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to bind (ZEVVY_HOST).")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Port (ZEVVY_PORT).")] = None,  # noqa: UP045
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    public_url: Annotated[Optional[str], typer.Option(help="External base URL (ZEVVY_PUBLIC_URL).")] = None,  # noqa: UP045
    workers: Annotated[Optional[int], typer.Option(help="Worker processes (ZEVVY_WORKERS).")] = None,  # noqa: UP045
    migrate: Annotated[bool, typer.Option("--migrate", help="Upgrade an outdated schema.")] = False,
) -> None:
    """Run the server (identity server, metering API, console)."""
    import uvicorn

    from zevvy_server.logs import configure_logging
    from zevvy_server.web.http1 import Http1Protocol

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        public_url=public_url,
        workers=workers,
    )
    configure_logging(settings.log_format, settings.log_level)
    _prepared(settings, migrate_schema=migrate).dispose()
    proxies = settings.trusted_proxies or "127.0.0.1"
    if settings.workers > 1:
        # Worker processes rebuild the settings from the environment: hand the flags down.
        for key, value in {
            "ZEVVY_HOST": settings.host,
            "ZEVVY_PORT": settings.port,
            "ZEVVY_DATA_DIR": settings.data_dir,
            "ZEVVY_DATABASE_URL": settings.database_url,
            "ZEVVY_PUBLIC_URL": settings.public_url,
        }.items():
            if value:
                os.environ[key] = str(value)
        uvicorn.run(
            "zevvy_server.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            proxy_headers=True,
            forwarded_allow_ips=proxies,
            access_log=False,
            log_config=None,
            http=Http1Protocol,
        )
        return
    from zevvy_server.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=proxies,
        access_log=False,
        log_config=None,
        http=Http1Protocol,
    )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Create the schema, or migrate it to this version."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    _prepared(settings, migrate_schema=True).dispose()
    typer.echo("database is up to date")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Write a consistent backup while the server runs (SQLite's backup API; pg_dump on PostgreSQL)."""
    from zevvy_server.storage.backup import BackupError, backup

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        backup(settings.sqlalchemy_url, file)
    except BackupError as exc:
        typer.echo(f"zevvy-server: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"backup written to {file}")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A file written by `zevvy-server db backup`.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Replace the database with a backup. Stop the server first."""
    from zevvy_server.storage.backup import BackupError, restore

    settings = _settings(data_dir=data_dir, database_url=database_url)
    try:
        restore(settings.sqlalchemy_url, file)
    except BackupError as exc:
        typer.echo(f"zevvy-server: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"database restored from {file}")


@users_app.command("create")
def users_create(
    username: str,
    email: Annotated[str, typer.Option("--email")],
    organization: Annotated[
        str | None, typer.Option("--organization", help="Existing or new organization.")
    ] = None,
    role: Annotated[str, typer.Option("--role")] = "admin",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account; without --organization it gets an organization of its own, as admin."""
    from zevvy_server.identity.service import IdentityService

    if not password_stdin:
        typer.echo("zevvy-server: pass the password on stdin with --password-stdin", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\r\n")
    with _admin_write(data_dir, database_url) as (session, clock):
        identity = IdentityService(session, clock)
        user = identity.create_user(username, email, password)
        if organization is None:
            org = identity.create_organization(user.username)
            role = "admin"
        else:
            org = identity.find_organization(organization) or identity.create_organization(organization)
        identity.add_member(org, user, role)
        identity.audit("user.created", organization_id=org.id, target=user.username, details={"role": role})
        result = {"id": str(user.id), "username": user.username, "organization": org.name, "role": role}
    typer.echo(json.dumps(result))


@clients_app.command("create")
def clients_create(
    name: str,
    organization: Annotated[Optional[str], typer.Option("--organization")] = None,  # noqa: UP045
    redirect_uri: Annotated[Optional[list[str]], typer.Option("--redirect-uri")] = None,  # noqa: UP045
    scope: Annotated[Optional[list[str]], typer.Option("--scope")] = None,  # noqa: UP045
    public: Annotated[
        bool, typer.Option("--public", help="No secret (device flow on gateways, PKCE apps).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API client and print its client_id and (once) its client_secret."""
    from zevvy_server.bootstrap import DEFAULT_ORGANIZATION
    from zevvy_server.identity.service import IdentityService
    from zevvy_server.oauth.service import ClientService

    with _admin_write(data_dir, database_url) as (session, clock):
        identity = IdentityService(session, clock)
        org_name = organization or DEFAULT_ORGANIZATION
        org = identity.find_organization(org_name)
        if org is None:
            typer.echo(f"zevvy-server: no organization named {org_name!r}", err=True)
            raise typer.Exit(1)
        client, secret = ClientService(session, clock).create(
            name, org.id, public=public, redirect_uris=redirect_uri or [], scopes=scope or None
        )
        identity.audit("client.created", organization_id=org.id, client_id=client.client_id, target=name)
        result = {
            "client_id": client.client_id,
            "client_secret": secret,
            "name": name,
            "organization": org.name,
        }
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"client_id:     {result['client_id']}")
        if secret:
            typer.echo(f"client_secret: {secret}   (shown once)")


@keys_app.command("rotate")
def keys_rotate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Add a new signing key; old public keys stay published until their tokens expired."""
    from zevvy_server.oauth import keys

    with _admin_write(data_dir, database_url) as (session, clock):
        kid = keys.rotate(session, clock)
    typer.echo(f"new signing key: {kid}")


def main() -> None:
    """Entry point of the ``zevvy-server`` command."""
    app()
