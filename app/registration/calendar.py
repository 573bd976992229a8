"""Calendar files (RFC 5545): an event and a registration's booked sessions, and the public programme feeds."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NamedTuple

from flask_babel import force_locale, gettext
from icalendar import Calendar, Timezone
from icalendar import Event as CalendarEvent
from icalendar.parser import Contentline, Parameters
from icalendar.prop import vDatetime, vInt, vText
from sqlalchemy import select

from ..events.models import Event, Session, Speaker, session_speaker
from ..extensions import db
from ..i18n import TIMEZONE, localized
from ..markup import markdown_to_text
from .models import Booking, BookingStatus, Registration, RegistrationStatus


def event_uid(event: Event, domain: str) -> str:
    """Return the stable UID of an event's calendar entry."""
    return f"event-{event.id}@{domain}"


def booking_uid(booking: Booking, domain: str) -> str:
    """Return the stable UID of a booked session's calendar entry (same across updates)."""
    return f"registration-{booking.registration_id}-session-{booking.session_id}@{domain}"


def calendar_bookings(registration: Registration) -> list[Booking]:
    """Return the bookings a registration's calendar shows.

    Live bookings, then one cancelled booking for each session no longer booked,
    so that a calendar which imported an earlier version removes it.
    """
    bookings = [b for b in registration.bookings if b.status != BookingStatus.CANCELLED]
    live_sessions = {b.session_id for b in bookings}
    cancelled: dict[int, Booking] = {}
    for booking in registration.bookings:
        if booking.status == BookingStatus.CANCELLED and booking.session_id not in live_sessions:
            cancelled[booking.session_id] = booking
    return bookings + list(cancelled.values())


def registration_ics(registration: Registration, language: str, domain: str, now: datetime) -> bytes:
    """Return the iCalendar file of a registration (the event cancelled with it)."""
    return registration_calendar(
        registration.event,
        calendar_bookings(registration),
        language,
        domain,
        now,
        is_cancelled=registration.status == RegistrationStatus.CANCELLED,
    )


def registration_calendar(
    event: Event, bookings: list[Booking], language: str, domain: str, now: datetime, is_cancelled: bool = False
) -> bytes:
    """Return an iCalendar file with the event and the registration's sessions.

    Cancelled bookings are included with STATUS:CANCELLED so that calendars
    which imported an earlier version remove them; ``is_cancelled`` marks the
    event itself cancelled (for a cancelled registration).

    Every property is written by icalendar (escaping, folding, time zones).
    What a session or the event says is the same in every participant's file,
    so those lines are written once per process and reused; only the UID,
    DTSTAMP, SEQUENCE and STATUS lines are the participant's own. Every time
    is in Europe/Warsaw: its VTIMEZONE goes first among the components.
    """
    stamp = _line("DTSTAMP", now)
    location = ", ".join(part for part in (event.venue, event.city) if part)
    parts = [
        _CALENDAR_HEAD,
        warsaw_vtimezone(event.starts_at.year),
        _VEVENT_BEGIN,
        _entry_lines(event.starts_at, event.ends_at, localized(event, "title", language), location),
        _line("UID", event_uid(event, domain)),
        stamp,
    ]
    if is_cancelled:
        parts += [_line("SEQUENCE", int(now.timestamp())), _status_line("CANCELLED")]
    parts.append(_VEVENT_END)
    speakers = _speakers_by_session([booking.session_id for booking in bookings])
    for booking in bookings:
        session = booking.session
        location = ", ".join(
            part for part in (booking.group.room if booking.group else "", session.room, event.venue) if part
        )
        parts += [
            _VEVENT_BEGIN,
            _entry_lines(
                session.starts_at,
                session.ends_at,
                localized(session, "title", language),
                location,
                session_description(session, language, speakers.get(session.id, ())),
            ),
            _line("UID", booking_uid(booking, domain)),
            stamp,
            _line("SEQUENCE", int(booking.updated_at.timestamp())),
            _status_line(_CALENDAR_STATUS.get(booking.status, "TENTATIVE")),
            _VEVENT_END,
        ]
    parts.append(_CALENDAR_END)
    return b"".join(parts)


def _speakers_by_session(session_ids: list[int]) -> dict[int, list[SpeakerLine]]:
    """Return the speakers of these sessions, in their order, read in one query (not one per session)."""
    found: dict[int, list[SpeakerLine]] = {}
    if session_ids:
        sp = Speaker.__table__.c
        for row in db.session.execute(
            select(session_speaker.c.session_id, sp.name, sp.role_pl, sp.role_en, sp.organisation)
            .join(Speaker.__table__, sp.id == session_speaker.c.speaker_id)
            .where(session_speaker.c.session_id.in_(set(session_ids)))
            .order_by(sp.position, sp.id)
        ):
            found.setdefault(row.session_id, []).append(
                SpeakerLine(row.name, row.role_pl, row.role_en, row.organisation)
            )
    return found


class SpeakerLine(NamedTuple):
    """What a calendar says of a speaker."""

    name: str
    role_pl: str
    role_en: str
    organisation: str


def session_description(session: Session, language: str, speakers: Iterable[SpeakerLine]) -> str:
    """Return a session's calendar description: its text without Markdown, then its speakers, one a line."""
    text = markdown_to_text(localized(session, "description", language))
    speakers = [
        " — ".join(
            part
            for part in (
                speaker.name,
                ", ".join(p for p in (localized(speaker, "role", language), speaker.organisation) if p),
            )
            if part
        )
        for speaker in speakers
    ]
    if speakers:
        with force_locale(language):
            heading = gettext("Speakers")
        block = f"{heading}:\n" + "\n".join(f"- {line}" for line in speakers)
        text = f"{text}\n\n{block}" if text else block
    return text


