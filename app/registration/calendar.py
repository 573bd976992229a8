"""Calendar files (RFC 5545) of an event and a registration's booked sessions."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from ..events.models import Event
from ..i18n import localized
from .models import Booking, BookingStatus

WARSAW = ZoneInfo("Europe/Warsaw")


def event_uid(event: Event, domain: str) -> str:
    """Return the stable UID of an event's calendar entry."""
    return f"event-{event.id}@{domain}"


def booking_uid(booking: Booking, domain: str) -> str:
    """Return the stable UID of a booked session's calendar entry (same across updates)."""
    return f"registration-{booking.registration_id}-session-{booking.session_id}@{domain}"


def registration_calendar(
    event: Event, bookings: list[Booking], language: str, domain: str, now: datetime
) -> bytes:
    """Return an iCalendar file with the event and the registration's sessions.

    Cancelled bookings are included with STATUS:CANCELLED so that calendars
    which imported an earlier version remove them.
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
    calendar.add_missing_timezones()
    return calendar.to_ical()
