"""The booking core: every change of a booking's status on an existing row goes through here.

One lock order for every path, participant, organiser and background alike
(PostgreSQL row locks; on SQLite the write transaction already holds the
database's single write lock):

1. the registration row, when a use case acts on one registration
   (``lock_registration``: a double-click then waits for the first click);
2. sessions in ascending id order (``capacity.lock_session``, or the
   conditional UPDATE that takes a place);
3. the booking row (``lock_booking``);
4. groups in ascending id order.

Under the locks the booking is read again, and its status changes only by a
conditional ``UPDATE … WHERE status IN (:expected)`` checked by its row count
(``change_status``): a second cancel is a no-op, and a promotion cannot
confirm someone who has just left the waiting list.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..allocation import lottery_key
from ..events.models import BookingMode, Session
from ..extensions import db
from ..notifications.models import MessageKind
from ..ranking.models import AllocationRun
from . import capacity, emails
from .models import LIVE_BOOKING_STATUSES, PLACE_HOLDING_STATUSES, Booking, BookingStatus, Registration
from .ranked import published_run

booking_table = Booking.__table__

# FOR NO KEY UPDATE on PostgreSQL: it still lets other transactions insert rows
# that refer to the locked one (an outbox message, a booking, a check-in), which
# take only a key-share lock; FOR UPDATE would make them wait.
_ROW_LOCK: dict[str, Any] = {"key_share": True}


def lock_registration(registration_id: int) -> Registration:
    """Lock a registration row and read it, its bookings and ranked choices afresh.

    The first lock of every use case on one registration, so that two of them
    (a double-click, a participant and an organiser) run one after the other,
    each seeing what the other committed.
    """
    return db.session.execute(
        select(Registration)
        .where(Registration.id == registration_id)
        .options(selectinload(Registration.bookings), selectinload(Registration.preferences))
        .with_for_update(**_ROW_LOCK)
        .execution_options(populate_existing=True)
    ).scalar_one()


def lock_registration_places(registration_id: int) -> Registration:
    """Lock a registration, then every session it books or ranks; read its bookings under those locks.

    For use cases that end all of a registration's places (cancel, erasure,
    expiry): an allocation being published at the same time (it holds the ranked
    workshops' locks) either finishes first, and its new bookings are read here,
    or starts after, and no longer sees the registration as live.
    """
    registration = lock_registration(registration_id)
    session_ids = {b.session_id for b in registration.bookings} | {p.session_id for p in registration.preferences}
    for session_id in sorted(session_ids):
        capacity.lock_session(session_id)
    return lock_registration(registration_id) if session_ids else registration


def lock_booking(booking_id: int) -> Booking:
    """Lock the booking's session, then the booking, and return the booking as committed."""
    session_id = db.session.execute(select(Booking.session_id).where(Booking.id == booking_id)).scalar_one()
    capacity.lock_session(session_id)
    return db.session.execute(
        select(Booking)
        .where(Booking.id == booking_id)
        .with_for_update(**_ROW_LOCK)
        .execution_options(populate_existing=True)
    ).scalar_one()


def book(
    registration: Registration,
    session: Session,
    now: datetime,
    *,
    invitation_code_id: int | None = None,
    approved: bool = False,
) -> Booking:
    """Add a booking (flushed only if a request): a confirmed place, a waiting-list place or a request.

    A participant outside the session's categories asks for it (a request),
    unless they have an invitation code for it, redeemed in this transaction
    (``invitation_code_id``), or an organiser books them ``approved``.
    """
    group_id = None
    direct = (
        approved
        or invitation_code_id is not None
        or books_directly(registration.category.value, registration.email, session)
    )
    if not direct:
        status = BookingStatus.REQUESTED
    else:
        try:
            group_id = capacity.take_place(session.id)
            status = BookingStatus.CONFIRMED
        except capacity.Full:
            capacity.lock_session(session.id)
            status = BookingStatus.WAITLISTED
    booking = Booking(
        registration=registration,
        session_id=session.id,
        group_id=group_id,
        status=status,
        invitation_code_id=invitation_code_id,
        is_approved=approved,
        created_at=now,
        updated_at=now,
    )
    db.session.add(booking)
    if status == BookingStatus.REQUESTED:
        # A request locks nothing above, but its row's foreign key takes a share lock on the
        # session: written now, that lock comes in the same ascending order as everyone's
        # (later, it could wait for a lower session after a higher one was locked: a deadlock).
        # Confirmed and waiting bookings' sessions are already locked by this transaction.
        db.session.flush()
    return booking


def book_allocated(
    registration: Registration, session_id: int, group_id: int | None, rank: int, now: datetime
) -> Booking:
    """Add the confirmed place an allocation gave, in its group, never beyond either capacity.

    :raises capacity.Full: should the place be gone.
    """
    capacity.take_place_in(session_id, group_id)
    booking = Booking(
        registration=registration,
        session_id=session_id,
        group_id=group_id,
        status=BookingStatus.CONFIRMED,
        rank=rank,
        created_at=now,
        updated_at=now,
    )
    db.session.add(booking)
    return booking


def wait_ranked(registration: Registration, session_id: int, rank: int, now: datetime) -> Booking:
    """Add a place on a ranked workshop's waiting list (its session already locked by the caller)."""
    booking = Booking(
        registration=registration,
        session_id=session_id,
        status=BookingStatus.WAITLISTED,
        rank=rank,
        created_at=now,
        updated_at=now,
    )
    db.session.add(booking)
    return booking


def change_status(
    booking: Booking,
    expected: BookingStatus | Iterable[BookingStatus],
    new: BookingStatus,
    now: datetime,
    **values: Any,
) -> bool:
    """Set the booking's status to ``new`` if it is still one of ``expected``; tell whether it was.

    ``values`` are further columns written in the same statement (``group_id``,
    ``offer_expires_at`` …). The booking object is updated to match; on a
    refusal it is left as it was and the caller must not go on as if it changed.
    """
    statuses = [expected] if isinstance(expected, BookingStatus) else list(expected)
    changes = {"status": new, "updated_at": now, **values}
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(booking_table)
            .where(booking_table.c.id == booking.id, booking_table.c.status.in_(statuses))
            .values(**changes)
        ),
    )
    if result.rowcount != 1:
        return False
    for key, value in changes.items():
        set_committed_value(booking, key, value)
    return True


