"""Organiser use cases of the programme: series, events, sessions and groups.

Public functions own their transaction (``write_transaction``) and record every
change in the audit log inside it; private helpers only flush. Capacities change
only through conditional UPDATEs checked by row count, never read-then-write.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..auth.models import event_organiser
from ..db import utcnow, write_transaction
from ..errors import DomainError
from ..events.models import (
    DEFAULT_REMINDER_HOURS,
    BookingMode,
    Event,
    EventStatus,
    Group,
    ParticipantCategory,
    Partner,
    Series,
    Session,
    SessionKind,
    Speaker,
)
from ..extensions import db
from ..i18n import TIMEZONE
from ..media import copy_image, delete_image
from ..registration import capacity as places
from ..registration.bookings import promote_waiting
from ..registration.models import LIVE_BOOKING_STATUSES, Booking, Preference, Registration
from ..registration.questions import copy_questions
from ..registration.reminders import MAX_REMINDER_HOURS, MAX_REMINDERS

EVENT_SLUG = re.compile(r"^[a-z0-9-]{3,120}$")
SERIES_SLUG = re.compile(r"^[a-z0-9-]{3,80}$")
# An email domain of a session's eligibility; "*." in front admits its subdomains.
DOMAIN_PATTERN = re.compile(r"^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_DOMAINS = 50

session_table = Session.__table__
group_table = Group.__table__

# Action name -> (status it applies to, status it leads to).
STATUS_ACTIONS: dict[str, tuple[EventStatus, EventStatus]] = {
    "publish": (EventStatus.DRAFT, EventStatus.PUBLISHED),
    "close": (EventStatus.PUBLISHED, EventStatus.CLOSED),
    "reopen": (EventStatus.CLOSED, EventStatus.PUBLISHED),
}


class ManagementError(DomainError):
    """Base of the refusals an organiser can get; ``field`` names the form field."""

    message = _l("The change could not be saved.")


class SlugTaken(ManagementError):
    """Another event or series already uses the slug."""

    message = _l("This address (slug) is already used. Choose another one.")
    field = "slug"


class CapacityBelowTaken(ManagementError):
    """The new capacity is lower than the places already confirmed."""

    field = "capacity"

    def __init__(self, taken: int) -> None:
        super().__init__(
            _l(
                "%(taken)s places are already confirmed, so the capacity cannot be lower than %(taken)s. "
                "Cancel bookings first.",
                taken=taken,
            )
        )


class HasBookings(ManagementError):
    """Something with bookings (or their history) cannot be deleted."""

    message = _l(
        "This cannot be deleted because people have booked it (the history of cancelled bookings counts too). "
        "Cancel or close it instead."
    )


class InvalidTransition(ManagementError):
    """The event's status does not allow this action."""

    message = _l("This change of status is not possible in the event's current status.")


class SeriesNotYours(ManagementError):
    """An organiser may attach an event only to a series they hold events in (or a new one).

    A series shares its participants' history (series priority reads who missed out or did
    not come to earlier meetings), so attaching an event to another organiser's series
    would let its allocation previews probe people at events the organiser cannot see.
    """

    message = _l("You can only choose a series in which you already organise events. Ask an administrator to add you.")
    field = "series_id"


class NotFound(ManagementError):
    """The series, event, session or group does not exist."""

    message = _l("This item no longer exists.")


@dataclass
class SeriesData:
    """The fields of a series, cleaned by the form."""

    slug: str
    name_pl: str
    name_en: str = ""
    description_pl: str = ""
    description_en: str = ""
    organiser_name: str = ""


