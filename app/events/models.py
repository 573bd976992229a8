"""Typed models of the programme: series, events, partners, speakers, sessions and groups."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import UTCDateTime, enum_type, utcnow
from ..extensions import db
from ..i18n import group_label, localized


class ParticipantCategory(str, enum.Enum):
    """Who a participant is; sessions may be open to some categories only."""

    MAYOR = "mayor"
    DEPUTY_MAYOR = "deputy_mayor"
    CITY_OFFICIAL = "city_official"
    COUNCILLOR = "councillor"
    BUSINESS = "business"
    NGO = "ngo"
    ACADEMIA = "academia"
    MEDIA = "media"
    OTHER = "other"


class EventStatus(str, enum.Enum):
    """Life cycle of an event."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class SessionKind(str, enum.Enum):
    """Kinds of agenda items."""

    PLENARY = "plenary"
    DIALOGUE = "dialogue"
    ROUND_TABLE = "round_table"
    PROFESSIONAL_GROUP = "professional_group"
    WORKSHOP = "workshop"


class BookingMode(str, enum.Enum):
    """How places in a session are given out."""

    INSTANT = "instant"  # first come, first served
    RANKED = "ranked"  # participants rank options; an allocation decides later


class Series(db.Model):
    """A series of events, e.g. a yearly Dialogue Session or a touring conference."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name_pl: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    description_pl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    organiser_name: Mapped[str] = mapped_column(String(200), default="")

    events: Mapped[list[Event]] = relationship(back_populates="series", order_by="Event.starts_at")

    @property
    def name(self) -> str:
        """Name in the current language."""
        return localized(self, "name")

    def __repr__(self) -> str:
        return f"<Series {self.slug}>"


# A week and a day before the start.
DEFAULT_REMINDER_HOURS = (168, 24)


class Event(db.Model):
    """One meeting of a series, in one city, with its own programme."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title_pl: Mapped[str] = mapped_column(String(250))
    title_en: Mapped[str] = mapped_column(String(250), default="")
    description_pl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    edition_label: Mapped[str] = mapped_column(String(80), default="")
    city: Mapped[str] = mapped_column(String(120))
    venue: Mapped[str] = mapped_column(String(250), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[EventStatus] = mapped_column(enum_type(EventStatus, "event_status"), default=EventStatus.DRAFT)
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    # How many workshops a participant may rank in a ranked block.
    max_ranked_choices: Mapped[int] = mapped_column(Integer, default=3)
    # Ranked allocation favours those left without a workshop place at an earlier
    # meeting of the series, and puts last those who did not attend one (app.ranking.history).
    series_priority: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Double opt-in: a new registration holds its places until the participant confirms
    # by the emailed link; unconfirmed holds are cancelled after confirmation_hold_hours.
    requires_email_confirmation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    confirmation_hold_hours: Mapped[int] = mapped_column(Integer, default=24, server_default="24")
    # Ranked choices may change until then; None means until registration closes.
    preference_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who signs the certificates of attendance (app.certificates); empty: the series' organiser only.
    certificate_signatory_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    certificate_signatory_role_pl: Mapped[str] = mapped_column(String(200), default="", server_default="")
    certificate_signatory_role_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # Reminder emails go out this many hours before the start (registration.reminders);
    # each number is one reminder, so changing one is a new reminder. Empty: none.
    reminder_hours: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_REMINDER_HOURS), server_default="[168, 24]"
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    series: Mapped[Series] = relationship(back_populates="events")
    partners: Mapped[list[Partner]] = relationship(
        back_populates="event", order_by="Partner.position", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[Session]] = relationship(
        back_populates="event",
        order_by="(Session.starts_at, Session.id)",
        cascade="all, delete-orphan",
    )
    speakers: Mapped[list[Speaker]] = relationship(
        back_populates="event", order_by="(Speaker.position, Speaker.id)", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("ends_at >= starts_at", name="ends_after_start"),
        CheckConstraint("max_ranked_choices BETWEEN 1 AND 10", name="ranked_choices_range"),
    )

    @property
    def title(self) -> str:
        """Title in the current language."""
        return localized(self, "title")

    @property
    def description(self) -> str:
        """Description in the current language."""
        return localized(self, "description")

    def is_registration_open(self, now: datetime) -> bool:
        """Tell whether the registration form accepts submissions at ``now``."""
        if self.status != EventStatus.PUBLISHED:
            return False
        if self.registration_opens_at and now < self.registration_opens_at:
            return False
        if self.registration_closes_at and now >= self.registration_closes_at:
            return False
        return True

    @property
    def ranking_deadline(self) -> datetime | None:
        """When ranked choices stop changing: the preference deadline, else the registration close."""
        return self.preference_deadline or self.registration_closes_at

    def __repr__(self) -> str:
        return f"<Event {self.slug}>"


# The kinds of partner, in the order the event page shows their groups (PARTNER_KIND_LABELS names them).
PARTNER_KINDS = ("organiser", "partner", "content", "patron")


