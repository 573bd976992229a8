"""Races on existing bookings: double-clicks, promotions, erasure and organiser moves.

Each scenario runs twice with the guard of ``app.registration.bookings`` (the
registration locked first, the booking read again under its session's lock,
statuses changed by conditional UPDATEs): once with every thread released at
the same moment (a real race; on PostgreSQL the threads' transactions
overlap), and once in the worst interleaving for certain: every participant's
page read happens before any write, as when two clicks leave the browser
before the first answer comes back. Each has a twin with the guard removed
(the service goes on with what the page read, changes statuses without a
condition), which must show the race: places counted twice, more people
confirmed than places, a cancel lost, two emails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.events.models import Session
from app.extensions import db as _db
from app.notifications.models import MessageKind, OutboxMessage
from app.registration import admin_services, bookings, gdpr, services
from app.registration.counters import audit_counters
from app.registration.errors import WrongBookingState
from app.registration.models import Booking, BookingStatus, Registration

PLACE_HOLDING = ("confirmed", "offered")


@dataclass
class Actor:
    """One racer: ``read`` runs first (the page the person saw), ``act`` later with what it returned."""

    read: Callable[[], Any]
    act: Callable[[Any], Any]


def _run(app, actors: list[Actor], concurrently: bool) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run every actor in its own thread, app context and connection; return the errors raised.

    All ``read`` steps finish before any ``act`` starts. Then the acts start at
    the same moment (``concurrently``) or one after the other in list order.
    """
    read_done = threading.Barrier(len(actors))
    turns = [threading.Event() for _ in actors]
    errors: list[BaseException] = []

    def worker(index: int, actor: Actor) -> None:
        with app.app_context():
            try:
                seen = actor.read()
                read_done.wait(timeout=30)
                if not concurrently:
                    turns[index].wait(timeout=60)
                actor.act(seen)
            except BaseException as error:  # noqa: BLE001 - collected for the assertions
                errors.append(error)
            finally:
                _db.session.remove()
                if not concurrently and index + 1 < len(turns):
                    turns[index + 1].set()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actors)]
    for thread in threads:
        thread.start()
    turns[0].set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racer hung"
    return errors


def _reader(registration_id: int) -> Callable[[], Registration]:
    """Read a registration as its page does, outside any write transaction."""

    def read() -> Registration:
        registration = _db.session.get(Registration, registration_id)
        assert registration is not None
        registration.bookings, registration.preferences  # noqa: B018 - loaded as the page loads them
        _ = registration.event.ends_at
        return registration

    return read


@pytest.fixture
def unguarded(monkeypatch):  # type: ignore[no-untyped-def]
    """Return a switch that removes the guard: no re-read under a lock, no condition on the status."""

    def remove() -> None:
        def stale_registration(registration_id: int) -> Registration:
            return _db.session.get(Registration, registration_id)  # as the page read it

        def stale_booking(booking_id: int) -> Booking:
            return _db.session.get(Booking, booking_id)

        def unconditional(booking, expected, new, now, **values):  # type: ignore[no-untyped-def]
            changes = {"status": new, "updated_at": now, **values}
            _db.session.execute(update(Booking.__table__).where(Booking.__table__.c.id == booking.id).values(**changes))
            for key, value in changes.items():
                setattr(booking, key, value)
            return True

        monkeypatch.setattr(bookings, "lock_registration", stale_registration)
        monkeypatch.setattr(bookings, "lock_registration_places", stale_registration)
        monkeypatch.setattr(bookings, "lock_booking", stale_booking)
        monkeypatch.setattr(bookings, "change_status", unconditional)

    return remove


def _fresh(db) -> None:  # type: ignore[no-untyped-def]
    """End the test's own snapshot so that the racers' commits are seen."""
    db.session.rollback()
    db.session.expire_all()


def _drift(db) -> list[tuple[str, int, int, int]]:  # type: ignore[no-untyped-def]
    """Return (kind, id, taken, counted) for every session and group whose counter disagrees with its rows."""
    _fresh(db)
    found = [(d.kind.value, d.id, d.taken, d.counted) for d in audit_counters().drifts]
    db.session.rollback()
    return found