@dataclass
class EventData:
    """The fields of an event, cleaned by the form; datetimes are aware UTC."""

    series_id: int
    slug: str
    title_pl: str
    city: str
    starts_at: datetime
    ends_at: datetime
    title_en: str = ""
    description_pl: str = ""
    description_en: str = ""
    edition_label: str = ""
    venue: str = ""
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    max_ranked_choices: int = 3
    contact_email: str = ""
    preference_deadline: datetime | None = None
    requires_email_confirmation: bool = False
    confirmation_hold_hours: int = 24
    certificate_signatory_name: str = ""
    certificate_signatory_role_pl: str = ""
    certificate_signatory_role_en: str = ""
    # Hours before the start; each is one reminder email (registration.reminders).
    reminder_hours: list[int] = field(default_factory=lambda: list(DEFAULT_REMINDER_HOURS))


@dataclass
class SessionData:
    """The fields of a session; ``capacity`` None is unlimited (ignored when it has groups)."""

    kind: SessionKind
    title_pl: str
    starts_at: datetime
    ends_at: datetime
    title_en: str = ""
    description_pl: str = ""
    description_en: str = ""
    room: str = ""
    capacity: int | None = None
    eligible_categories: list[str] = field(default_factory=list)
    booking_mode: BookingMode = BookingMode.INSTANT
    eligible_domains: list[str] = field(default_factory=list)


@dataclass
class GroupData:
    """The fields of a group of a session."""

    name: str
    capacity: int
    facilitator: str = ""
    room: str = ""


@dataclass
class CloneData:
    """Where and when the copy of an event takes place."""

    slug: str
    city: str
    starts_on: date
    venue: str = ""


@dataclass
class SessionChange:
    """A session after a change, and the bookings promoted from its waiting list."""

    session: Session
    promoted: list[Booking] = field(default_factory=list)


# --- series ---------------------------------------------------------------------------


def create_series(data: SeriesData) -> Series:
    """Create a series.

    :raises SlugTaken: when another series has the slug.
    """
    _check_slug(data.slug, SERIES_SLUG)
    try:
        with write_transaction():
            _check_series_slug_free(data.slug)
            series = Series(**asdict(data))
            db.session.add(series)
            db.session.flush()
            record("series.created", series_id=series.id, slug=series.slug)
    except IntegrityError as error:
        raise SlugTaken() from error
    return series


def update_series(series_id: int, data: SeriesData) -> Series:
    """Change a series' fields.

    :raises SlugTaken: when another series has the slug.
    """
    _check_slug(data.slug, SERIES_SLUG)
    try:
        with write_transaction():
            series = _get(Series, series_id)
            _check_series_slug_free(data.slug, except_id=series_id)
            changed = _assign(series, asdict(data))
            if changed:
                record("series.updated", series_id=series.id, fields=changed)
    except IntegrityError as error:
        raise SlugTaken() from error
    return series


# --- events ---------------------------------------------------------------------------


def series_open_to(organiser_id: int | None) -> list[Series]:
    """Return the series an event may be attached to, by name: all for an admin (``None``),
    else those where the organiser holds an event and those with no event yet."""
    query = select(Series).order_by(Series.name_pl, Series.id)
    if organiser_id is not None:
        query = query.where(_series_open_to(organiser_id))
    return list(db.session.execute(query).scalars())


def _series_open_to(organiser_id: int) -> Any:
    """Return the condition on Series that ``series_open_to`` states."""
    held = (
        select(Event.id)
        .join(event_organiser, event_organiser.c.event_id == Event.id)
        .where(Event.series_id == Series.id, event_organiser.c.organiser_id == organiser_id)
    )
    return or_(exists(held), ~exists(select(Event.id).where(Event.series_id == Series.id)))


def _check_series(series_id: int, organiser_id: int | None) -> None:
    """Refuse an unknown series, or one the (non-admin) organiser may not attach events to.

    :raises NotFound, SeriesNotYours:
    """
    _get(Series, series_id, field="series_id")
    if (
        organiser_id is not None
        and db.session.execute(select(Series.id).where(Series.id == series_id, _series_open_to(organiser_id))).first()
        is None
    ):
        raise SeriesNotYours()


