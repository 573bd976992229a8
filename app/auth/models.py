"""Typed models of organiser accounts, their events, login attempts and password reset links."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, enum_type, utcnow
from ..events.models import Event
from ..extensions import db


class Role(str, enum.Enum):
    """What an account may do."""

    ADMIN = "admin"  # everything, manages accounts
    ORGANISER = "organiser"  # manages the events it is assigned to
    STAFF = "staff"  # at the venue: checks people in, prints sign-in sheets and badges, sees counts

    @property
    def sees_personal_data(self) -> bool:
        """Tell whether the role may see participants' contact details (email, phone), lists and exports.

        Staff at the venue need names, organisations and sessions (the check-in desk, the sign-in
        sheets and badges), not how to reach people.
        """
        return self is not Role.STAFF


event_organiser = Table(
    "event_organiser",
    db.metadata,
    Column("event_id", ForeignKey("event.id", ondelete="CASCADE"), primary_key=True),
    Column("organiser_id", ForeignKey("organiser.id", ondelete="CASCADE"), primary_key=True),
)


class Organiser(UserMixin, db.Model):
    """An account of the back office."""

    __tablename__ = "organiser"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role, "organiser_role"), default=Role.ORGANISER)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Changing it logs out every session of the account (password change, disabling).
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    events: Mapped[list[Event]] = relationship(secondary=event_organiser, order_by="Event.starts_at")

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Tell Flask-Login whether the account may log in."""
        return self.is_enabled

    def get_id(self) -> str:
        """Return the session identifier: id and session version."""
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        """Tell whether the account is an administrator."""
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<Organiser {self.email} {self.role.value}>"


class LoginAttempt(db.Model):
    """A failed login, counted per account and per IP to slow down guessing."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    def __repr__(self) -> str:
        return f"<LoginAttempt {self.key} {self.at:%Y-%m-%d %H:%M}>"


class PasswordResetToken(db.Model):
    """A link emailed to set a forgotten password: single use, short-lived, kept only as a hash."""

    __tablename__ = "password_reset_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the token in the link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the link sets a password, or when the password changes another way (the link is then void).
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<PasswordResetToken {self.id} organiser={self.organiser_id} expires={self.expires_at:%Y-%m-%d %H:%M}>"
