"""Data for printed lists: sign-in sheets and name badges."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from sqlalchemy import select

from ..events.models import Event, Group, Session
from ..extensions import db
from ..registration.models import Booking, BookingStatus, Registration, RegistrationStatus
from .collation import sorted_by_name


@dataclass
class Badge:
    """One name badge."""

    registration: Registration
    qr_svg: str


def sign_in_list(session: Session, group: Group | None = None) -> list[Registration]:
    """Return the confirmed participants of a session (or group), in Polish name order."""
    query = (
        select(Registration)
        .join(Booking, Booking.registration_id == Registration.id)
        .where(Booking.session_id == session.id, Booking.status == BookingStatus.CONFIRMED)
    )
    if group is not None:
        query = query.where(Booking.group_id == group.id)
    people = db.session.execute(query).scalars().all()
    return sorted_by_name(people, lambda r: (r.last_name, r.first_name))


def badges(event: Event) -> list[Badge]:
    """Return a badge for every live registration of the event, in Polish name order."""
    people = (
        db.session.execute(
            select(Registration).where(
                Registration.event_id == event.id, Registration.status == RegistrationStatus.ACTIVE
            )
        )
        .scalars()
        .all()
    )
    ordered = sorted_by_name(people, lambda r: (r.last_name, r.first_name))
    return [Badge(r, qr_svg(r.checkin_code)) for r in ordered]


def qr_svg(data: str) -> str:
    """Return an inline SVG QR code of ``data`` (no external resource)."""
    return segno.make(data, error="m", micro=False).svg_inline(scale=3, border=2, omitsize=False)