def create_event(data: EventData, assign_to: int | None = None) -> Event:
    """Create an event as a draft; ``assign_to`` names the (non-admin) organiser creating it,
    who gets access to it and may choose only a series open to them (``series_open_to``).

    :raises SlugTaken, ManagementError: for a used slug, an unknown or foreign series or bad times.
    """
    _check_event_data(data)
    try:
        with write_transaction():
            _check_series(data.series_id, assign_to)
            _check_event_slug_free(data.slug)
            event = Event(status=EventStatus.DRAFT, **asdict(data))
            db.session.add(event)
            db.session.flush()
            if assign_to is not None:
                db.session.execute(insert(event_organiser).values(event_id=event.id, organiser_id=assign_to))
            record("event.created", event_id=event.id, slug=event.slug)
    except IntegrityError as error:
        _raise_slug_taken(error)
        raise
    return event


def update_event(event_id: int, data: EventData, organiser_id: int | None = None) -> Event:
    """Change an event's fields (not its status); a (non-admin) ``organiser_id`` may move
    it only to a series open to them.

    :raises SlugTaken, ManagementError: for a used slug, an unknown or foreign series or bad times.
    """
    _check_event_data(data)
    try:
        with write_transaction():
            event = _get(Event, event_id)
            if data.series_id != event.series_id:
                _check_series(data.series_id, organiser_id)
            _check_event_slug_free(data.slug, except_id=event_id)
            changed = _assign(event, asdict(data))
            if changed:
                record("event.updated", event_id=event.id, fields=changed)
    except IntegrityError as error:
        _raise_slug_taken(error)
        raise
    return event


def change_event_status(event_id: int, action: str) -> Event:
    """Publish a draft, close a published event's registration, or reopen it.

    :raises InvalidTransition: when the event is not in the status the action needs.
    """
    if action not in STATUS_ACTIONS:
        raise InvalidTransition()
    before, after = STATUS_ACTIONS[action]
    with write_transaction():
        # Conditional on the current status, so two clicks cannot both apply.
        changed_rows = _rows_changed(
            update(Event.__table__)
            .where(Event.__table__.c.id == event_id, Event.__table__.c.status == before)
            .values(status=after)
        )
        if changed_rows != 1:
            raise InvalidTransition()
        record(f"event.{action}", event_id=event_id, status=after.value)
    return _get(Event, event_id)


