"""Where people stand on the waiting lists."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from ..extensions import db
from .models import Booking, BookingStatus


def waitlist_positions(bookings: Iterable[Booking]) -> dict[int, int]:
    """Return the waiting-list position (1-based) of each waitlisted booking by id."""
    waiting = [b for b in bookings if b.status == BookingStatus.WAITLISTED]
    if not waiting:
        return {}
    positions = {}
    for booking in waiting:
        ahead = db.session.execute(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.session_id == booking.session_id,
                Booking.status == BookingStatus.WAITLISTED,
                Booking.id < booking.id,
            )
        ).scalar_one()
        positions[booking.id] = ahead + 1
    return positions
