"""Calendar files (RFC 5545) of an event and a registration's booked sessions."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone
from icalendar import Event as CalendarEvent

from ..events.models import Event
from ..i18n import localized
from .models import Booking, BookingStatus, Registration, RegistrationStatus

WARSAW = ZoneInfo("Europe/Warsaw")


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
    """
    calendar = Calendar()
    calendar.add("prodid", "-//Zapisy//zapisy//PL")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")

    entry = CalendarEvent()
    entry.add("uid", event_uid(event, domain))
    entry.add("dtstamp", now)
    entry.add("dtstart", event.starts_at.astimezone(WARSAW))
    entry.add("dtend", event.ends_at.astimezone(WARSAW))
    entry.add("summary", localized(event, "title", language))
    entry.add("location", ", ".join(part for part in (event.venue, event.city) if part))
    if is_cancelled:
        entry.add("sequence", int(now.timestamp()))
        entry.add("status", "CANCELLED")
    calendar.add_component(entry)

    for booking in bookings:
        session = booking.session
        item = CalendarEvent()
        item.add("uid", booking_uid(booking, domain))
        item.add("dtstamp", now)
        item.add("sequence", int(booking.updated_at.timestamp()))
        item.add("dtstart", session.starts_at.astimezone(WARSAW))
        item.add("dtend", session.ends_at.astimezone(WARSAW))
        item.add("summary", localized(session, "title", language))
        location = ", ".join(
            part for part in (booking.group.room if booking.group else "", session.room, event.venue) if part
        )
        if location:
            item.add("location", location)
        if booking.status == BookingStatus.CANCELLED:
            item.add("status", "CANCELLED")
        elif booking.status == BookingStatus.CONFIRMED:
            item.add("status", "CONFIRMED")
        else:
            item.add("status", "TENTATIVE")
        calendar.add_component(item)
    # Every time is in Europe/Warsaw: its VTIMEZONE is built and written once per
    # process (building it walks decades of transitions and cost more than the
    # rest) and goes first among the components, before the first VEVENT.
    head, first_event, rest = calendar.to_ical().partition(b"BEGIN:VEVENT\r\n")
    return head + warsaw_vtimezone(event.starts_at.year) + first_event + rest


@lru_cache(maxsize=8)
def warsaw_vtimezone(year: int) -> bytes:
    """Return Europe/Warsaw's VTIMEZONE for the event's year and the next, as iCalendar text.

    Only the transitions a calendar needs: the default range (1970-2038) makes
    the component, and every email that carries it, several times larger.
    """
    timezone = Timezone.from_tzid("Europe/Warsaw", first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1))
    return timezone.to_ical()