def clone_event(event_id: int, data: CloneData, assign_to: int | None = None) -> Event:
    """Copy an event with its sessions, groups, speakers, partners, questions and organisers to a new city and date.

    Every time moves by the same number of days in Warsaw wall-clock time (a
    10:00 session stays at 10:00 across a change of summer time). The copy is a
    draft with no registrations and no places taken. Speakers keep their sessions
    (the copies); photos and logos are copied, so deleting one event's never
    takes the other's.

    :raises SlugTaken: when the new slug is used.
    """
    _check_slug(data.slug, EVENT_SLUG)
    try:
        with write_transaction():
            source = db.session.execute(
                select(Event)
                .where(Event.id == event_id)
                .options(
                    selectinload(Event.sessions).selectinload(Session.groups),
                    selectinload(Event.partners),
                    selectinload(Event.speakers).selectinload(Speaker.sessions),
                )
            ).scalar_one_or_none()
            if source is None:
                raise NotFound()
            _check_event_slug_free(data.slug)
            days = (data.starts_on - source.starts_at.astimezone(TIMEZONE).date()).days
            clone = Event(
                series_id=source.series_id,
                slug=data.slug,
                title_pl=source.title_pl,
                title_en=source.title_en,
                description_pl=source.description_pl,
                description_en=source.description_en,
                edition_label=source.edition_label,
                city=data.city,
                venue=data.venue,
                starts_at=shift_days(source.starts_at, days),
                ends_at=shift_days(source.ends_at, days),
                registration_opens_at=shift_days(source.registration_opens_at, days),
                registration_closes_at=shift_days(source.registration_closes_at, days),
                preference_deadline=shift_days(source.preference_deadline, days),
                status=EventStatus.DRAFT,
                contact_email=source.contact_email,
                max_ranked_choices=source.max_ranked_choices,
                requires_email_confirmation=source.requires_email_confirmation,
                confirmation_hold_hours=source.confirmation_hold_hours,
                certificate_signatory_name=source.certificate_signatory_name,
                certificate_signatory_role_pl=source.certificate_signatory_role_pl,
                certificate_signatory_role_en=source.certificate_signatory_role_en,
                reminder_hours=list(source.reminder_hours or []),
            )
            clone.partners = [
                Partner(name=p.name, url=p.url, role=p.role, position=p.position, logo=copy_image(p.logo))
                for p in source.partners
            ]
            clone.sessions = [_copy_session(session, days) for session in source.sessions]
            copies = {old.id: new for old, new in zip(source.sessions, clone.sessions, strict=True)}
            clone.speakers = [
                Speaker(
                    name=s.name,
                    role_pl=s.role_pl,
                    role_en=s.role_en,
                    organisation=s.organisation,
                    bio_pl=s.bio_pl,
                    bio_en=s.bio_en,
                    position=s.position,
                    photo=copy_image(s.photo),
                    sessions=[copies[session.id] for session in s.sessions],
                )
                for s in source.speakers
            ]
            db.session.add(clone)
            db.session.flush()
            copy_questions(source.id, clone.id)
            organiser_ids = set(
                db.session.execute(
                    select(event_organiser.c.organiser_id).where(event_organiser.c.event_id == source.id)
                ).scalars()
            )
            if assign_to is not None:
                organiser_ids.add(assign_to)
            for organiser_id in sorted(organiser_ids):
                db.session.execute(insert(event_organiser).values(event_id=clone.id, organiser_id=organiser_id))
            record("event.cloned", event_id=clone.id, source_event_id=source.id, slug=clone.slug, days=days)
    except IntegrityError as error:
        _raise_slug_taken(error)
        raise
    return clone


def delete_event(event_id: int) -> None:
    """Delete an event that nobody ever registered for, with its speakers' photos and partners' logos.

    :raises HasBookings: when it has registrations, even cancelled ones.
    """
    with write_transaction():
        event = _get(Event, event_id)
        if db.session.execute(select(exists().where(Registration.event_id == event_id))).scalar():
            raise HasBookings(
                _l(
                    "This event has registrations (cancelled ones count too) and cannot be deleted. Close its registration instead."
                )
            )
        record("event.deleted", deleted_event_id=event_id, slug=event.slug)
        pictures = [s.photo for s in event.speakers] + [p.logo for p in event.partners]
        db.session.delete(event)
    for name in pictures:
        delete_image(name)


def shift_days(value: datetime | None, days: int) -> datetime | None:
    """Move an aware datetime by whole days of Warsaw wall-clock time; return aware UTC."""
    if value is None:
        return None
    local = value.astimezone(TIMEZONE).replace(tzinfo=None) + timedelta(days=days)
    return local.replace(tzinfo=TIMEZONE).astimezone(UTC)


# --- sessions -------------------------------------------------------------------------


def create_session(event_id: int, data: SessionData) -> Session:
    """Add a session to an event.

    :raises ManagementError: for bad times, capacity or categories.
    """
    _check_session_data(data)
    with write_transaction():
        _get(Event, event_id)
        session = Session(event_id=event_id, taken=0, **asdict(data))
        db.session.add(session)
        db.session.flush()
        record("session.created", event_id=event_id, session_id=session.id, title=session.title_pl)
    return session


