"""Server-wide values kept in the database (the session secret, first-start markers)."""

from __future__ import annotations

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from zevvy_server.storage.base import Base


class ServerValue(Base):
    """A named value shared by every server process of the deployment."""

    __tablename__ = "server_values"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def get_value(session: Session, name: str) -> str | None:
    """The stored value, or None."""
    return session.scalar(select(ServerValue.value).where(ServerValue.name == name))


def set_value(session: Session, name: str, value: str) -> None:
    """Store or replace a value."""
    row = session.get(ServerValue, name)
    if row is None:
        session.add(ServerValue(name=name, value=value))
    else:
        row.value = value
