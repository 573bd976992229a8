"""Organisers' use cases on registrations: list and search, approve, move, cancel, promote, add.

Public functions own their transaction (``write_transaction``) and record an
audit entry in it; they reuse the participant-side helpers of ``services`` for
every change of places. Locks are taken session first, then the booking row,
then groups in ascending id order, as the participant-side code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, select, update
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..db import polish, utcnow, write_transaction
from ..events.models import Event, Group, ParticipantCategory, Session
from ..extensions import db
from ..notifications.models import OutboxMessage
from . import bookings, capacity, emails
from .bookings import promote_waiting
from .errors import (
    AlreadyRegistered,
    BookingNotFound,
    GroupFull,
    GroupNotFound,
    NotCancellable,
    PlaceClash,
    RegistrationIsCancelled,
    SessionFull,
    WrongBookingState,
)
from .models import LIVE_BOOKING_STATUSES, Booking, BookingStatus, Registration, RegistrationStatus
from .search import search_terms, search_text
from .services import (
    Choices,
    ParticipantData,
    RegistrationResult,
    choosable_sessions,
    hash_token,
    live_registration_exists,
    new_registration,
    new_token,
    normalize_email,
    refusing_duplicates,
    save_preferences,
    validate_choices,
)

# Sort keys an organiser may ask for, and the columns they sort on (id breaks ties); names
# in Polish alphabetical order on both databases, as the printed lists.
SORTS: dict[str, tuple[Any, ...]] = {
    "last_name": (polish(Registration.last_name), polish(Registration.first_name)),
    "created": (Registration.created_at,),
    "organisation": (polish(Registration.organisation),),
    "city": (polish(Registration.city),),
}
DEFAULT_SORT = "last_name"
PER_PAGE = 50
MAX_PER_PAGE = 200


class RegistrationNotFound(LookupError):
    """No registration with this id belongs to the event."""


@dataclass(frozen=True)
class RegistrationFilters:
    """What the organiser's list shows: a search, filters and an order."""

    text: str = ""
    category: str | None = None
    registration_status: str | None = None
    booking_status: str | None = None
    session_id: int | None = None
    group_id: int | None = None
    sort: str = DEFAULT_SORT
    descending: bool = False


def registration_select(event_id: int, filters: RegistrationFilters) -> Select[tuple[Registration]]:
    """Build the query of an event's registrations matching ``filters``, in order."""
    query = select(Registration).where(Registration.event_id == event_id)
    for term in search_terms(filters.text):
        query = query.where(Registration.search_text.like(f"%{_escape_like(term)}%", escape="\\"))
    if filters.category in {c.value for c in ParticipantCategory}:
        query = query.where(Registration.category == ParticipantCategory(filters.category))
    if filters.registration_status in {s.value for s in RegistrationStatus}:
        query = query.where(Registration.status == RegistrationStatus(filters.registration_status))
    booking_clauses = []
    if filters.booking_status in {s.value for s in BookingStatus}:
        booking_clauses.append(Booking.status == BookingStatus(filters.booking_status))
    elif filters.session_id is not None or filters.group_id is not None:
        booking_clauses.append(Booking.status.in_(LIVE_BOOKING_STATUSES))
    if filters.session_id is not None:
        booking_clauses.append(Booking.session_id == filters.session_id)
    if filters.group_id is not None:
        booking_clauses.append(Booking.group_id == filters.group_id)
    if booking_clauses:
        query = query.where(
            select(Booking.id).where(Booking.registration_id == Registration.id, *booking_clauses).exists()
        )
    columns = SORTS.get(filters.sort, SORTS[DEFAULT_SORT])
    if filters.descending:
        return query.order_by(*(c.desc() for c in columns), Registration.id.desc())
    return query.order_by(*(c.asc() for c in columns), Registration.id.asc())


def list_registrations(
    event: Event, filters: RegistrationFilters, page: int = 1, per_page: int = PER_PAGE
) -> Pagination:
    """Return one page of the event's registrations, their bookings loaded in one extra query."""
    query = registration_select(event.id, filters).options(selectinload(Registration.bookings))
    load_programme(event)
    return db.paginate(query, page=page, per_page=per_page, max_per_page=MAX_PER_PAGE, error_out=False)


def load_programme(event: Event) -> list[Session]:
    """Load the event's sessions and groups onto ``event`` in two queries.

    Bookings then find their session and group in the identity map, without a
    query each (the event holds them, so they stay there).
    """
    db.session.execute(
        select(Event).where(Event.id == event.id).options(selectinload(Event.sessions).selectinload(Session.groups))
    ).scalar_one()
    return event.sessions


