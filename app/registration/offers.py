"""Freed places of ranked workshops after publication: offered by rank, accepted, declined or expired.

After an allocation is published, a place that becomes free in a ranked
workshop goes to the waiting person who ranked it highest (ties broken by the
run's lottery), not to the earliest registration. The place is held for them
(counted in ``taken``) until ``offer_expires_at``; accepting confirms it,
declining or letting it expire passes it on to the next person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..events.models import BookingMode
from ..extensions import db
from . import bookings, capacity, emails
from .errors import OfferUnavailable
from .models import Booking, BookingStatus, Registration

WAITING_STATUSES = (BookingStatus.WAITLISTED, BookingStatus.OFFERED)


def accept_offer(registration: Registration, booking_id: int, now: datetime | None = None) -> Booking:
    """Confirm a place offered to the registration; leave its other ranked waiting lists of that time.

    :raises OfferUnavailable: when the booking is not offered to it, or the offer expired.
    """
    now = now or utcnow()
    with write_transaction():
        registration = bookings.lock_registration(registration.id)
        booking = _offered(registration, booking_id, now)
        others = [
            other
            for other in registration.live_bookings
            if other.id != booking.id
            and other.status in WAITING_STATUSES
            and other.session.booking_mode == BookingMode.RANKED
            and other.session.overlaps(booking.session)
        ]
        for session_id in sorted({booking.session_id} | {other.session_id for other in others}):
            capacity.lock_session(session_id)
        # The offer may have expired (or been passed on) between the read and the locks.
        booking = _offered(registration, bookings.lock_booking(booking.id).id, now)
        if not bookings.change_status(
            booking, BookingStatus.OFFERED, BookingStatus.CONFIRMED, now, offer_expires_at=None
        ):  # pragma: no cover - read under the session's lock just above
            raise OfferUnavailable()
        left = [other for other in others if bookings.cancel(other, now) is not None]
        registration.updated_at = now
        record(
            "offer_accepted",
            event_id=registration.event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            actor="participant",
            booking_id=booking.id,
        )
        emails.queue_changes_confirmed(registration, [booking], left, now)
    return booking


def decline_offer(registration: Registration, booking_id: int, now: datetime | None = None) -> list[Booking]:
    """Decline a place offered to the registration: it leaves that waiting list, the place passes on.

    :raises OfferUnavailable: when the booking is not offered to it.
    """
    now = now or utcnow()
    with write_transaction():
        registration = bookings.lock_registration(registration.id)
        booking = _offered(registration, booking_id, now, allow_expired=True)
        passed_on = bookings.cancel(booking, now)
        if passed_on is None:  # pragma: no cover - the registration's lock keeps its bookings still
            raise OfferUnavailable()
        registration.updated_at = now
        record(
            "offer_declined",
            event_id=registration.event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            actor="participant",
            booking_id=booking.id,
        )
        emails.queue_booking_cancelled(registration, booking, now)
    return passed_on


def _offered(registration: Registration, booking_id: int, now: datetime, allow_expired: bool = False) -> Booking:
    """Return the registration's booking offered to it and still open.

    :raises OfferUnavailable:
    """
    booking = next((b for b in registration.bookings if b.id == booking_id), None)
    if booking is None or booking.status != BookingStatus.OFFERED:
        raise OfferUnavailable()
    if not allow_expired and booking.offer_expires_at is not None and booking.offer_expires_at <= now:
        raise OfferUnavailable()
    return booking


def expire_offers(now: datetime | None = None) -> int:
    """Cancel every offer past its time and offer the place to the next person; return how many.

    Each expiry is its own transaction, so one failure does not undo the others.
    """
    now = now or utcnow()
    due = list(
        db.session.execute(
            select(Booking.id)
            .where(Booking.status == BookingStatus.OFFERED, Booking.offer_expires_at <= now)
            .order_by(Booking.id)
        ).scalars()
    )
    expired = 0
    for booking_id in due:
        with write_transaction():
            booking = bookings.lock_booking(booking_id)
            if booking.status != BookingStatus.OFFERED:
                continue
            if booking.offer_expires_at is None or booking.offer_expires_at > now:
                continue
            if bookings.cancel(booking, now) is None:  # pragma: no cover - locked above
                continue
            record(
                "offer_expired",
                event_id=booking.registration.event_id,
                registration_id=booking.registration_id,
                session_id=booking.session_id,
                actor="system",
                booking_id=booking.id,
            )
            expired += 1
    return expired