def cancel(booking: Booking, now: datetime) -> list[Booking] | None:
    """Cancel a live booking under its locks; a freed place goes to the waiting list.

    Returns the bookings promoted in its place, or None when the booking was no
    longer live once locked (someone cancelled it first: nothing was done).
    Flushes only.
    """
    db.session.flush()  # pending changes of the caller go out before the booking is read again
    booking = lock_booking(booking.id)
    previous = booking.status
    if previous not in LIVE_BOOKING_STATUSES:
        return None
    if not change_status(booking, previous, BookingStatus.CANCELLED, now, offer_expires_at=None):
        return None
    if previous not in PLACE_HOLDING_STATUSES:
        return []
    capacity.release_place(booking.session_id, booking.group_id)
    return promote_waiting(booking.session_id, now)


def confirm_waiting(booking: Booking, session_id: int, now: datetime) -> bool:
    """Give a waiting booking a place of its (locked) session; tell whether it got one.

    :raises capacity.Full: when the session has no free place.
    """
    group_id = capacity.take_place(session_id)
    if change_status(booking, BookingStatus.WAITLISTED, BookingStatus.CONFIRMED, now, group_id=group_id):
        return True
    # It left the waiting list after it was read: the place goes back.
    capacity.release_place(session_id, group_id)
    return False


