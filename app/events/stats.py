"""Figures for the organisers' dashboards, each in a few grouped queries."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from .models import Event, Series, Session

WARSAW = ZoneInfo("Europe/Warsaw")


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
    from ..registration.models import Booking, BookingStatus

    rows = db.session.execute(
        select(Booking.session_id, Booking.status, func.count())
        .join(Session, Session.id == Booking.session_id)
        .where(Session.event_id == event.id, Booking.status.in_([BookingStatus.WAITLISTED, BookingStatus.REQUESTED]))
        .group_by(Booking.session_id, Booking.status)
    ).all()
    counts: dict[tuple[int, str], int] = {(sid, status.value): n for sid, status, n in rows}
    sessions = db.session.execute(
        select(Session).where(Session.event_id == event.id).options(selectinload(Session.groups))
        .order_by(Session.starts_at, Session.id)
    ).scalars()
    result = []
    for session in sessions:
        main = FillRow(
            label=session.title, capacity=session.capacity, confirmed=session.taken,
            waitlisted=counts.get((session.id, "waitlisted"), 0), requested=counts.get((session.id, "requested"), 0),
        )
        groups = [FillRow(label=g.name, capacity=g.capacity, confirmed=g.taken, is_group=True) for g in session.groups]
        result.append((session, main, groups))
    return result


def registrations_per_day(event: Event) -> list[tuple[date, int]]:
    """Return the number of registrations made each day (Warsaw time), with empty days filled in."""
    from ..registration.models import Registration

    created = db.session.execute(
        select(Registration.created_at).where(Registration.event_id == event.id)
    ).scalars()
    per_day = Counter(moment.astimezone(WARSAW).date() for moment in created)
    if not per_day:
        return []
    first, last = min(per_day), max(per_day)
    days = []
    current = first
    while current <= last:
        days.append((current, per_day.get(current, 0)))
        current = date.fromordinal(current.toordinal() + 1)
    return days


def counts_by(event: Event, column: str, limit: int = 15) -> list[tuple[str, int]]:
    """Return live registrations counted by a column ("category" or "city"), largest first."""
    from ..registration.models import Registration, RegistrationStatus

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
    from ..registration.models import Booking, BookingStatus, Registration, RegistrationStatus
    from .models import SessionKind

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
            .where(Event.series_id == series.id, Session.kind == SessionKind.WORKSHOP,
                   Booking.status == BookingStatus.CONFIRMED)
            .group_by(Session.event_id)
        ).all()
    )
    events = db.session.execute(
        select(Event).where(Event.series_id == series.id).order_by(Event.starts_at)
    ).scalars()
    return [SeriesRow(e, participants.get(e.id, 0), places.get(e.id, 0)) for e in events]


def bar_chart_svg(points: list[tuple[str, int]], width: int = 640, height: int = 180, title: str = "") -> str:
    """Return a small bar chart as SVG markup (labels escaped; no script)."""
    from markupsafe import escape

    if not points:
        return ""
    top = max(n for _label, n in points) or 1
    gap = 2
    bar = max(2, (width - 40) // len(points) - gap)
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
    parts.append(f'<text x="0" y="12" font-size="10" fill="#555">{top}</text>')
    parts.append(f'<line x1="28" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>')
    return "".join(parts)