def update_session(session_id: int, data: SessionData, now: datetime | None = None) -> SessionChange:
    """Change a session; a higher capacity gives the new places to the waiting list at once.

    ``promote_waiting`` queues the promoted people's emails in this transaction.
    The capacity of a session with groups is the sum of its groups' and is not
    taken from ``data``.

    :raises CapacityBelowTaken: when the capacity would fall below the confirmed places.
    :raises ManagementError: for bad input, or a change of booking mode once people booked.
    """
    _check_session_data(data)
    now = now or utcnow()
    with write_transaction():
        session = _get(Session, session_id)
        values = asdict(data)
        new_capacity = values.pop("capacity")
        if data.booking_mode != session.booking_mode and _has_bookings(session_id, live_only=True):
            raise ManagementError(
                _l("People have already booked this session, so its booking mode cannot change."),
                field="booking_mode",
            )
        changed = _assign(session, values)
        db.session.flush()
        old_capacity = session.capacity
        if not session.groups and new_capacity != old_capacity:
            _set_session_capacity(session, new_capacity)
            changed.append("capacity")
        promoted = promote_waiting(session_id, now) if changed else []
        if changed:
            record(
                "session.updated",
                event_id=session.event_id,
                session_id=session_id,
                fields=changed,
                capacity=[old_capacity, new_capacity] if "capacity" in changed else None,
                promoted=[b.id for b in promoted] or None,
            )
    return SessionChange(session, promoted)


def delete_session(session_id: int) -> None:
    """Delete a session nobody booked or ranked.

    :raises HasBookings: when it has bookings of any status or ranked choices.
    """
    with write_transaction():
        session = _get(Session, session_id)
        if _has_bookings(session_id):
            raise HasBookings()
        record("session.deleted", event_id=session.event_id, deleted_session_id=session_id, title=session.title_pl)
        db.session.delete(session)


# --- groups ---------------------------------------------------------------------------


def create_group(session_id: int, data: GroupData, now: datetime | None = None) -> SessionChange:
    """Add a group; the session's capacity becomes the sum of its groups' and new places go to the waiting list.

    :raises ManagementError: when the session already has confirmed places outside groups.
    """
    _check_capacity(data.capacity)
    now = now or utcnow()
    with write_transaction():
        # Session before group, as bookings lock them (registration.capacity).
        places.lock_session(session_id)
        session = _get(Session, session_id)
        if not session.groups and session.taken > 0:
            raise ManagementError(
                _l("This session already has confirmed places outside groups, so groups cannot be added now.")
            )
        group = Group(session_id=session_id, taken=0, **asdict(data))
        db.session.add(group)
        db.session.flush()
        _sync_session_capacity(session)
        promoted = promote_waiting(session_id, now)
        record(
            "group.created",
            event_id=session.event_id,
            session_id=session_id,
            group_id=group.id,
            name=group.name,
            capacity=group.capacity,
            promoted=[b.id for b in promoted] or None,
        )
    return SessionChange(session, promoted)


def update_group(group_id: int, data: GroupData, now: datetime | None = None) -> SessionChange:
    """Change a group; its capacity change moves the session's, and new places go to the waiting list.

    :raises CapacityBelowTaken: when the group's capacity would fall below its confirmed places.
    """
    _check_capacity(data.capacity)
    now = now or utcnow()
    with write_transaction():
        group = _get(Group, group_id)
        session_id = group.session_id
        places.lock_session(session_id)
        values = asdict(data)
        new_capacity = values.pop("capacity")
        changed = _assign(group, values)
        db.session.flush()
        old_capacity = group.capacity
        promoted: list[Booking] = []
        if new_capacity != old_capacity:
            changed_rows = _rows_changed(
                update(group_table)
                .where(group_table.c.id == group_id, group_table.c.taken <= new_capacity)
                .values(capacity=new_capacity)
            )
            if changed_rows != 1:
                raise CapacityBelowTaken(_current(group_table, group_id))
            db.session.expire(group, ["capacity", "taken"])
            session = _get(Session, session_id)
            _sync_session_capacity(session)
            promoted = promote_waiting(session_id, now)
            changed.append("capacity")
        session = _get(Session, session_id)
        if changed:
            record(
                "group.updated",
                event_id=session.event_id,
                session_id=session_id,
                group_id=group_id,
                fields=changed,
                capacity=[old_capacity, new_capacity] if "capacity" in changed else None,
                promoted=[b.id for b in promoted] or None,
            )
    return SessionChange(session, promoted)