def get_registration(event_id: int, registration_id: int) -> Registration:
    """Return a registration of the event with its bookings and preferences.

    :raises RegistrationNotFound: when it does not exist or belongs to another event.
    """
    registration = db.session.execute(
        select(Registration)
        .where(Registration.id == registration_id, Registration.event_id == event_id)
        .options(selectinload(Registration.bookings), selectinload(Registration.preferences))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if registration is None:
        raise RegistrationNotFound(registration_id)
    load_programme(registration.event)
    return registration


def approve_request(event_id: int, registration_id: int, booking_id: int, now: datetime | None = None) -> Booking:
    """Approve a requested place: confirm it if a place is free, else put it on the waiting list.

    :raises BookingNotFound, ActionRefused: for a booking that is not a live request here.
    """
    now = now or utcnow()
    with write_transaction():
        registration, booking = _locked_booking(event_id, registration_id, booking_id, {BookingStatus.REQUESTED})
        try:
            group_id = capacity.take_place(booking.session_id)
            status = BookingStatus.CONFIRMED
        except capacity.Full:
            group_id, status = None, BookingStatus.WAITLISTED
        if not bookings.change_status(
            booking, BookingStatus.REQUESTED, status, now, group_id=group_id, is_approved=True
        ):  # pragma: no cover - read under its locks
            raise WrongBookingState(booking.status.value)
        registration.updated_at = now
        db.session.flush()
        record(
            "registration.request_approved",
            event_id=event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            booking_id=booking.id,
            result=booking.status.value,
        )
        emails.queue_request_decided(booking, approved=True, now=now)
    return booking


def decline_request(event_id: int, registration_id: int, booking_id: int, now: datetime | None = None) -> Booking:
    """Decline a requested place (the booking is cancelled).

    :raises BookingNotFound, ActionRefused: for a booking that is not a live request here.
    """
    now = now or utcnow()
    with write_transaction():
        registration, booking = _locked_booking(event_id, registration_id, booking_id, {BookingStatus.REQUESTED})
        bookings.cancel(booking, now)
        registration.updated_at = now
        record(
            "registration.request_declined",
            event_id=event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            booking_id=booking.id,
        )
        emails.queue_request_decided(booking, approved=False, now=now)
    return booking


def move_to_group(
    event_id: int,
    registration_id: int,
    booking_id: int,
    group_id: int,
    override: bool = False,
    now: datetime | None = None,
) -> Booking:
    """Move a confirmed place to another group of the same session.

    A full group is refused, unless ``override``: then the group (and the
    session, whose capacity is the sum of its groups') gets one more place,
    which is audited. The place left behind goes to the waiting list.

    :raises BookingNotFound, ActionRefused, GroupNotFound, GroupFull:
    """
    now = now or utcnow()
    with write_transaction():
        registration, booking = _locked_booking(event_id, registration_id, booking_id, {BookingStatus.CONFIRMED})
        old_group_id = booking.group_id
        target = db.session.get(Group, group_id)
        if target is None or target.session_id != booking.session_id or old_group_id is None:
            raise GroupNotFound()
        if target.id == old_group_id:
            raise GroupNotFound()
        _lock_groups(sorted({old_group_id, target.id}))
        if not capacity.take_specific_group_place(target.id):
            if not override:
                raise GroupFull()
            _add_place(booking.session_id, target.id, registration)
            if not capacity.take_specific_group_place(target.id):  # pragma: no cover - locked above
                raise GroupFull()
        capacity.release_group_place(old_group_id)
        booking.group_id = target.id
        booking.updated_at = now
        registration.updated_at = now
        db.session.flush()
        record(
            "registration.group_moved",
            event_id=event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            booking_id=booking.id,
            from_group_id=old_group_id,
            to_group_id=target.id,
            override=override or None,
        )
        if override:
            # The session gained a place (the one left in the old group): the queue gets it
            # (promote_waiting emails those promoted).
            _record_promotions(event_id, promote_waiting(booking.session_id, now))
        emails.queue_changes_confirmed(registration, added=[], cancelled=[], now=now)
    return booking


def cancel_booking(event_id: int, registration_id: int, booking_id: int, now: datetime | None = None) -> list[Booking]:
    """Cancel one live booking; return the bookings promoted from the waiting list in its place.

    :raises BookingNotFound, ActionRefused:
    """
    now = now or utcnow()
    with write_transaction():
        registration, booking = _locked_booking(event_id, registration_id, booking_id, set(LIVE_BOOKING_STATUSES))
        previous = booking.status.value
        promoted = bookings.cancel(booking, now) or []
        registration.updated_at = now
        record(
            "registration.booking_cancelled",
            event_id=event_id,
            registration_id=registration.id,
            session_id=booking.session_id,
            booking_id=booking.id,
            previous_status=previous,
        )
        _record_promotions(event_id, promoted)  # promote_waiting emailed them
        emails.queue_booking_cancelled(registration, booking, now)
    return promoted


def cancel_registration(event_id: int, registration_id: int, now: datetime | None = None) -> list[Booking]:
    """Cancel a whole registration and its live bookings; return those promoted in their place.

    Unlike the participant, an organiser may cancel after the event too (e.g. no-shows).

    :raises NotCancellable: when the registration is already cancelled.
    """
    now = now or utcnow()
    with write_transaction():
        _registration(event_id, registration_id)  # of this event
        registration = bookings.lock_registration_places(registration_id)
        if registration.status != RegistrationStatus.ACTIVE:
            raise NotCancellable()
        promoted: list[Booking] = []
        cancelled: list[int] = []
        for booking in sorted(registration.live_bookings, key=lambda b: (b.session_id, b.id)):
            freed = bookings.cancel(booking, now)
            if freed is not None:
                promoted += freed
                cancelled.append(booking.id)
        for preference in list(registration.preferences):
            db.session.delete(preference)
        registration.status = RegistrationStatus.CANCELLED
        registration.updated_at = now
        record(
            "registration.cancelled",
            event_id=event_id,
            registration_id=registration.id,
            booking_ids=cancelled,
        )
        _record_promotions(event_id, promoted)  # promote_waiting emailed them
        emails.queue_registration_cancelled(registration, now)
    return promoted


def promote(
    event_id: int, registration_id: int, booking_id: int, override: bool = False, now: datetime | None = None
) -> Booking:
    """Give a free place to one waiting booking, ahead of the queue.

    With no free place the promotion is refused, unless ``override``: then the
    session (and its emptiest group) gets one more place, which is audited.

    :raises BookingNotFound, ActionRefused, SessionFull:
    """
    now = now or utcnow()
    with write_transaction():
        registration, booking = _locked_booking(event_id, registration_id, booking_id, {BookingStatus.WAITLISTED})
        session = db.session.get(Session, booking.session_id)
        assert session is not None
        if bookings.clashes(booking, session):
            raise PlaceClash()
        try:
            confirmed = bookings.confirm_waiting(booking, session.id, now)
        except capacity.Full:
            if not override:
                raise SessionFull() from None
            _add_place(session.id, _emptiest_group_id(session.id), registration)
            confirmed = bookings.confirm_waiting(booking, session.id, now)
        if not confirmed:  # pragma: no cover - read under its locks
            raise WrongBookingState(booking.status.value)
        registration.updated_at = now
        db.session.flush()
        record(
            "registration.promoted",
            event_id=event_id,
            registration_id=registration.id,
            session_id=session.id,
            booking_id=booking.id,
            override=override or None,
            by_hand=True,
        )
        emails.queue_promoted([booking], now)
    return booking


def resend_confirmation(event_id: int, registration_id: int, now: datetime | None = None) -> str:
    """Issue a new manage link (only its hash is stored) and email it; return the new token.

    The old link stops working.

    :raises ActionRefused: for a cancelled registration.
    """
    now = now or utcnow()
    token = new_token()
    with write_transaction():
        registration = _registration(event_id, registration_id)
        if registration.status != RegistrationStatus.ACTIVE:
            raise RegistrationIsCancelled()
        registration.manage_token_hash = hash_token(token)
        registration.updated_at = now
        db.session.flush()
        record("registration.link_reissued", event_id=event_id, registration_id=registration.id)
        emails.queue_registration_received(registration, token, now)
    return token


def add_registration(
    event: Event,
    participant: ParticipantData,
    choices: Choices,
    book_directly: bool = False,
    now: datetime | None = None,
) -> RegistrationResult:
    """Register a participant by hand (a phone or paper sign-up), whatever the registration window.

    Choices outside the participant's category become requests, or, with
    ``book_directly``, approved places (confirmed, or waiting when full).

    :raises AlreadyRegistered: when the email has a live registration here.
    :raises TimeClash, InvalidChoice: for choices that cannot be booked together.
    """
    now = now or utcnow()
    sessions = choosable_sessions(event, choices.session_ids)
    chosen = validate_choices(event, sessions, choices, participant.category)
    with refusing_duplicates(), write_transaction():
        result = insert_registration(event, participant, now)
        book_added_registration(result, sessions, chosen, choices, book_directly, now)
    return result


def insert_registration(
    event: Event, participant: ParticipantData, now: datetime, source: str = "organiser"
) -> RegistrationResult:
    """Write an organiser's new registration, without places yet (flushes only; the caller's transaction).

    Written before any session is locked, as the participant's form does (one lock order).

    :raises AlreadyRegistered: when the email has a live registration here (the unique
        index decides a race: wrap the transaction in ``refusing_duplicates``).
    """
    token = new_token()
    if live_registration_exists(event.id, normalize_email(participant.email)):
        raise AlreadyRegistered()
    registration = new_registration(event, participant, token, now, source)
    db.session.add(registration)
    db.session.flush()
    return RegistrationResult(registration=registration, token=token)


def book_added_registration(
    result: RegistrationResult,
    sessions: dict[int, Session],
    chosen: list[Session],
    choices: Choices,
    book_directly: bool,
    now: datetime,
    **audit: Any,
) -> list[Booking]:
    """Book the chosen sessions of a registration just inserted, audit it and queue its confirmation (flushes only).

    ``chosen`` is what ``validate_choices`` returned; ``audit`` adds details to its "registration.added" entry.
    """
    registration = result.registration
    booked = []
    for session in sorted(chosen, key=lambda s: s.id):
        approved = book_directly and not session.is_eligible(registration.category.value)
        booked.append(bookings.book(registration, session, now, approved=approved))
    db.session.flush()
    save_preferences(registration, sessions, choices.rankings)
    record(
        "registration.added",
        event_id=registration.event_id,
        registration_id=registration.id,
        book_directly=book_directly or None,
        bookings={str(b.session_id): b.status.value for b in booked},
        **audit,
    )
    emails.queue_registration_received(registration, result.token, now)
    return booked


def refresh_search_texts(event_id: int | None = None) -> int:
    """Recompute the search text of registrations (after a migration); return how many changed."""
    changed = 0
    with write_transaction():
        query = select(Registration)
        if event_id is not None:
            query = query.where(Registration.event_id == event_id)
        for registration in db.session.execute(query).scalars():
            text = search_text(registration)
            if registration.search_text != text:
                registration.search_text = text
                changed += 1
    return changed


def _registration(event_id: int, registration_id: int) -> Registration:
    """Load the event's registration afresh inside the transaction.

    :raises RegistrationNotFound:
    """
    return get_registration(event_id, registration_id)


def _locked_booking(
    event_id: int, registration_id: int, booking_id: int, statuses: set[BookingStatus]
) -> tuple[Registration, Booking]:
    """Lock the booking's session, then the booking, and check its state.

    :raises RegistrationNotFound: for a registration of another event.
    :raises BookingNotFound: for a booking of another registration.
    :raises ActionRefused: when the booking is not in one of ``statuses``.
    """
    _registration(event_id, registration_id)  # of this event
    registration = bookings.lock_registration(registration_id)
    if registration.status != RegistrationStatus.ACTIVE:
        raise RegistrationIsCancelled()
    if not any(b.id == booking_id for b in registration.bookings):
        raise BookingNotFound()
    booking = bookings.lock_booking(booking_id)
    if booking.status not in statuses:
        raise WrongBookingState(booking.status.value)
    return registration, booking


def _lock_groups(group_ids: list[int]) -> None:
    """Lock group rows in ascending id order."""
    for group_id in sorted(group_ids):
        db.session.execute(select(Group.id).where(Group.id == group_id).with_for_update())


def _emptiest_group_id(session_id: int) -> int | None:
    """Return the group of the session with the fewest taken places (None without groups)."""
    return db.session.execute(
        select(Group.id).where(Group.session_id == session_id).order_by(Group.taken, Group.id).limit(1)
    ).scalar_one_or_none()


def _add_place(session_id: int, group_id: int | None, registration: Registration) -> None:
    """Raise the capacity of a session (and one of its groups) by one, audited.

    Taking a place beyond capacity is forbidden by CHECK constraints, so an
    organiser's override adds the place instead; the session's capacity stays
    the sum of its groups'.
    """
    session_table, group_table = Session.__table__, Group.__table__
    db.session.execute(
        update(session_table)
        .where(session_table.c.id == session_id, session_table.c.capacity.is_not(None))
        .values(capacity=session_table.c.capacity + 1)
    )
    if group_id is not None:
        db.session.execute(
            update(group_table).where(group_table.c.id == group_id).values(capacity=group_table.c.capacity + 1)
        )
    new_capacity = db.session.execute(
        select(session_table.c.capacity).where(session_table.c.id == session_id)
    ).scalar_one()
    record(
        "session.capacity_raised",
        event_id=registration.event_id,
        registration_id=registration.id,
        session_id=session_id,
        group_id=group_id,
        capacity=new_capacity,
    )


def _record_promotions(event_id: int, promoted: list[Booking]) -> None:
    """Note in each promoted registration's trail that it left the waiting list."""
    for booking in promoted:
        record(
            "registration.promoted",
            event_id=event_id,
            registration_id=booking.registration_id,
            session_id=booking.session_id,
            booking_id=booking.id,
        )


def _escape_like(term: str) -> str:
    """Escape LIKE's wildcards in a search term."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def email_history(registration_id: int) -> list[OutboxMessage]:
    """Return the emails sent, failed or waiting for a registration, newest first."""
    return list(
        db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.registration_id == registration_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        ).scalars()
    )
