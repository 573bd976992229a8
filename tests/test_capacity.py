"""Capacity, waiting lists and promotion, through the service layer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.events.models import Group, Session
from app.notifications.models import OutboxMessage
from app.registration import services
from app.registration.models import Booking, BookingStatus
from app.registration.waitlist import waitlist_positions


def _statuses(db, session):  # type: ignore[no-untyped-def]
    """Return the booking statuses of a session in booking order."""
    rows = db.session.execute(
        select(Booking.status).where(Booking.session_id == session.id).order_by(Booking.id)
    ).scalars()
    return [s.value for s in rows]


def test_full_session_puts_bookings_on_the_waiting_list_in_order(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=2)
    registrations = [register(event, session) for _ in range(4)]
    assert _statuses(db, session) == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert db.session.get(Session, session.id).taken == 2
    positions = [waitlist_positions(r.bookings) for r in registrations[2:]]
    assert [list(p.values()) for p in positions] == [[1], [2]]


def test_unlimited_session_never_waitlists(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=None)
    for _ in range(5):
        register(event, session)
    assert _statuses(db, session) == ["confirmed"] * 5


def test_groups_fill_emptiest_first_and_session_capacity_is_their_sum(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, groups=[2, 3])
    assert session.capacity == 5
    for _ in range(6):
        register(event, session)
    groups = db.session.execute(select(Group).order_by(Group.id)).scalars().all()
    assert [g.taken for g in groups] == [2, 3]
    bookings = db.session.execute(select(Booking).order_by(Booking.id)).scalars().all()
    # Emptiest first: the larger group first, then alternating as they even out.
    assert [b.group_id for b in bookings[:5]] == [groups[1].id, groups[0].id, groups[1].id, groups[0].id, groups[1].id]
    assert bookings[5].status == BookingStatus.WAITLISTED and bookings[5].group_id is None


def test_session_with_room_but_full_groups_is_reported_and_nothing_is_taken(db, make_event, make_session):
    from app.db import write_transaction
    from app.registration import capacity

    event = make_event()
    session = make_session(event, groups=[1, 1])
    db.session.execute(update(Group).where(Group.session_id == session.id).values(taken=1))
    db.session.commit()  # the groups are full, the session's counter still says 0 of 2
    with pytest.raises(capacity.CapacityInconsistent), write_transaction():
        capacity.take_place(session.id)
    db.session.expire_all()
    assert db.session.get(Session, session.id).taken == 0
    assert [g.taken for g in db.session.execute(select(Group).order_by(Group.id)).scalars()] == [1, 1]


def test_session_without_groups_takes_a_place_without_a_group(db, make_event, make_session):
    from app.db import write_transaction
    from app.registration import capacity

    event = make_event()
    session = make_session(event, capacity=1)
    with write_transaction():
        assert capacity.take_place(session.id) is None
    with pytest.raises(capacity.Full), write_transaction():
        capacity.take_place(session.id)
    db.session.expire_all()
    assert db.session.get(Session, session.id).taken == 1


def test_database_refuses_taken_above_capacity(db, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=1)
    with pytest.raises(IntegrityError):
        db.session.execute(update(Session).where(Session.id == session.id).values(taken=2))
        db.session.flush()
    db.session.rollback()


def test_cancelling_a_confirmed_place_promotes_the_first_waiting(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, groups=[1])
    first = register(event, session)
    second = register(event, session)
    third = register(event, session)
    promoted = services.cancel_booking(first, first.bookings[0].id)
    assert [b.registration_id for b in promoted] == [second.id]
    assert _statuses(db, session) == ["cancelled", "confirmed", "waitlisted"]
    assert waitlist_positions(db.session.get(type(third), third.id).bookings) == {third.bookings[0].id: 1}
    group = db.session.execute(select(Group)).scalar_one()
    assert group.taken == 1 and db.session.get(Session, session.id).taken == 1


def test_promotion_skips_a_waiting_person_with_a_clash(db, make_event, make_session, register):
    event = make_event()
    workshop = make_session(event, start_hour=10, capacity=1)
    other = make_session(event, start_hour=12, capacity=5)
    holder = register(event, workshop)
    clashing = register(event, workshop)
    later = register(event, workshop)
    # An organiser moved the waiting person into a session at the same time.
    db.session.execute(
        update(Session).where(Session.id == other.id).values(starts_at=workshop.starts_at, ends_at=workshop.ends_at)
    )
    db.session.commit()
    db.session.add(Booking(registration_id=clashing.id, session_id=other.id, status=BookingStatus.CONFIRMED))
    db.session.execute(update(Session).where(Session.id == other.id).values(taken=1))
    db.session.commit()
    promoted = services.cancel_booking(holder, holder.bookings[0].id)
    assert [b.registration_id for b in promoted] == [later.id]
    statuses = {
        b.registration_id: b.status
        for b in db.session.execute(select(Booking).where(Booking.session_id == workshop.id)).scalars()
    }
    assert statuses[clashing.id] == BookingStatus.WAITLISTED


def test_cancelling_a_waitlisted_place_promotes_nobody(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=1)
    register(event, session)
    waiting = register(event, session)
    assert services.cancel_booking(waiting, waiting.bookings[0].id) == []
    assert db.session.get(Session, session.id).taken == 1


def test_cancelling_the_whole_registration_releases_every_place(db, make_event, make_session, register):
    event = make_event()
    a = make_session(event, start_hour=9, capacity=1)
    b = make_session(event, start_hour=11, groups=[1])
    holder = register(event, a, b)
    waiting = register(event, a, b)
    promoted = services.cancel_registration(holder)
    assert sorted(p.session_id for p in promoted) == [a.id, b.id]
    assert all(p.registration_id == waiting.id for p in promoted)
    assert holder.status.value == "cancelled"
    # Cancelling again (a second click) does nothing more: no place, no email.
    messages = db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
    assert services.cancel_registration(holder) == []
    assert db.session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == messages
    assert db.session.get(Session, a.id).taken == 1


def test_ineligible_participant_gets_a_request_without_taking_a_place(db, make_event, make_session, register):
    event = make_event()
    session = make_session(event, capacity=1, eligible_categories=["mayor"])
    registration = register(event, session, category="business")
    assert registration.bookings[0].status == BookingStatus.REQUESTED
    assert db.session.get(Session, session.id).taken == 0


def test_sessions_read_before_a_lost_race_are_read_again_on_the_retry(app, db, make_event, make_session, participant):
    # The route reads the sessions and hands them to the service; a retry after a lost lock
    # race must not trust them: the rollback expired them, and one may be gone by then.
    event = make_event()
    kept, removed = make_session(event, start_hour=9, capacity=5), make_session(event, start_hour=11, capacity=5)
    ids = [kept.id, removed.id]
    sessions = services.choosable_sessions(event, ids)
    db.session.delete(removed)  # an organiser deletes a session meanwhile
    db.session.commit()
    with pytest.raises(services.InvalidChoice):
        services.register(event, participant(), services.Choices(session_ids=ids), sessions=sessions)
    db.session.rollback()
    booked = services.register(event, participant(), services.Choices(session_ids=[kept.id]), sessions=sessions)
    assert [b.session_id for b in booked.registration.bookings] == [kept.id]
