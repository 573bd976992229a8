"""Races for the last places: each thread has its own connection and transaction."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from app.events.models import Group, Session
from app.extensions import db as _db
from app.registration import capacity, services
from app.registration.models import Booking, BookingStatus
from app.registration.waitlist import waitlist_positions
from tests.conftest import assert_counters_consistent, counter_offsets

THREADS = 50
PLACES = 5


def _race(app, event_id: int, emails: list[str], precheck=None) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Register every email at once from its own thread; return the errors raised.

    ``precheck(session_ids)`` runs in each thread before the start signal.
    """
    barrier = threading.Barrier(len(emails))
    errors: list[BaseException] = []

    def worker(email: str) -> None:
        with app.app_context():
            try:
                from app.events.models import Event, ParticipantCategory

                event = _db.session.get(Event, event_id)
                sessions = [s.id for s in event.sessions]
                person = services.ParticipantData(
                    first_name="Jan", last_name=email, email=email, category=ParticipantCategory.MAYOR
                )
                if precheck is not None:
                    precheck(sessions)
                barrier.wait(timeout=30)
                services.register(event, person, services.Choices(session_ids=sessions))
            except BaseException as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=(email,)) for email in emails]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def _prepare(db, make_event, make_session):  # type: ignore[no-untyped-def]
    """An event with one workshop of two groups and only PLACES places left."""
    event = make_event()
    session = make_session(event, groups=[10, 10])
    # Fill all but the last PLACES places.
    db.session.execute(text("UPDATE session_group SET taken = capacity"))
    group = db.session.execute(select(Group).order_by(Group.id)).scalars().first()
    group.taken = group.capacity - PLACES
    db.session.execute(text("UPDATE session SET taken = :t WHERE id = :id"), {"t": 20 - PLACES, "id": session.id})
    db.session.commit()
    return event, session


def test_fifty_threads_race_for_the_last_five_places(app, db, make_event, make_session):
    event, session = _prepare(db, make_event, make_session)
    prefilled = counter_offsets()  # _prepare filled places by hand, without bookings
    errors = _race(app, event.id, [f"racer{i}@example.com" for i in range(THREADS)])
    assert errors == []
    db.session.rollback()  # end the old snapshot to see the workers' commits
    bookings = (
        db.session.execute(select(Booking).where(Booking.session_id == session.id).order_by(Booking.id)).scalars().all()
    )
    statuses = [b.status for b in bookings]
    assert statuses.count(BookingStatus.CONFIRMED) == PLACES
    assert statuses.count(BookingStatus.WAITLISTED) == THREADS - PLACES
    # Confirmed first, then the waiting list in the order the bookings were made.
    assert statuses == [BookingStatus.CONFIRMED] * PLACES + [BookingStatus.WAITLISTED] * (THREADS - PLACES)
    waiting = [b for b in bookings if b.status == BookingStatus.WAITLISTED]
    positions = waitlist_positions(waiting)
    assert [positions[b.id] for b in waiting] == list(range(1, THREADS - PLACES + 1))
    refreshed = db.session.get(Session, session.id)
    assert refreshed.taken == refreshed.capacity == 20
    groups = db.session.execute(select(Group)).scalars().all()
    assert all(g.taken == g.capacity for g in groups)
    assert_counters_consistent(prefilled)  # the race added no drift between counters and bookings


_seen = threading.local()


def _naive_precheck(session_ids: list[int]) -> None:
    """Read "places left" before the write transaction, as a naive form check would."""
    with _db.engine.connect() as connection:
        _seen.counts = {
            sid: connection.execute(text("SELECT taken, capacity FROM session WHERE id = :id"), {"id": sid}).one()
            for sid in session_ids
        }
        _seen.groups = {
            sid: connection.execute(
                text(
                    "SELECT id, taken FROM session_group WHERE session_id = :id AND taken < capacity ORDER BY id LIMIT 1"
                ),
                {"id": sid},
            ).one_or_none()
            for sid in session_ids
        }


def _naive_take_place(session_id: int):  # type: ignore[no-untyped-def]
    """Check-then-write without the conditional UPDATE: the bug the guard prevents."""
    taken, cap = _seen.counts[session_id]
    group = _seen.groups[session_id]
    if cap is not None and taken >= cap:
        raise capacity.Full(session_id)
    _db.session.execute(text("UPDATE session SET taken = :t WHERE id = :id"), {"t": taken + 1, "id": session_id})
    if group is not None:
        _db.session.execute(
            text("UPDATE session_group SET taken = :t WHERE id = :id"), {"t": group[1] + 1, "id": group[0]}
        )
        return group[0]
    return None


def test_without_the_atomic_guard_the_race_overbooks(app, db, make_event, make_session, monkeypatch):
    """The twin of the race test: with the guard removed, the test does see the race."""
    event, session = _prepare(db, make_event, make_session)
    prefilled = counter_offsets()
    monkeypatch.setattr(capacity, "take_place", _naive_take_place)
    errors = _race(app, event.id, [f"racer{i}@example.com" for i in range(THREADS)], precheck=_naive_precheck)
    assert errors == []
    db.session.rollback()  # end the old snapshot to see the workers' commits
    confirmed = (
        db.session.execute(
            select(Booking).where(Booking.session_id == session.id, Booking.status == BookingStatus.CONFIRMED)
        )
        .scalars()
        .all()
    )
    taken = db.session.get(Session, session.id).taken
    # More people confirmed than there were places, and the counter no longer matches the rows.
    assert len(confirmed) > PLACES
    assert taken < 20 - PLACES + len(confirmed)
    assert counter_offsets() != prefilled  # and the counter audit sees it


@pytest.mark.parametrize("attempts", [20])
def test_the_same_email_twenty_times_at_once_registers_once(app, db, make_event, make_session, attempts):
    event = make_event()
    make_session(event, capacity=100)
    errors = _race(app, event.id, ["double@example.com"] * attempts)
    assert len(errors) == attempts - 1
    assert all(isinstance(e, services.AlreadyRegistered) for e in errors)
    from app.registration.models import Registration

    db.session.rollback()
    assert len(db.session.execute(select(Registration)).scalars().all()) == 1
