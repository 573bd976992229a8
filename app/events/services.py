"""Read-side use cases of the programme: public events, programme and availability."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..db import utcnow
from ..extensions import db
from .models import BookingMode, Event, EventStatus, Series, Session

WARSAW = ZoneInfo("Europe/Warsaw")
PUBLIC_STATUSES = (EventStatus.PUBLISHED, EventStatus.CLOSED)


class EventNotFound(Exception):
    """No public event has this slug."""


@dataclass
class RankedBlock:
    """The ranked workshops of one time slot, among which participants rank choices."""

    key: str
    starts_at: datetime
    ends_at: datetime
    sessions: list[Session] = field(default_factory=list)


@dataclass
class Availability:
    """Counts of one session or group, as the public sees them."""

    capacity: int | None
    confirmed: int
    waitlisted: int

    @property
    def places_left(self) -> int | None:
        """Free places, or None when unlimited."""
        return None if self.capacity is None else max(self.capacity - self.confirmed, 0)


def get_public_event(slug: str) -> Event:
    """Return the published or closed event with ``slug``, with its programme loaded.

    :raises EventNotFound: for unknown slugs and drafts.
    """
    event = db.session.execute(
        select(Event)
        .where(Event.slug == slug, Event.status.in_(PUBLIC_STATUSES))
        .options(
            selectinload(Event.sessions).selectinload(Session.groups),
            selectinload(Event.partners),
            selectinload(Event.series),
        )
    ).scalar_one_or_none()
    if event is None:
        raise EventNotFound(slug)
    return event


def list_public_events(now: datetime | None = None) -> tuple[list[Event], dict[Series, list[Event]]]:
    """Return upcoming events (soonest first) and past events grouped by series."""
    now = now or utcnow()
    events = (
        db.session.execute(
            select(Event)
            .where(Event.status.in_(PUBLIC_STATUSES))
            .options(selectinload(Event.series))
            .order_by(Event.starts_at)
        )
        .scalars()
        .all()
    )
    upcoming = [e for e in events if e.ends_at >= now]
    past: dict[Series, list[Event]] = defaultdict(list)
    for event in sorted((e for e in events if e.ends_at < now), key=lambda e: e.starts_at, reverse=True):
        past[event.series].append(event)
    return upcoming, dict(past)


def waitlist_counts(event_id: int) -> dict[int, int]:
    """Return the number of waiting people per session id of the event, in one query."""
    from ..registration.models import Booking, BookingStatus

    rows = db.session.execute(
        select(Booking.session_id, func.count())
        .join(Session, Session.id == Booking.session_id)
        .where(Session.event_id == event_id, Booking.status == BookingStatus.WAITLISTED)
        .group_by(Booking.session_id)
    ).all()
    return {session_id: count for session_id, count in rows}


def programme_by_day(event: Event) -> list[tuple[date, list[Session]]]:
    """Group the event's sessions by their day in Warsaw time."""
    days: dict[date, list[Session]] = defaultdict(list)
    for session in event.sessions:
        days[session.starts_at.astimezone(WARSAW).date()].append(session)
    return sorted(days.items())


def ranked_blocks(sessions: list[Session]) -> list[RankedBlock]:
    """Group ranked sessions by time slot; each slot is one block of choices."""
    blocks: dict[tuple[datetime, datetime], RankedBlock] = {}
    for session in sorted(sessions, key=lambda s: (s.starts_at, s.id)):
        if session.booking_mode != BookingMode.RANKED:
            continue
        slot = (session.starts_at, session.ends_at)
        if slot not in blocks:
            key = session.starts_at.astimezone(WARSAW).strftime("%Y%m%d%H%M")
            blocks[slot] = RankedBlock(key=key, starts_at=slot[0], ends_at=slot[1])
        blocks[slot].sessions.append(session)
    return list(blocks.values())


def instant_sessions(sessions: list[Session]) -> list[Session]:
    """Return the sessions booked first come, first served."""
    return [s for s in sessions if s.booking_mode == BookingMode.INSTANT]


def event_availability(event: Event) -> dict:
    """Return public availability of the event's sessions and groups (no personal data)."""
    waiting = waitlist_counts(event.id)
    sessions = []
    for session in event.sessions:
        sessions.append(
            {
                "id": session.id,
                "kind": session.kind.value,
                "title": {"pl": session.title_pl, "en": session.title_en or session.title_pl},
                "starts_at": session.starts_at.isoformat(),
                "ends_at": session.ends_at.isoformat(),
                "room": session.room,
                "booking_mode": session.booking_mode.value,
                "eligible_categories": list(session.eligible_categories or []),
                "capacity": session.capacity,
                "confirmed": session.taken,
                "waitlisted": waiting.get(session.id, 0),
                "places_left": session.places_left,
                "groups": [
                    {
                        "id": group.id,
                        "name": group.name,
                        "room": group.room,
                        "capacity": group.capacity,
                        "confirmed": group.taken,
                        "places_left": group.places_left,
                    }
                    for group in session.groups
                ],
            }
        )
    return {**event_summary(event), "sessions": sessions}


def event_summary(event: Event) -> dict:
    """Return the public fields of an event as JSON-ready data."""
    return {
        "slug": event.slug,
        "series": event.series.slug,
        "title": {"pl": event.title_pl, "en": event.title_en or event.title_pl},
        "edition": event.edition_label,
        "city": event.city,
        "venue": event.venue,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat(),
        "registration_opens_at": _iso(event.registration_opens_at),
        "registration_closes_at": _iso(event.registration_closes_at),
        "status": event.status.value,
        "registration_open": event.is_registration_open(utcnow()),
        "partners": [{"name": p.name, "url": p.url} for p in event.partners],
    }


def _iso(value: datetime | None) -> str | None:
    """Format an optional datetime as ISO 8601."""
    return value.isoformat() if value else None