class Partner(db.Model):
    """A partner of an event, shown on its page in the group of its kind (``role``)."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    role: Mapped[str] = mapped_column(String(40), default="partner")  # one of PARTNER_KINDS
    position: Mapped[int] = mapped_column(Integer, default=0)
    # File name of the uploaded logo under UPLOAD_FOLDER (app.media), random; None: no logo.
    logo: Mapped[str | None] = mapped_column(String(80))

    event: Mapped[Event] = relationship(back_populates="partners")

    def __repr__(self) -> str:
        return f"<Partner {self.name!r}>"


def initials_of(name: str) -> str:
    """Return the first letters of the first and last word of ``name`` ("Marc de Wit" -> "MW")."""
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    if not words:
        return "?"
    return (words[0][0] + (words[-1][0] if len(words) > 1 else "")).upper()


# Which speakers speak at which sessions (both of the same event).
session_speaker = Table(
    "session_speaker",
    db.metadata,
    Column("session_id", ForeignKey("session.id", ondelete="CASCADE"), primary_key=True),
    Column("speaker_id", ForeignKey("speaker.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Speaker(db.Model):
    """A speaker of an event: who they are (in both languages), their photo and the sessions they speak at."""

    __tablename__ = "speaker"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role_pl: Mapped[str] = mapped_column(String(200), default="")
    role_en: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    bio_pl: Mapped[str] = mapped_column(Text, default="")  # Markdown (app.markup)
    bio_en: Mapped[str] = mapped_column(Text, default="")
    # File name of the uploaded photo under UPLOAD_FOLDER (app.media), random; None: initials instead.
    photo: Mapped[str | None] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)

    event: Mapped[Event] = relationship(back_populates="speakers")
    sessions: Mapped[list[Session]] = relationship(
        secondary=session_speaker, back_populates="speakers", order_by="(Session.starts_at, Session.id)"
    )

    @property
    def role(self) -> str:
        """Role in the current language."""
        return localized(self, "role")

    @property
    def bio(self) -> str:
        """Biography in the current language (Markdown)."""
        return localized(self, "bio")

    @property
    def initials(self) -> str:
        """The initials of the name, shown instead of a missing photo."""
        return initials_of(self.name)

    @property
    def affiliation(self) -> str:
        """Role and organisation in the current language, e.g. "Urban planner, City of Nijmegen"."""
        return ", ".join(part for part in (self.role, self.organisation) if part)

    def __repr__(self) -> str:
        return f"<Speaker {self.id} {self.name!r}>"


class Session(db.Model):
    """An agenda item of an event; may have a capacity, eligibility and groups."""

    __tablename__ = "session"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SessionKind] = mapped_column(enum_type(SessionKind, "session_kind"))
    title_pl: Mapped[str] = mapped_column(String(250))
    title_en: Mapped[str] = mapped_column(String(250), default="")
    description_pl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room: Mapped[str] = mapped_column(String(120), default="")
    # None means unlimited. With groups, always the sum of the groups' capacities.
    capacity: Mapped[int | None] = mapped_column(Integer)
    # Confirmed places; changed only by atomic conditional UPDATEs (registration.capacity).
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Categories that may book directly; empty list means everyone.
    eligible_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Email domains whose addresses may also book directly ("um.lodz.pl"; "*.gov.pl" for its subdomains).
    eligible_domains: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    booking_mode: Mapped[BookingMode] = mapped_column(
        enum_type(BookingMode, "booking_mode"), default=BookingMode.INSTANT
    )

    event: Mapped[Event] = relationship(back_populates="sessions")
    groups: Mapped[list[Group]] = relationship(
        back_populates="session", order_by="Group.id", cascade="all, delete-orphan"
    )
    speakers: Mapped[list[Speaker]] = relationship(
        secondary=session_speaker, back_populates="sessions", order_by="(Speaker.position, Speaker.id)"
    )

    __table_args__ = (
        CheckConstraint("taken >= 0 AND (capacity IS NULL OR taken <= capacity)", name="taken_within_capacity"),
        CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    @property
    def title(self) -> str:
        """Title in the current language."""
        return localized(self, "title")

    @property
    def description(self) -> str:
        """Description in the current language."""
        return localized(self, "description")

    @property
    def places_left(self) -> int | None:
        """Free places, or None when the session is unlimited."""
        if self.capacity is None:
            return None
        return max(self.capacity - self.taken, 0)

    @property
    def is_restricted(self) -> bool:
        """Tell whether only some categories may book directly."""
        return bool(self.eligible_categories)

    def is_eligible(self, category: str) -> bool:
        """Tell whether a participant of ``category`` may book directly."""
        return not self.eligible_categories or category in self.eligible_categories

    def admits_email(self, email: str) -> bool:
        """Tell whether ``email`` is at one of the session's official domains.

        ``*.gov.pl`` matches any subdomain of gov.pl, not gov.pl itself.
        """
        domain = (email or "").rpartition("@")[2].strip().lower().rstrip(".")
        if not domain:
            return False
        for pattern in self.eligible_domains or []:
            pattern = pattern.strip().lower()
            if pattern.startswith("*."):
                if domain.endswith(pattern[1:]):
                    return True
            elif domain == pattern:
                return True
        return False

    def overlaps(self, other: Session) -> bool:
        """Tell whether the two sessions overlap in time."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.title_pl!r}>"


class Group(db.Model):
    """A small group of a workshop or a table of a round table."""

    __tablename__ = "session_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    facilitator: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(120), default="")
    capacity: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    session: Mapped[Session] = relationship(back_populates="groups")

    __table_args__ = (
        CheckConstraint("taken >= 0 AND taken <= capacity", name="taken_within_capacity"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    @property
    def label(self) -> str:
        """The group's name as shown: the organiser's, else "Group N" in the reader's language."""
        if self.name:
            return self.name
        # Its place among the session's groups, which are ordered by id.
        return group_label("", 1 + sum(1 for other in self.session.groups if other.id < self.id))

    @property
    def places_left(self) -> int:
        """Free places in the group."""
        return max(self.capacity - self.taken, 0)

    def __repr__(self) -> str:
        return f"<Group {self.id} {self.name!r}>"