def delete_group(group_id: int) -> None:
    """Delete a group nobody booked; the session's capacity shrinks by the group's.

    Deleting the last group leaves the session's capacity as it was, to be edited directly.

    :raises HasBookings: when a booking of any status names the group.
    """
    with write_transaction():
        group = _get(Group, group_id)
        session_id = group.session_id
        places.lock_session(session_id)
        if db.session.execute(select(exists().where(Booking.group_id == group_id))).scalar():
            raise HasBookings()
        session = _get(Session, session_id)
        record(
            "group.deleted",
            event_id=session.event_id,
            session_id=session_id,
            deleted_group_id=group_id,
            name=group.name,
        )
        session.groups.remove(group)
        db.session.flush()
        if session.groups:
            _sync_session_capacity(session)


# --- helpers --------------------------------------------------------------------------


def _copy_session(source: Session, days: int) -> Session:
    """Return an unsaved copy of a session, its groups and places empty, moved by ``days``."""
    starts_at = shift_days(source.starts_at, days)
    ends_at = shift_days(source.ends_at, days)
    assert starts_at is not None and ends_at is not None
    if ends_at <= starts_at:
        # Only a session spanning a night's clock change can collapse; keep its length.
        ends_at = starts_at + (source.ends_at - source.starts_at)
    copy = Session(
        kind=source.kind,
        title_pl=source.title_pl,
        title_en=source.title_en,
        description_pl=source.description_pl,
        description_en=source.description_en,
        starts_at=starts_at,
        ends_at=ends_at,
        room=source.room,
        capacity=source.capacity,
        taken=0,
        eligible_categories=list(source.eligible_categories or []),
        eligible_domains=list(source.eligible_domains or []),
        booking_mode=source.booking_mode,
    )
    copy.groups = [
        Group(name=g.name, facilitator=g.facilitator, room=g.room, capacity=g.capacity, taken=0) for g in source.groups
    ]
    return copy


def _set_session_capacity(session: Session, capacity: int | None) -> None:
    """Set a session's capacity unless fewer places than already confirmed (atomic).

    :raises CapacityBelowTaken:
    """
    statement = update(session_table).where(session_table.c.id == session.id)
    if capacity is not None:
        _check_capacity(capacity)
        statement = statement.where(session_table.c.taken <= capacity)
    changed_rows = _rows_changed(statement.values(capacity=capacity))
    if changed_rows != 1:
        raise CapacityBelowTaken(_current(session_table, session.id))
    db.session.expire(session, ["capacity", "taken"])


def _sync_session_capacity(session: Session) -> None:
    """Set the session's capacity to the sum of its groups' in one guarded UPDATE.

    :raises CapacityBelowTaken: when the sum is below the session's confirmed places.
    """
    total = (
        select(func.coalesce(func.sum(group_table.c.capacity), 0))
        .where(group_table.c.session_id == session.id)
        .scalar_subquery()
    )
    changed_rows = _rows_changed(
        update(session_table)
        .where(session_table.c.id == session.id, session_table.c.taken <= total)
        .values(capacity=total)
    )
    if changed_rows != 1:
        raise CapacityBelowTaken(_current(session_table, session.id))
    db.session.expire(session, ["capacity", "taken"])


def _rows_changed(statement: Any) -> int:
    """Run an UPDATE and return the number of rows it changed."""
    return cast(CursorResult[Any], db.session.execute(statement)).rowcount


def _current(table: Any, row_id: int) -> int:
    """Return the confirmed places of a session or group row, for a refusal's message."""
    return db.session.execute(select(table.c.taken).where(table.c.id == row_id)).scalar_one()