def promote_waiting(session_id: int, now: datetime) -> list[Booking]:
    """Give free places of a session to the first waiting people who can take them.

    A waiting person whose confirmed bookings clash in time with the session,
    or who is outside its categories, is skipped and keeps their place in line.
    Each person promoted is sent a "promoted" email (queued in the same transaction).
    Flushes only: the caller owns the transaction.
    """
    capacity.lock_session(session_id)  # the waiting list is read and changed under it
    session = db.session.get(Session, session_id)
    assert session is not None
    if session.booking_mode == BookingMode.RANKED:
        # After publication, freed ranked places are offered by rank.
        run = published_run(session.event_id)
        if run is not None:
            return offer_free_places(session, run, now)
    promoted: list[Booking] = []
    waiting = (
        db.session.execute(
            select(Booking)
            .where(Booking.session_id == session_id, Booking.status == BookingStatus.WAITLISTED)
            .order_by(Booking.id)
            .options(selectinload(Booking.registration))
            .execution_options(populate_existing=True)
        )
        .scalars()
        .all()
    )
    for booking in waiting:
        eligible = (
            booking.is_approved
            or booking.invitation_code_id is not None
            or books_directly(booking.registration.category.value, booking.registration.email, session)
        )
        if not eligible or clashes(booking, session):
            continue
        try:
            if confirm_waiting(booking, session_id, now):
                promoted.append(booking)
        except capacity.Full:
            break
    db.session.flush()
    emails.queue_promoted(promoted, now)
    return promoted


def offer_free_places(session: Session, run: AllocationRun, now: datetime) -> list[Booking]:
    """Offer the session's free places to the waiting people who ranked it highest (flushes only).

    Ties between equal ranks follow the run's lottery (sha256 of seed and
    registration id); people who joined the waiting list after publication
    (first come, no rank) follow, in the order they joined. A person outside the session's categories, or holding a
    place at the same time, is skipped and keeps their place in line. Each
    person offered a place is emailed.
    """
    waiting = (
        db.session.execute(
            select(Booking)
            .where(Booking.session_id == session.id, Booking.status == BookingStatus.WAITLISTED)
            .options(selectinload(Booking.registration))
        )
        .scalars()
        .all()
    )
    # Those the allocation put on the list come first, by rank and the run's lottery; then
    # those who joined it first come after publication (no rank), in the order they joined.
    order = sorted(
        waiting,
        key=lambda b: (
            b.rank is None,
            b.rank or 0,
            lottery_key(run.seed, str(b.registration_id)) if b.rank is not None else 0,
            b.id,
        ),
    )
    hours = float(current_app.config.get("RANKED_OFFER_HOURS", 48))
    offered: list[Booking] = []
    for booking in order:
        eligible = booking.is_approved or session.is_eligible(booking.registration.category.value)
        if not eligible or _holds_place_at(booking, session):
            continue
        try:
            group_id = capacity.take_place(session.id)
        except capacity.Full:
            break
        if not change_status(
            booking,
            BookingStatus.WAITLISTED,
            BookingStatus.OFFERED,
            now,
            group_id=group_id,
            offer_expires_at=now + timedelta(hours=hours),
        ):
            capacity.release_place(session.id, group_id)  # it left the waiting list meanwhile
            continue
        offered.append(booking)
    db.session.flush()
    for booking in offered:
        emails.queue_message(MessageKind.RANKED_OFFER, booking.registration, now, offered=booking)
    return offered


def _holds_place_at(booking: Booking, session: Session) -> bool:
    """Tell whether the booking's registration holds (or is offered) a place overlapping ``session``."""
    return (
        db.session.execute(
            select(Booking.id)
            .join(Session, Session.id == Booking.session_id)
            .where(
                Booking.registration_id == booking.registration_id,
                Booking.status.in_(PLACE_HOLDING_STATUSES),
                Booking.id != booking.id,
                Session.starts_at < session.ends_at,
                Session.ends_at > session.starts_at,
            )
            .limit(1)
        ).first()
        is not None
    )


def books_directly(category: str, email: str, session: Session) -> bool:
    """Tell whether a participant may book the session without an organiser's approval."""
    return session.is_eligible(category) or session.admits_email(email)


def clashes(booking: Booking, session: Session) -> bool:
    """Tell whether the booking's registration holds a confirmed place overlapping ``session``."""
    others = db.session.execute(
        select(Session.id)
        .join(Booking, Booking.session_id == Session.id)
        .where(
            Booking.registration_id == booking.registration_id,
            Booking.status == BookingStatus.CONFIRMED,
            Booking.id != booking.id,
            Session.starts_at < session.ends_at,
            Session.ends_at > session.starts_at,
        )
        .limit(1)
    ).first()
    return others is not None
