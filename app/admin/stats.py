"""Figures for the organisers' dashboards, each in a few grouped queries."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..checkin.models import CheckIn
from ..events.models import BookingMode, Event, Series, Session, SessionKind
from ..extensions import db
from ..i18n import TIMEZONE
from ..ranking.history import missed_out
from ..registration.models import Booking, BookingStatus, Registration, RegistrationStatus


@dataclass
class FillRow:
    """Fill of one session or group."""

    label: str
    capacity: int | None
    confirmed: int
    waitlisted: int = 0
    requested: int = 0
    is_group: bool = False

    @property
    def percent(self) -> int:
        """Confirmed places as a percentage of capacity (0 when unlimited)."""
        if not self.capacity:
            return 0
        return min(100, round(100 * self.confirmed / self.capacity))


def session_fill(event: Event) -> list[tuple[Session, FillRow, list[FillRow]]]:
    """Return per session (and group) confirmed / capacity, waiting and requested counts."""

    rows = db.session.execute(
        select(Booking.session_id, Booking.status, func.count())
        .join(Session, Session.id == Booking.session_id)
        .where(Session.event_id == event.id, Booking.status.in_([BookingStatus.WAITLISTED, BookingStatus.REQUESTED]))
        .group_by(Booking.session_id, Booking.status)
    ).all()
    counts: dict[tuple[int, str], int] = {(sid, status.value): n for sid, status, n in rows}
    sessions = db.session.execute(
        select(Session)
        .where(Session.event_id == event.id)
        .options(selectinload(Session.groups))
        .order_by(Session.starts_at, Session.id)
    ).scalars()
    result = []
    for session in sessions:
        main = FillRow(
            label=session.title,
            capacity=session.capacity,
            confirmed=session.taken,
            waitlisted=counts.get((session.id, "waitlisted"), 0),
            requested=counts.get((session.id, "requested"), 0),
        )
        groups = [FillRow(label=g.label, capacity=g.capacity, confirmed=g.taken, is_group=True) for g in session.groups]
        result.append((session, main, groups))
    return result


@dataclass
class Attendance:
    """Who is present: at the event, and per session and group (live check-ins only)."""

    present: int
    registered: int
    sessions: dict[int, int]
    groups: dict[int, int]
    # Sessions where nobody was scanned at the door: their counts are the booked people who arrived.
    by_arrival: set[int]


def attendance(event: Event) -> Attendance:
    """Count present people of the event, its sessions and groups.

    A session counts the people checked in at its door; when nobody was (only
    arrivals were scanned), the people with a confirmed place there who
    checked in for the event. Groups follow their session's rule.
    """

    live = (CheckIn.event_id == event.id, CheckIn.undone_at.is_(None))
    arrived = select(CheckIn.registration_id).where(*live, CheckIn.session_id.is_(None))
    present = db.session.execute(
        select(func.count(func.distinct(CheckIn.registration_id))).where(*live, CheckIn.session_id.is_(None))
    ).scalar_one()
    registered = db.session.execute(
        select(func.count()).where(Registration.event_id == event.id, Registration.status == RegistrationStatus.ACTIVE)
    ).scalar_one()
    door = db.session.execute(
        select(CheckIn.session_id, Booking.group_id, func.count(func.distinct(CheckIn.registration_id)))
        .outerjoin(
            Booking,
            (Booking.registration_id == CheckIn.registration_id)
            & (Booking.session_id == CheckIn.session_id)
            & (Booking.status == BookingStatus.CONFIRMED),
        )
        .where(*live, CheckIn.session_id.is_not(None))
        .group_by(CheckIn.session_id, Booking.group_id)
    ).all()
    by_arrival = db.session.execute(
        select(Booking.session_id, Booking.group_id, func.count(func.distinct(Booking.registration_id)))
        .join(Session, Session.id == Booking.session_id)
        .where(
            Session.event_id == event.id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.registration_id.in_(arrived),
        )
        .group_by(Booking.session_id, Booking.group_id)
    ).all()
    sessions: dict[int, int] = {}
    groups: dict[int, int] = {}
    for session_id, group_id, n in door:
        sessions[session_id] = sessions.get(session_id, 0) + n
        if group_id is not None:
            groups[group_id] = n
    door_sessions = set(sessions)
    fallback: set[int] = set()
    for session_id, group_id, n in by_arrival:
        if session_id in door_sessions:
            continue
        fallback.add(session_id)
        sessions[session_id] = sessions.get(session_id, 0) + n
        if group_id is not None:
            groups[group_id] = n
    return Attendance(present, registered, sessions, groups, fallback)


MIN_CHART_DAYS = 14
MAX_BAR_WIDTH = 32


def registrations_per_day(event: Event) -> list[tuple[date, int]]:
    """Return the number of registrations made each day (Warsaw time), with empty days filled in."""

    created = db.session.execute(select(Registration.created_at).where(Registration.event_id == event.id)).scalars()
    per_day = Counter(moment.astimezone(TIMEZONE).date() for moment in created)
    if not per_day:
        return []
    # At least two weeks up to the last day, so that one busy day is a bar among days, not the chart.
    last = max(per_day)
    first = min(min(per_day), date.fromordinal(last.toordinal() - (MIN_CHART_DAYS - 1)))
    days = []
    current = first
    while current <= last:
        days.append((current, per_day.get(current, 0)))
        current = date.fromordinal(current.toordinal() + 1)
    return days


def counts_by(event: Event, column: str, limit: int = 15) -> list[tuple[str, int]]:
    """Return live registrations counted by a column ("category" or "city"), largest first."""

    field = getattr(Registration, column)
    rows = db.session.execute(
        select(field, func.count())
        .where(Registration.event_id == event.id, Registration.status == RegistrationStatus.ACTIVE)
        .group_by(field)
        .order_by(func.count().desc(), field)
        .limit(limit)
    ).all()
    return [(value.value if hasattr(value, "value") else value, n) for value, n in rows]


@dataclass
class SeriesRow:
    """One meeting of a series with its figures."""

    event: Event
    participants: int
    workshop_places: int


def series_overview(series: Series) -> list[SeriesRow]:
    """Return the meetings of a series with participants and confirmed workshop places."""

    participants = dict(
        db.session.execute(
            select(Registration.event_id, func.count())
            .join(Event, Event.id == Registration.event_id)
            .where(Event.series_id == series.id, Registration.status == RegistrationStatus.ACTIVE)
            .group_by(Registration.event_id)
        ).all()
    )
    places = dict(
        db.session.execute(
            select(Session.event_id, func.count())
            .join(Booking, Booking.session_id == Session.id)
            .join(Event, Event.id == Session.event_id)
            .where(
                Event.series_id == series.id,
                Session.kind == SessionKind.WORKSHOP,
                Booking.status == BookingStatus.CONFIRMED,
            )
            .group_by(Session.event_id)
        ).all()
    )
    events = db.session.execute(select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)).scalars()
    return [SeriesRow(e, participants.get(e.id, 0), places.get(e.id, 0)) for e in events]


@dataclass
class SeriesReturns:
    """People across the meetings of a series, recognised by normalised email."""

    returning: int  # registered (live) at two or more of the meetings
    missed_out: int  # left without a ranked workshop place at one of them (published allocation)
    placed_later: int  # of those, with a confirmed ranked workshop place at a later meeting


def series_returns(events: list[Event]) -> SeriesReturns:
    """Count returning participants, and how many who missed out at a meeting got a place at a later one."""

    ids = [e.id for e in events]
    if not ids:
        return SeriesReturns(0, 0, 0)
    returning = db.session.execute(
        select(func.count()).select_from(
            select(Registration.email_normalized)
            .where(Registration.event_id.in_(ids), Registration.status == RegistrationStatus.ACTIVE)
            .group_by(Registration.email_normalized)
            .having(func.count(func.distinct(Registration.event_id)) >= 2)
            .subquery()
        )
    ).scalar_one()
    first_miss = {email: min(e.starts_at for e in missed) for email, missed in missed_out(events).items()}
    placed = (
        db.session.execute(
            select(Registration.email_normalized, Event.starts_at)
            .join(Booking, Booking.registration_id == Registration.id)
            .join(Session, Session.id == Booking.session_id)
            .join(Event, Event.id == Registration.event_id)
            .where(
                Registration.event_id.in_(ids),
                Registration.status == RegistrationStatus.ACTIVE,
                Booking.status == BookingStatus.CONFIRMED,
                Session.booking_mode == BookingMode.RANKED,
            )
            .distinct()
        ).all()
        if first_miss
        else []
    )
    later = {email for email, starts_at in placed if email in first_miss and starts_at > first_miss[email]}
    return SeriesReturns(returning, len(first_miss), len(later))


def bar_chart_svg(points: list[tuple[str, int]], width: int = 640, height: int = 180, title: str = "") -> str:
    """Return a small bar chart as SVG markup (labels escaped; no script)."""

    if not points:
        return ""
    top = max(n for _label, n in points) or 1
    gap = 2
    bar = min(MAX_BAR_WIDTH, max(2, (width - 40) // len(points) - gap))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height + 30}" '
        f'class="w-100" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for index, (label, n) in enumerate(points):
        h = round((height - 20) * n / top)
        x = 30 + index * (bar + gap)
        y = height - h
        parts.append(
            f'<rect x="{x}" y="{y}" width="{bar}" height="{h}" fill="#0d6efd"><title>{escape(label)}: {n}</title></rect>'
        )
        if len(points) <= 31 or index % max(1, len(points) // 15) == 0:
            parts.append(f'<text x="{x}" y="{height + 14}" font-size="9" fill="#555">{escape(label[-5:])}</text>')
    for value in sorted({0, (top + 1) // 2, top}):  # the y axis: 0, the middle and the top
        y = height - round((height - 20) * value / top)
        parts.append(f'<text x="0" y="{y + 3}" font-size="10" fill="#555">{value}</text>')
        parts.append(f'<line x1="28" y1="{y}" x2="{width}" y2="{y}" stroke="#ddd"/>')
    parts.append(f'<line x1="28" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>')
    return "".join(parts)