def _has_bookings(session_id: int, live_only: bool = False) -> bool:
    """Tell whether anyone booked (any status, unless ``live_only``) or ranked the session."""
    booked = Booking.session_id == session_id
    if live_only:
        booked = booked & Booking.status.in_(LIVE_BOOKING_STATUSES)
    return bool(
        db.session.execute(
            select(or_(exists().where(booked), exists().where(Preference.session_id == session_id)))
        ).scalar()
    )


def _get(model: type, row_id: int, field: str | None = None) -> Any:
    """Load a row afresh inside the transaction.

    :raises NotFound:
    """
    row = db.session.get(model, row_id, populate_existing=True)
    if row is None:
        raise NotFound(field=field)
    return row


def _assign(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the attributes that differ; return their names."""
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _check_slug(slug: str, pattern: re.Pattern[str]) -> None:
    """Refuse a slug that is not lower-case letters, digits and hyphens."""
    if not pattern.match(slug or ""):
        raise ManagementError(_l("Use lower-case letters, digits and hyphens only."), field="slug")


def _check_event_slug_free(slug: str, except_id: int | None = None) -> None:
    """Refuse a slug another event uses."""
    query = select(Event.id).where(Event.slug == slug)
    if except_id is not None:
        query = query.where(Event.id != except_id)
    if db.session.execute(query).first() is not None:
        raise SlugTaken()


def _check_series_slug_free(slug: str, except_id: int | None = None) -> None:
    """Refuse a slug another series uses."""
    query = select(Series.id).where(Series.slug == slug)
    if except_id is not None:
        query = query.where(Series.id != except_id)
    if db.session.execute(query).first() is not None:
        raise SlugTaken()


def _raise_slug_taken(error: IntegrityError) -> None:
    """Turn a lost race for a unique slug into SlugTaken."""
    if "slug" in str(error.orig).lower():
        raise SlugTaken() from error


def _check_event_data(data: EventData) -> None:
    """Refuse an event whose times or numbers cannot be saved."""
    _check_slug(data.slug, EVENT_SLUG)
    if data.ends_at < data.starts_at:
        raise ManagementError(_l("The end must not be before the start."), field="ends_at")
    if (
        data.registration_opens_at
        and data.registration_closes_at
        and (data.registration_closes_at <= data.registration_opens_at)
    ):
        raise ManagementError(_l("Registration must close after it opens."), field="registration_closes_at")
    if not 1 <= data.max_ranked_choices <= 10:
        raise ManagementError(_l("Enter a number from 1 to 10."), field="max_ranked_choices")
    if not 1 <= data.confirmation_hold_hours <= 720:
        raise ManagementError(_l("Enter a number from 1 to 720."), field="confirmation_hold_hours")
    if len(data.reminder_hours) > MAX_REMINDERS or any(
        not 1 <= hours <= MAX_REMINDER_HOURS for hours in data.reminder_hours
    ):
        raise ManagementError(_l("Enter at most 5 reminders, each from 1 hour to 60 days."), field="reminder_hours")


def _check_session_data(data: SessionData) -> None:
    """Refuse a session whose times, capacity or categories cannot be saved."""
    if data.ends_at <= data.starts_at:
        raise ManagementError(_l("The end must be after the start."), field="ends_at")
    if data.capacity is not None:
        _check_capacity(data.capacity)
    known = {c.value for c in ParticipantCategory}
    if any(category not in known for category in data.eligible_categories):
        raise ManagementError(_l("This choice is not available."), field="eligible_categories")
    if len(data.eligible_domains) > MAX_DOMAINS or any(
        not DOMAIN_PATTERN.match(domain) for domain in data.eligible_domains
    ):
        raise ManagementError(_l("Enter email domains such as um.lodz.pl or *.gov.pl."), field="eligible_domains")


def _check_capacity(capacity: int) -> None:
    """Refuse a negative capacity."""
    if capacity < 0:
        raise ManagementError(_l("Enter 0 or more."), field="capacity")
