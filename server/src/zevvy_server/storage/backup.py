"""Online backups and restores of the whole database.

SQLite: `backup` copies the live database with SQLite's online backup API, a consistent snapshot
taken while the server keeps writing; `restore` replaces the database file of a stopped server
(after checking the backup's integrity). PostgreSQL: both hand over to `pg_dump` / `pg_restore`
(custom format) when they are installed, and refuse with a pointer to the documentation otherwise.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

DOCS = "docs/operations.md and docs/reliability.md (Backup and restore)"


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says why and what to do."""


def _sqlite_path(sqlalchemy_url: str) -> Path:
    database = make_url(sqlalchemy_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(database)


def _libpq_url(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools, or see {DOCS}")
    return found


def _check_sqlite(path: Path) -> None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        result = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if result != ["ok"]:
        raise BackupError(f"{path} fails SQLite's integrity check: {'; '.join(result[:5])}")


def backup(sqlalchemy_url: str, target: Path) -> None:
    """Write a consistent copy of the database to `target` (which must not exist yet)."""
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file")
    if sqlalchemy_url.startswith("sqlite"):
        source_path = _sqlite_path(sqlalchemy_url)
        if not source_path.exists():
            raise BackupError(f"there is no database at {source_path}")
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(source_path, timeout=30)
        destination = sqlite3.connect(partial)
        try:
            # One step copies every page under one read transaction: a single snapshot, and
            # writers are not blocked in WAL mode.
            source.backup(destination, pages=-1)
            destination.execute("PRAGMA journal_mode=DELETE")
        finally:
            destination.close()
            source.close()
        _check_sqlite(partial)
        with partial.open("rb") as f:
            os.fsync(f.fileno())
        partial.rename(target)
        return
    pg_dump = _tool("pg_dump")
    result = subprocess.run(  # noqa: S603 - fixed program, arguments are not shell-parsed
        [pg_dump, "--format=custom", "--no-owner", "--file", str(target), _libpq_url(sqlalchemy_url)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")


def restore(sqlalchemy_url: str, source: Path) -> None:
    """Replace the database's content with the backup in `source`. The server must be stopped."""
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    if sqlalchemy_url.startswith("sqlite"):
        _check_sqlite(source)
        path = _sqlite_path(sqlalchemy_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            # A running server holds the write lock while it writes; refuse rather than pull the
            # file from under it. (The lock test cannot see an idle server: stop it first.)
            with sqlite3.connect(path, timeout=0) as conn:
                try:
                    conn.execute("BEGIN EXCLUSIVE")
                    conn.execute("ROLLBACK")
                except sqlite3.OperationalError as exc:
                    raise BackupError("the database is in use: stop the server before restoring") from exc
        incoming = path.with_name(path.name + ".restoring")
        shutil.copyfile(source, incoming)
        with incoming.open("rb") as f:
            os.fsync(f.fileno())
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        incoming.replace(path)
        return
    pg_restore = _tool("pg_restore")
    result = subprocess.run(  # noqa: S603 - fixed program, arguments are not shell-parsed
        [
            pg_restore,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            _libpq_url(sqlalchemy_url),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was changed): {result.stderr.strip()}")