def _holders(db, session_id: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Return the registrations holding a place in the session."""
    _fresh(db)
    return sorted(
        db.session.execute(
            select(Booking.registration_id).where(
                Booking.session_id == session_id, Booking.status.in_([BookingStatus.CONFIRMED, BookingStatus.OFFERED])
            )
        ).scalars()
    )


def _emails(db, kind: MessageKind, registration_id: int) -> int:  # type: ignore[no-untyped-def]
    """Count the emails of one kind queued for a registration."""
    return db.session.execute(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.kind == kind, OutboxMessage.registration_id == registration_id)
    ).scalar_one()


def _capacity(db, session_id: int) -> int:  # type: ignore[no-untyped-def]
    _fresh(db)
    return db.session.get(Session, session_id).capacity


@pytest.fixture
def full_workshop(db, make_event, make_session, register):  # type: ignore[no-untyped-def]
    """Return (session, holders, waiting): a full workshop of ``places`` places and a waiting list."""

    def build(places: int = 5, waiting: int = 10, groups: list[int] | None = None):  # type: ignore[no-untyped-def]
        event = make_event()
        session = make_session(event, capacity=None if groups else places, groups=groups)
        holders = [register(event, session) for _ in range(places)]
        queue = [register(event, session) for _ in range(waiting)]
        ids = session.id, [h.id for h in holders], [w.id for w in queue]
        _fresh(db)
        return ids

    return build


MODES = pytest.mark.parametrize("concurrently", [True, False], ids=["at-once", "read-before-write"])


# --- a double-click on "cancel this place" ---------------------------------------------------------------


def _double_cancel_booking(app, db, full_workshop, concurrently: bool) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    session_id, holders, waiting = full_workshop(places=5, waiting=10)
    actors = []
    for registration_id in holders:
        booking_id = db.session.execute(
            select(Booking.id).where(Booking.registration_id == registration_id)
        ).scalar_one()
        for _click in range(2):
            actors.append(
                Actor(
                    _reader(registration_id),
                    lambda registration, booking_id=booking_id: services.cancel_booking(registration, booking_id),
                )
            )
    errors = _run(app, actors, concurrently)
    return session_id, holders, waiting, errors


@MODES
def test_a_double_click_on_cancel_frees_each_place_once(app, db, full_workshop, concurrently):  # type: ignore[no-untyped-def]
    session_id, holders, waiting, errors = _double_cancel_booking(app, db, full_workshop, concurrently)
    assert errors == []
    assert _drift(db) == []
    assert _holders(db, session_id) == waiting[:5]  # the first five in line, nobody else
    assert [_emails(db, MessageKind.BOOKING_CANCELLED, r) for r in holders] == [1] * 5
    assert [_emails(db, MessageKind.PROMOTED, r) for r in waiting] == [1] * 5 + [0] * 5


def test_without_the_guard_a_double_click_on_cancel_overbooks(app, db, full_workshop, unguarded):  # type: ignore[no-untyped-def]
    unguarded()
    session_id, holders, waiting, errors = _double_cancel_booking(app, db, full_workshop, concurrently=False)
    assert errors == []
    assert len(_holders(db, session_id)) == 10 > _capacity(db, session_id)  # ten confirmed for five places
    assert _drift(db) != []
    assert [_emails(db, MessageKind.BOOKING_CANCELLED, r) for r in holders] == [2] * 5


# --- a double-click on "cancel my registration" ----------------------------------------------------------


def _double_cancel_registration(app, db, full_workshop, concurrently: bool):  # type: ignore[no-untyped-def]
    session_id, holders, waiting = full_workshop(places=3, waiting=6, groups=[2, 1])
    actors = [Actor(_reader(r), services.cancel_registration) for r in holders for _click in range(2)]
    return session_id, holders, waiting, _run(app, actors, concurrently)


@MODES
def test_a_double_click_on_cancel_registration_cancels_once(app, db, full_workshop, concurrently):  # type: ignore[no-untyped-def]
    session_id, holders, waiting, errors = _double_cancel_registration(app, db, full_workshop, concurrently)
    assert errors == []
    assert _drift(db) == []
    assert _holders(db, session_id) == waiting[:3]
    assert [_emails(db, MessageKind.REGISTRATION_CANCELLED, r) for r in holders] == [1] * 3
    assert [_emails(db, MessageKind.PROMOTED, r) for r in waiting] == [1] * 3 + [0] * 3


def test_without_the_guard_a_double_cancel_of_a_registration_overbooks(app, db, full_workshop, unguarded):  # type: ignore[no-untyped-def]
    unguarded()
    session_id, holders, waiting, errors = _double_cancel_registration(app, db, full_workshop, concurrently=False)
    assert errors == []
    assert len(_holders(db, session_id)) == 6 > _capacity(db, session_id)
    assert [_emails(db, MessageKind.REGISTRATION_CANCELLED, r) for r in holders] == [2] * 3


# --- a double-submitted change on the manage page --------------------------------------------------------


def _double_change(app, db, make_event, make_session, register, concurrently: bool, add_same: bool = False):  # type: ignore[no-untyped-def]
    event = make_event()
    workshop = make_session(event, start_hour=9, capacity=3)
    other = make_session(event, start_hour=13, capacity=50)
    holders = [register(event, workshop).id for _ in range(3)]
    waiting = [register(event, workshop).id for _ in range(6)]
    workshop_id, other_id = workshop.id, other.id
    _fresh(db)
    # Drop the workshop; or keep it and add the other session.
    wanted = [workshop_id, other_id] if add_same else []
    actors = [
        Actor(
            _reader(r), lambda registration: services.change_choices(registration, services.Choices(session_ids=wanted))
        )
        for r in holders
        for _click in range(2)
    ]
    return workshop_id, other_id, holders, waiting, _run(app, actors, concurrently)


@MODES
def test_a_double_submitted_change_is_applied_once(app, db, make_event, make_session, register, concurrently):  # type: ignore[no-untyped-def]
    workshop_id, _other, holders, waiting, errors = _double_change(
        app, db, make_event, make_session, register, concurrently
    )
    assert errors == []
    assert _drift(db) == []
    assert _holders(db, workshop_id) == waiting[:3]
    assert [_emails(db, MessageKind.CHANGES_CONFIRMED, r) for r in holders] == [1] * 3


def test_without_the_guard_a_double_submitted_change_overbooks(app, db, make_event, make_session, register, unguarded):  # type: ignore[no-untyped-def]
    unguarded()
    workshop_id, _other, holders, _waiting, errors = _double_change(
        app, db, make_event, make_session, register, concurrently=False
    )
    assert errors == []
    assert len(_holders(db, workshop_id)) == 6 > _capacity(db, workshop_id)  # six confirmed for three places
    assert [_emails(db, MessageKind.CHANGES_CONFIRMED, r) for r in holders] == [2] * 3


@MODES
def test_two_changes_adding_the_same_session_book_it_once(app, db, make_event, make_session, register, concurrently):  # type: ignore[no-untyped-def]
    _workshop, other_id, holders, _waiting, errors = _double_change(
        app, db, make_event, make_session, register, concurrently, add_same=True
    )
    assert errors == []
    assert _holders(db, other_id) == holders
    assert _drift(db) == []


def test_without_the_guard_two_changes_adding_the_same_session_fail(
    app, db, make_event, make_session, register, unguarded
):  # type: ignore[no-untyped-def]
    unguarded()
    _workshop, other_id, holders, _waiting, errors = _double_change(
        app, db, make_event, make_session, register, concurrently=False, add_same=True
    )
    # The second submission of each person hits the unique index on live bookings: a 500 in the page.
    assert len(errors) == 3 and all("uq_booking" in str(e) or "UNIQUE" in str(e) for e in errors), errors


# --- a waiting person leaves at the moment of their promotion -------------------------------------------


def _leave_while_promoted(app, db, full_workshop, concurrently: bool):  # type: ignore[no-untyped-def]
    session_id, holders, waiting = full_workshop(places=1, waiting=2)
    leaving, next_in_line = waiting
    booking_of = {
        r: db.session.execute(select(Booking.id).where(Booking.registration_id == r)).scalar_one()
        for r in (holders[0], leaving)
    }
    actors = [
        Actor(_reader(holders[0]), lambda registration: services.cancel_booking(registration, booking_of[holders[0]])),
        Actor(_reader(leaving), lambda registration: services.cancel_booking(registration, booking_of[leaving])),
    ]
    return session_id, leaving, next_in_line, _run(app, actors, concurrently)


@MODES
def test_a_waiting_person_who_leaves_during_a_promotion_stays_cancelled(app, db, full_workshop, concurrently):  # type: ignore[no-untyped-def]
    for _round in range(3 if concurrently else 1):
        session_id, leaving, next_in_line, errors = _leave_while_promoted(app, db, full_workshop, concurrently)
        assert errors == []
        assert _drift(db) == []
        assert _holders(db, session_id) == [next_in_line]
        assert (
            db.session.execute(select(Booking.status).where(Booking.registration_id == leaving)).scalar_one()
            == BookingStatus.CANCELLED
        )
        assert _emails(db, MessageKind.BOOKING_CANCELLED, leaving) == 1
        assert _emails(db, MessageKind.PROMOTED, next_in_line) == 1


def test_without_the_guard_a_promotion_loses_the_waiting_persons_cancel(app, db, full_workshop, unguarded):  # type: ignore[no-untyped-def]
    unguarded()
    session_id, leaving, next_in_line, errors = _leave_while_promoted(app, db, full_workshop, concurrently=False)
    assert errors == []
    # The person who left was promoted and keeps a counted place the rows no longer show,
    # or holds it although they cancelled; the next person waits in vain.
    assert _holders(db, session_id) != [next_in_line]
    assert _drift(db) != []


# --- erasure racing a cancel ----------------------------------------------------------------------------


def _erase_while_cancelling(app, db, full_workshop, concurrently: bool):  # type: ignore[no-untyped-def]
    session_id, holders, waiting = full_workshop(places=2, waiting=4, groups=[1, 1])
    actors = []
    for registration_id in holders:
        actors.append(Actor(_reader(registration_id), services.cancel_registration))
        actors.append(Actor(_reader(registration_id), gdpr.erase_registration))
    return session_id, holders, waiting, _run(app, actors, concurrently)


@MODES
def test_erasure_racing_a_cancel_frees_each_place_once(app, db, full_workshop, concurrently):  # type: ignore[no-untyped-def]
    session_id, holders, waiting, errors = _erase_while_cancelling(app, db, full_workshop, concurrently)
    # A cancel that comes after the erasure is refused (the data is gone); nothing else fails.
    assert all(isinstance(e, services.NotCancellable) for e in errors), errors
    assert _drift(db) == []
    assert _holders(db, session_id) == waiting[:2]
    assert [_emails(db, MessageKind.PROMOTED, r) for r in waiting] == [1, 1, 0, 0]
    _fresh(db)
    assert all(db.session.get(Registration, r).anonymised_at is not None for r in holders)


def test_without_the_guard_erasure_racing_a_cancel_oversells(app, db, full_workshop, unguarded):  # type: ignore[no-untyped-def]
    unguarded()
    session_id, _holders_, _waiting, _errors = _erase_while_cancelling(app, db, full_workshop, concurrently=False)
    assert len(_holders(db, session_id)) == 4 > _capacity(db, session_id)


# --- a participant's change racing an organiser's move to another group ---------------------------------


def _change_while_moved(app, db, make_event, make_session, register, concurrently: bool):  # type: ignore[no-untyped-def]
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[2, 2])
    person = register(event, workshop)
    neighbour = register(event, workshop)
    booking = person.bookings[0]
    first, second = sorted(g.id for g in workshop.groups)
    if booking.group_id != first:  # the mover takes the person from the first group to the second
        first, second = second, first
    ids = event.id, person.id, booking.id, workshop.id, neighbour.id
    _fresh(db)
    event_id, person_id, booking_id, workshop_id, neighbour_id = ids
    actors = [
        Actor(lambda: None, lambda _seen: admin_services.move_to_group(event_id, person_id, booking_id, second)),
        Actor(_reader(person_id), lambda registration: services.change_choices(registration, services.Choices())),
    ]
    return workshop_id, (first, second), _run(app, actors, concurrently)


@MODES
def test_a_change_racing_an_organisers_move_releases_the_right_group(
    app, db, make_event, make_session, register, concurrently
):  # type: ignore[no-untyped-def]
    workshop_id, _groups, errors = _change_while_moved(app, db, make_event, make_session, register, concurrently)
    # The move may come after the cancel and find the booking gone: the organiser is told.
    assert all(isinstance(e, WrongBookingState) for e in errors), errors
    assert _drift(db) == []
    assert len(_holders(db, workshop_id)) == 1


def test_without_the_guard_a_change_after_a_move_releases_the_old_group(
    app, db, make_event, make_session, register, unguarded
):  # type: ignore[no-untyped-def]
    unguarded()
    workshop_id, (_first, second), errors = _change_while_moved(
        app, db, make_event, make_session, register, concurrently=False
    )
    assert errors == []
    drift = {(kind, row_id) for kind, row_id, _taken, _counted in _drift(db)}
    # The cancel gave back a place of the group the person had left (already empty): the place
    # held in the new group is never given back.
    assert ("group", second) in drift


# --- the pages: the second click is answered like the first -------------------------------------------


@pytest.mark.parametrize("whole", [False, True], ids=["place", "registration"])
def test_the_second_click_on_cancel_gets_the_first_ones_page(client, db, make_event, make_session, participant, whole):  # type: ignore[no-untyped-def]
    from tests.conftest import csrf_token

    event = make_event()
    session = make_session(event, capacity=3)
    result = services.register(event, participant(), services.Choices(session_ids=[session.id]))
    registration_id, booking_id = result.registration.id, result.registration.bookings[0].id
    path = f"/r/{result.token}/cancel" if whole else f"/r/{result.token}/bookings/{booking_id}/cancel"
    token = csrf_token(client.get(path).text)
    answers, pages = [], []
    for _click in range(2):  # the second comes back from the browser after the first was done
        answers.append(client.post(path, data={"csrf_token": token}))
        pages.append(client.get(answers[-1].headers["Location"]).text if answers[-1].status_code == 303 else "")
    assert [a.status_code for a in answers] == [303, 303]
    done = "Zgłoszenie zostało anulowane." if whole else "Miejsce zostało anulowane."
    assert [page.count(done) for page in pages] == [1, 1]
    kind = MessageKind.REGISTRATION_CANCELLED if whole else MessageKind.BOOKING_CANCELLED
    _fresh(db)
    assert _emails(db, kind, registration_id) == 1
    assert db.session.get(Session, session.id).taken == 0
