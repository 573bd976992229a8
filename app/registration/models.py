"""Typed models of registrations, bookings and ranked preferences."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, enum_type, utcnow
from ..events.models import Event, Group, ParticipantCategory, Session
from ..extensions import db
from ..i18n import current_language, localized


class RegistrationStatus(str, enum.Enum):
    """A registration is live until the participant or an organiser cancels it."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class BookingStatus(str, enum.Enum):
    """State of a registration's place in a session."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    REQUESTED = "requested"  # outside the session's categories: an organiser decides
    CANCELLED = "cancelled"
    # A freed place of a ranked workshop held for a waiting person until offer_expires_at.
    OFFERED = "offered"


LIVE_BOOKING_STATUSES = (
    BookingStatus.CONFIRMED,
    BookingStatus.WAITLISTED,
    BookingStatus.REQUESTED,
    BookingStatus.OFFERED,
)
# Statuses that hold a place (counted in Session.taken and Group.taken).
PLACE_HOLDING_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.OFFERED)

# No 0/O, 1/I/L: the code is read aloud and typed at the venue.
CHECKIN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_checkin_code() -> str:
    """Return a short random code for the badge's QR code (not the manage token)."""
    return "".join(secrets.choice(CHECKIN_ALPHABET) for _ in range(8))


class Registration(db.Model):
    """One participant at one event."""

    __tablename__ = "registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    # Lower-cased email: one live registration per address per event.
    email_normalized: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(32), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(150), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[ParticipantCategory] = mapped_column(enum_type(ParticipantCategory, "participant_category"))
    language: Mapped[str] = mapped_column(String(2), default="pl")
    consent_version: Mapped[str] = mapped_column(String(40))
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_source: Mapped[str] = mapped_column(String(20), default="form")
    has_marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When has_marketing_consent got its current value (given on the form, withdrawn or given
    # again from the private link): consent must be provable, and so must its withdrawal.
    marketing_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_type(RegistrationStatus, "registration_status"), default=RegistrationStatus.ACTIVE
    )
    # SHA-256 of the private manage token; the token itself is never stored.
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Printed on the badge as a QR code and typed at check-in; reveals nothing else.
    checkin_code: Mapped[str] = mapped_column(String(12), default=new_checkin_code)
    # Folded name, email, organisation and city (registration.search.search_text), for
    # case- and diacritic-insensitive search that works the same on SQLite.
    search_text: Mapped[str] = mapped_column(String(800), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Double opt-in (Event.requires_email_confirmation): until confirmed_email_at is set, the
    # confirmed places are holds, cancelled at confirmation_expires_at (registration.holds).
    confirmation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_email_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the personal data was erased (on request, or by the purge of old events).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the email offering the certificate of attendance was queued (app.certificates): once only.
    certificate_offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    bookings: Mapped[list[Booking]] = relationship(
        back_populates="registration", order_by="Booking.id", cascade="all, delete-orphan"
    )
    preferences: Mapped[list[Preference]] = relationship(
        back_populates="registration",
        order_by="(Preference.session_id, Preference.rank)",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        Index(
            "uq_registration_live_email",
            "event_id",
            "email_normalized",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        UniqueConstraint("event_id", "checkin_code", name="uq_registration_checkin_code"),
        # The back office's list sorts by these within an event, id breaking ties.
        Index("ix_registration_event_last_name", "event_id", "last_name", "id"),
        Index("ix_registration_event_created_at", "event_id", "created_at", "id"),
        Index("ix_registration_event_organisation", "event_id", "organisation", "id"),
        Index("ix_registration_event_city", "event_id", "city", "id"),
    )

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"

    @property
    def is_awaiting_confirmation(self) -> bool:
        """Tell whether the participant still has to confirm by email (places only held)."""
        return (
            self.status == RegistrationStatus.ACTIVE
            and self.confirmation_expires_at is not None
            and self.confirmed_email_at is None
        )

    @property
    def live_bookings(self) -> list[Booking]:
        """Bookings that are not cancelled."""
        return [b for b in self.bookings if b.status in LIVE_BOOKING_STATUSES]

    def __repr__(self) -> str:
        return f"<Registration {self.id} event={self.event_id} {self.status.value}>"


class Booking(db.Model):
    """A registration's place (or place in the queue) in one session."""

    __tablename__ = "booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("session_group.id", ondelete="SET NULL"), index=True)
    status: Mapped[BookingStatus] = mapped_column(enum_type(BookingStatus, "booking_status"))
    # The rank this place fulfils, for places given out by a ranked allocation.
    rank: Mapped[int | None] = mapped_column(Integer)
    # An organiser approved this place outside the session's categories (a request,
    # or a sign-up booked directly): it may then leave the waiting list like any other.
    is_approved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # While OFFERED: the participant may accept the held place until then (ranking.offers).
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The invitation code that let this place be booked outside the session's categories.
    invitation_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation_code.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="bookings")
    session: Mapped[Session] = relationship()
    group: Mapped[Group | None] = relationship()

    __table_args__ = (
        # One live booking per registration and session; cancelled ones stay as history.
        Index(
            "uq_booking_live",
            "registration_id",
            "session_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        # The waiting list of a session is read in booking id order.
        Index("ix_booking_session_status", "session_id", "status", "id"),
    )

    def __repr__(self) -> str:
        return f"<Booking {self.id} reg={self.registration_id} session={self.session_id} {self.status.value}>"


class Preference(db.Model):
    """A participant's ranked choice of a workshop in a ranked block."""

    __tablename__ = "preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer)

    registration: Mapped[Registration] = relationship(back_populates="preferences")
    session: Mapped[Session] = relationship()

    __table_args__ = (UniqueConstraint("registration_id", "session_id", name="uq_preference_session"),)

    def __repr__(self) -> str:
        return f"<Preference reg={self.registration_id} session={self.session_id} rank={self.rank}>"


# Base32 without 0/O, 1/I/L: codes are copied from emails and sometimes typed.
INVITATION_ALPHABET = CHECKIN_ALPHABET
INVITATION_CODE_LENGTH = 12  # 31**12, about 2**59: not guessable at any request rate


def new_invitation_code() -> str:
    """Return a fresh random invitation code."""
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(INVITATION_CODE_LENGTH))


class InvitationCode(db.Model):
    """A code an organiser sends so that its holder may book a restricted session directly."""

    __tablename__ = "invitation_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, default=new_invitation_code)
    # 1 means single use. ``uses`` changes only by an atomic conditional UPDATE (registration.invitations).
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    recipient_email: Mapped[str] = mapped_column(String(254), default="")
    note: Mapped[str] = mapped_column(String(200), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    session: Mapped[Session] = relationship()

    __table_args__ = (
        CheckConstraint("max_uses >= 1", name="max_uses_positive"),
        CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_within_max"),
    )

    @property
    def is_revoked(self) -> bool:
        """Tell whether an organiser revoked the code."""
        return self.revoked_at is not None

    @property
    def uses_left(self) -> int:
        """How many more registrations the code admits."""
        return max(self.max_uses - self.uses, 0)

    def __repr__(self) -> str:
        return f"<InvitationCode {self.id} session={self.session_id} {self.uses}/{self.max_uses}>"


class ReminderSent(db.Model):
    """One reminder of an event given to one registration: the guard that sends it exactly once.

    Written in the transaction that queues the email; the unique index on
    (registration, hours before) makes a second worker's insert do nothing.
    A reminder overtaken by a later one (both due when the worker had been
    stopped) is written with ``is_superseded`` and no email.
    """

    __tablename__ = "reminder_sent"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"))
    hours_before: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))

    __table_args__ = (Index("uq_reminder_sent_once", "registration_id", "hours_before", unique=True),)

    def __repr__(self) -> str:
        return f"<ReminderSent reg={self.registration_id} {self.hours_before}h>"


