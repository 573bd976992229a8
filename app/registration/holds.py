"""Double opt-in: places held until the participant confirms by email, released when the time runs out.

A registration at an event with ``requires_email_confirmation`` gets a
``confirmation_expires_at``; until ``confirmed_email_at`` is set its confirmed
bookings are holds. They already count in ``taken`` like any confirmed place;
only the JSON availability shows them apart. Confirmation and expiry each
decide by one conditional UPDATE of the registration row, so exactly one of
them wins a race.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from ..db import retry_on_contention, utcnow, write_transaction
from ..extensions import db
from . import bookings, emails, services
from .errors import ConfirmationExpired
from .models import Booking, BookingStatus, Registration, RegistrationStatus

registration_table = Registration.__table__


@retry_on_contention()
def confirm_registration(registration: Registration, now: datetime | None = None) -> bool:
    """Confirm the registration's email address; tell whether this call confirmed it.

    Confirming twice is harmless (returns False).

    :raises ConfirmationExpired: when the hold time is over or the registration is cancelled.
    """
    now = now or utcnow()
    with write_transaction():
        result = db.session.execute(
            update(registration_table)
            .where(
                registration_table.c.id == registration.id,
                registration_table.c.status == RegistrationStatus.ACTIVE,
                registration_table.c.confirmed_email_at.is_(None),
                registration_table.c.confirmation_expires_at > now,
            )
            .values(confirmed_email_at=now, updated_at=now)
        )
        if result.rowcount == 1:
            return True
        current = services._reload(registration.id)
        if current.status == RegistrationStatus.ACTIVE and current.confirmed_email_at is not None:
            return False
        if current.status == RegistrationStatus.ACTIVE and current.confirmation_expires_at is None:
            return False
    raise ConfirmationExpired()


def expire_holds(now: datetime | None = None) -> int:
    """Cancel every unconfirmed registration whose hold time is over; return how many.

    Each registration is cancelled in its own transaction through the usual
    cancel path: places released, waiting lists promoted in order, emails queued.
    """
    now = now or utcnow()
    due = (
        db.session.execute(
            select(Registration.id)
            .where(
                Registration.status == RegistrationStatus.ACTIVE,
                Registration.confirmed_email_at.is_(None),
                Registration.confirmation_expires_at <= now,
            )
            .order_by(Registration.id)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    return sum(1 for registration_id in due if _expire_one(registration_id, now))


@retry_on_contention()
def _expire_one(registration_id: int, now: datetime) -> bool:
    """Cancel one unconfirmed registration if it is still due; tell whether it did."""
    with write_transaction():
        # Claims the row: a confirmation racing with us either committed first
        # (then nothing matches here) or waits and then finds it cancelled.
        claimed = db.session.execute(
            update(registration_table)
            .where(registration_table.c.id == registration_id, *_still_due(now))
            .values(status=RegistrationStatus.CANCELLED, updated_at=now)
        )
        if claimed.rowcount != 1:
            return False
        registration = bookings.lock_registration_places(registration_id)
        for booking in sorted(registration.live_bookings, key=lambda b: b.session_id):
            bookings.cancel(booking, now)
        for preference in list(registration.preferences):
            db.session.delete(preference)
        emails.queue_registration_cancelled(registration, now, unconfirmed=True)
    return True


def _still_due(now: datetime) -> list[Any]:
    """Return the conditions of a registration row whose hold may expire at ``now``."""
    return [
        registration_table.c.status == RegistrationStatus.ACTIVE,
        registration_table.c.confirmed_email_at.is_(None),
        registration_table.c.confirmation_expires_at <= now,
    ]


def held_counts(event_id: int) -> tuple[dict[int, int], dict[int, int]]:
    """Return the held places (confirmed bookings of unconfirmed registrations) by session and by group."""
    rows = db.session.execute(
        select(Booking.session_id, Booking.group_id, func.count())
        .join(Registration, Registration.id == Booking.registration_id)
        .where(
            Registration.event_id == event_id,
            Registration.status == RegistrationStatus.ACTIVE,
            Registration.confirmation_expires_at.is_not(None),
            Registration.confirmed_email_at.is_(None),
            Booking.status == BookingStatus.CONFIRMED,
        )
        .group_by(Booking.session_id, Booking.group_id)
    ).all()
    by_session: dict[int, int] = {}
    by_group: dict[int, int] = {}
    for session_id, group_id, count in rows:
        by_session[session_id] = by_session.get(session_id, 0) + count
        if group_id is not None:
            by_group[group_id] = by_group.get(group_id, 0) + count
    return by_session, by_group