_CALENDAR_STATUS = {BookingStatus.CANCELLED: "CANCELLED", BookingStatus.CONFIRMED: "CONFIRMED"}
_VEVENT_BEGIN = b"BEGIN:VEVENT\r\n"
_VEVENT_END = b"END:VEVENT\r\n"
_CALENDAR_END = b"END:VCALENDAR\r\n"


def _calendar_head() -> bytes:
    """Return the VCALENDAR's opening and its own properties, as icalendar writes them."""
    calendar = Calendar()
    calendar.add("prodid", "-//Zapisy//zapisy//PL")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    return calendar.to_ical().removesuffix(_CALENDAR_END)


_CALENDAR_HEAD = _calendar_head()


def _line(name: str, value: str | int | datetime) -> bytes:
    """Return one text, integer or UTC date-time property, escaped and folded by icalendar."""
    if isinstance(value, datetime):
        # A naive time is UTC here (as icalendar's own DTSTAMP takes it), not the server's local time.
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        written: vText | vInt | vDatetime = vDatetime(utc)
    else:
        written = vInt(value) if isinstance(value, int) else vText(value)
    return Contentline.from_parts(name, Parameters(), written).to_ical() + b"\r\n"


@lru_cache(maxsize=4)
def _status_line(status: str) -> bytes:
    """Return a STATUS line."""
    return _line("STATUS", status)


@lru_cache(maxsize=4096)
def _entry_lines(starts_at: datetime, ends_at: datetime, summary: str, location: str, description: str = "") -> bytes:
    """Return the lines every participant's copy of an entry shares (times, title, place, description), as icalendar writes them."""
    entry = CalendarEvent()
    entry.add("dtstart", starts_at.astimezone(TIMEZONE))
    entry.add("dtend", ends_at.astimezone(TIMEZONE))
    entry.add("summary", summary)
    if location:
        entry.add("location", location)
    if description:
        entry.add("description", description)
    return entry.to_ical().removeprefix(_VEVENT_BEGIN).removesuffix(_VEVENT_END)


@lru_cache(maxsize=8)
def warsaw_vtimezone(year: int) -> bytes:
    """Return Europe/Warsaw's VTIMEZONE for the event's year and the next, as iCalendar text.

    Only the transitions a calendar needs: the default range (1970-2038) makes
    the component, and every email that carries it, several times larger.
    """
    return warsaw_vtimezone_years(year, year)


@lru_cache(maxsize=8)
def warsaw_vtimezone_years(first_year: int, last_year: int) -> bytes:
    """Return Europe/Warsaw's VTIMEZONE from the year before ``first_year`` to the year after ``last_year``."""
    timezone = Timezone.from_tzid(
        "Europe/Warsaw", first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 2, 1, 1)
    )
    return timezone.to_ical()


# --- the public programme as a calendar feed (an event's or a whole series') -------------------


def session_uid(session: Session, domain: str) -> str:
    """Return the stable UID of a session in the public programme feed (same across requests and edits)."""
    return f"session-{session.id}@{domain}"


def programme_event_uid(event: Event, domain: str) -> str:
    """Return the UID of an event without sessions yet in the programme feed."""
    return f"programme-event-{event.id}@{domain}"


# Calendar apps subscribed to a feed fetch it again about this often.
FEED_REFRESH = "PT1H"


def programme_ics(
    events: list[Event], name: str, language: str, domain: str, changed_at: datetime, event_url: Callable[[Event], str]
) -> bytes:
    """Return the public programme of ``events`` as an iCalendar feed named ``name``.

    One VEVENT per session, with the UID :func:`session_uid` (an event whose programme
    is still empty gets one VEVENT of its own). Only what the public event page shows:
    titles, times in Europe/Warsaw, rooms and descriptions, no counts and no people.
    DTSTAMP is ``changed_at`` (when the public data last changed), so that the feed's
    bytes, and its ETag, change only with the programme.
    """
    stamp = _line("DTSTAMP", changed_at)
    years = [e.starts_at.astimezone(TIMEZONE).year for e in events] or [changed_at.year]
    parts = [
        _CALENDAR_HEAD,
        _line("X-WR-CALNAME", name),
        _line("X-WR-TIMEZONE", "Europe/Warsaw"),
        _FEED_REFRESH_LINES,
        warsaw_vtimezone_years(min(years), max(years)),
    ]
    for event in events:
        url = _line("URL", event_url(event))
        if not event.sessions:
            location = ", ".join(part for part in (event.venue, event.city) if part)
            parts += [
                _VEVENT_BEGIN,
                _entry_lines(event.starts_at, event.ends_at, localized(event, "title", language), location),
                _line("UID", programme_event_uid(event, domain)),
                stamp,
                url,
                _VEVENT_END,
            ]
        for session in event.sessions:
            location = ", ".join(part for part in (session.room, event.venue, event.city) if part)
            description = localized(session, "description", language)
            parts += [
                _VEVENT_BEGIN,
                _entry_lines(session.starts_at, session.ends_at, localized(session, "title", language), location),
                _line("UID", session_uid(session, domain)),
                stamp,
                url,
                _line("DESCRIPTION", description) if description else b"",
                _VEVENT_END,
            ]
    parts.append(_CALENDAR_END)
    return b"".join(parts)


def _feed_refresh_lines() -> bytes:
    """Return the properties that tell subscribed calendars how often to fetch the feed again."""
    refresh = Contentline.from_parts("REFRESH-INTERVAL", Parameters({"VALUE": "DURATION"}), vText(FEED_REFRESH))
    return refresh.to_ical() + b"\r\n" + _line("X-PUBLISHED-TTL", FEED_REFRESH)


_FEED_REFRESH_LINES = _feed_refresh_lines()
