"""Typed model of check-ins: a participant marked present for an event day or a session."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, utcnow
from ..extensions import db
from ..registration.models import Registration


def day_scope(day: date) -> str:
    """Return the scope key of a check-in for the event on ``day``."""
    return f"day:{day.isoformat()}"


def session_scope(session_id: int) -> str:
    """Return the scope key of a check-in for one session."""
    return f"session:{session_id}"


class CheckIn(db.Model):
    """A participant marked present for one event day or one session.

    ``scope`` ("day:2025-05-10" or "session:12") is never NULL, so that one
    unique index dedupes both kinds on SQLite and PostgreSQL alike (a unique
    constraint over a nullable session_id would let NULLs repeat). An undone
    check-in stays as history and no longer counts, so the index is partial.
    """

    __tablename__ = "check_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    # The Warsaw calendar day of the check-in.
    day: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(String(40))
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id", ondelete="SET NULL"))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id", ondelete="SET NULL"))

    registration: Mapped[Registration] = relationship()

    __table_args__ = (
        Index(
            "uq_check_in_live",
            "registration_id",
            "scope",
            unique=True,
            sqlite_where=text("undone_at IS NULL"),
            postgresql_where=text("undone_at IS NULL"),
        ),
    )

    @property
    def is_live(self) -> bool:
        """Tell whether the check-in counts (was not undone)."""
        return self.undone_at is None

    def __repr__(self) -> str:
        return f"<CheckIn {self.id} reg={self.registration_id} {self.scope}{' undone' if self.undone_at else ''}>"
