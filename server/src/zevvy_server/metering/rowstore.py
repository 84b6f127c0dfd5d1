"""Stored readings through the database driver: the only code that reads or writes them.

Readings travel as parallel lists of integers; no ORM object is built per reading. Both databases
keep them in blocks (`blockstore`), written inside the caller's transaction (SQLite: ``BEGIN
IMMEDIATE``; PostgreSQL: after the caller has locked the register row).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from zevvy_server.metering import blockstore

LOWEST, HIGHEST = blockstore.LOWEST, blockstore.HIGHEST  # the instants of open ends


def driver(session: Session) -> tuple[Any, bool]:
    """The DBAPI connection of the session's transaction and whether it is PostgreSQL."""
    connection = session.connection()
    return connection.connection.driver_connection, connection.dialect.name == "postgresql"


def insert_ignoring_conflicts(session: Session, table: Any, values: dict[str, Any]) -> bool:
    """INSERT a row unless a unique key already holds it; True when inserted.

    On PostgreSQL a concurrent transaction inserting the same key makes this wait for its
    outcome instead of failing, so "insert or fetch" never creates a thing twice.
    """
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported databases
        statement = insert(table).values(**values)
    # RETURNING tells inserted from skipped on both drivers (rowcount is not reliable here).
    key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(key)).first() is not None


def lock_registers(session: Session, keys: Sequence[int]) -> dict[int, tuple[int | None, int | None]]:
    """Lock register rows (PostgreSQL: FOR UPDATE, in key order so writers never deadlock on
    them; SQLite already holds the database's write lock) and read their latest reading."""
    raw, is_pg = driver(session)
    ordered = sorted(set(keys))
    found: dict[int, tuple[int | None, int | None]] = {}
    if is_pg:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT key, last_read_at, last_value FROM registers"
                " WHERE key = ANY(%s) ORDER BY key FOR UPDATE",
                (ordered,),
            )
            for key, last_read_at, last_value in cursor.fetchall():
                found[key] = (last_read_at, last_value)
        return found
    cursor = raw.cursor()
    try:
        for key in ordered:
            row = cursor.execute(
                "SELECT last_read_at, last_value FROM registers WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                found[key] = (row[0], row[1])
    finally:
        cursor.close()
    return found


def stored_range(session: Session, key: int, low: int, high: int) -> list[tuple[int, int]]:
    """Stored readings of a register with low <= instant <= high, ascending (instant, value)."""
    return list(zip(*blockstore.read(driver(session)[0], key, low, high, None), strict=True))


def holds_exactly(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> bool:
    """True when the register's stored readings from instants[0] to instants[-1] are exactly
    these (ascending) readings: a re-sent batch, compared as whole lists without a Python object
    per stored reading."""
    if not instants:
        return False
    stored = blockstore.read(driver(session)[0], key, instants[0], instants[-1], None)
    return stored == (list(instants), list(values))


def insert_readings(
    session: Session, key: int, instants: Sequence[int], values: Sequence[int], *, appending: bool = False
) -> None:
    """Store new readings (the caller made sure none of the instants is stored; `appending`:
    that every stored reading is older than the first of them)."""
    if instants:
        blockstore.insert(driver(session)[0], key, instants, values, appending=appending)


def update_readings(session: Session, key: int, instants: Sequence[int], values: Sequence[int]) -> None:
    """Replace the values of stored readings."""
    if instants:
        blockstore.update(driver(session)[0], key, instants, values)


def read_readings(
    session: Session, key: int, low: int | None, high: int | None, *, limit: int | None = None
) -> tuple[list[int], list[int]]:
    """Readings with low <= instant < high (open ends when None), ascending, as parallel lists."""
    low_at = LOWEST if low is None else low
    high_at = HIGHEST if high is None else high - 1
    return blockstore.read(driver(session)[0], key, low_at, high_at, limit)


def neighbour(session: Session, key: int, instant: int, *, before: bool) -> tuple[int, int] | None:
    """The reading at or before `instant` (before=True), or at or after it."""
    return blockstore.neighbour(driver(session)[0], key, instant, before=before)


def values_at(session: Session, key: int, instants: Sequence[int]) -> dict[int, int]:
    """The stored values at these instants (those with none are left out)."""
    return blockstore.values_at(driver(session)[0], key, instants) if instants else {}


def count_readings(session: Session, keys: Sequence[int]) -> int:
    """How many readings these registers hold."""
    return blockstore.count(driver(session)[0], keys) if keys else 0


def delete_readings(session: Session, keys: Sequence[int]) -> None:
    """Remove every reading of these registers."""
    if keys:
        blockstore.delete(driver(session)[0], keys)