class ApprovalDigestSent(db.Model):
    """The daily email to an organiser about requests awaiting approval: at most one per day (Warsaw)."""

    __tablename__ = "approval_digest_sent"

    id: Mapped[int] = mapped_column(primary_key=True)
    organiser_id: Mapped[int] = mapped_column(ForeignKey("organiser.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id", ondelete="SET NULL"))

    __table_args__ = (Index("uq_approval_digest_sent_once", "organiser_id", "day", unique=True),)

    def __repr__(self) -> str:
        return f"<ApprovalDigestSent organiser={self.organiser_id} {self.day}>"


class QuestionKind(str, enum.Enum):
    """Kinds of an event's own registration questions."""

    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    CHOICE = "choice"  # one option
    CHOICES = "choices"  # any number of options
    YES_NO = "yes_no"


class Question(db.Model):
    """An organiser's own question on an event's registration form (dietary needs, invoice data …).

    ``options`` (choice kinds) is a list of ``{"id": "o1", "pl": …, "en": …}``; answers keep
    the option ids, so an option's labels may change without changing the answers given.
    Once answered, a question keeps its kind and its answered options, and is hidden
    (``is_active`` False) rather than deleted (registration.questions).
    """

    __tablename__ = "question"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[QuestionKind] = mapped_column(enum_type(QuestionKind, "question_kind"))
    label_pl: Mapped[str] = mapped_column(String(300))
    label_en: Mapped[str] = mapped_column(String(300), default="")
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, server_default="[]")
    # Categories asked; empty means everyone.
    categories: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    is_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Special-category data (GDPR art. 9: health, e.g. diet for medical reasons, accessibility):
    # its answers are erased soon after the event (GDPR_SPECIAL_RETENTION_DAYS), before the rest.
    is_special_category: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        """Label in the current language."""
        return localized(self, "label")

    def option_label(self, option_id: str, language: str | None = None) -> str:
        """Return an option's label in ``language`` (the current one by default); unknown ids as they are."""
        for option in self.options or []:
            if option.get("id") == option_id:
                language = language or current_language()
                return option.get(language) or option.get("pl") or option_id
        return option_id

    def applies_to(self, category: str) -> bool:
        """Tell whether a participant of ``category`` is asked this question."""
        return not self.categories or category in self.categories

    def __repr__(self) -> str:
        return f"<Question {self.id} event={self.event_id} {self.kind.value}>"


class Answer(db.Model):
    """A registration's answer to one question: text, "yes"/"no", or option ids separated by commas."""

    __tablename__ = "answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    question: Mapped[Question] = relationship()

    __table_args__ = (UniqueConstraint("registration_id", "question_id", name="uq_answer_question"),)

    def __repr__(self) -> str:
        return f"<Answer reg={self.registration_id} question={self.question_id}>"
