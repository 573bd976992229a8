"""After the allocation is published, what is left of the ranked workshops goes first come, first served."""

from __future__ import annotations

import threading

import pytest
from flask_babel import force_locale
from sqlalchemy import select, text

from app.events.models import BookingMode, Event, Group, ParticipantCategory, Session
from app.events.services import ranked_blocks
from app.extensions import db as _db
from app.ranking import services as ranking
from app.registration import capacity, services
from app.registration.errors import InvalidChoice, RankingClosed
from app.registration.models import Booking, BookingStatus, Registration
from tests.conftest import FORM_DEFAULTS, assert_counters_consistent, csrf_token, submit

LATE = 20


def _workshops(make_session, event, *capacities, **extra):  # type: ignore[no-untyped-def]
    """Add ranked workshops at the same time, titled A, B, C…; return them."""
    return [
        make_session(
            event,
            start_hour=10,
            capacity=c,
            booking_mode=BookingMode.RANKED,
            title_pl=f"Warsztat {chr(65 + i)}",
            title_en=f"Workshop {chr(65 + i)}",
            **extra,
        )
        for i, c in enumerate(capacities)
    ]


def _key(event) -> str:  # type: ignore[no-untyped-def]
    return ranked_blocks(list(event.sessions))[0].key


def _rank(event, participant, *sessions, **person):  # type: ignore[no-untyped-def]
    """Register someone with these ranked choices (best first); return (registration id, token)."""
    result = services.register(
        event, participant(language="en", **person), services.Choices(rankings={_key(event): [s.id for s in sessions]})
    )
    return result.registration.id, result.token


def _publish(event, seed: int = 1):  # type: ignore[no-untyped-def]
    return ranking.publish(event, ranking.preview(event, ranking.Options(seed=seed)).id)


def _english(error: BaseException) -> str:
    """Return a refusal's message in English."""
    with force_locale("en"):
        return str(error.message)  # type: ignore[attr-defined]


def _bookings(db, registration_id: int) -> list[Booking]:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.get(Registration, registration_id).live_bookings


def _published_event(make_event, make_session, participant, free_in_a: int = 1):  # type: ignore[no-untyped-def]
    """A published allocation: A (2 places) and B (1 place) wanted by two people each; ``free_in_a`` left in A."""
    event = make_event()
    a, b = _workshops(make_session, event, 1 + free_in_a, 1)
    _rank(event, participant, a, b)
    _rank(event, participant, b, a)
    _publish(event)
    return event, a, b


def test_after_publication_a_new_registration_gets_a_free_ranked_place(
    db, make_event, make_session, participant, outbox
):
    event, a, b = _published_event(make_event, make_session, participant)
    result = services.register(event, participant(language="en"), services.Choices(rankings={_key(event): [a.id]}))
    (booking,) = _bookings(db, result.registration.id)
    assert (booking.session_id, booking.status, booking.rank) == (a.id, BookingStatus.CONFIRMED, None)
    assert db.session.get(Session, a.id).taken == 2
    assert db.session.get(Registration, result.registration.id).preferences == []  # nothing to allocate any more
    received = outbox.messages(kind="registration_received")[-1]
    assert "Workshop A" in received.body_text


def test_after_publication_a_full_ranked_workshop_puts_them_on_its_waiting_list(
    db, make_event, make_session, participant
):
    event, a, b = _published_event(make_event, make_session, participant, free_in_a=0)
    result = services.register(event, participant(language="en"), services.Choices(rankings={_key(event): [b.id]}))
    (booking,) = _bookings(db, result.registration.id)
    assert (booking.session_id, booking.status) == (b.id, BookingStatus.WAITLISTED)
    assert db.session.get(Session, b.id).taken == 1


def test_first_come_places_go_to_the_emptiest_group(db, make_event, make_session, participant):
    event = make_event()
    (a,) = _workshops(make_session, event, None, groups=[3, 3])
    _rank(event, participant, a)
    _publish(event)
    for _ in range(3):
        services.register(event, participant(), services.Choices(rankings={_key(event): [a.id]}))
    db.session.rollback()
    assert sorted(g.taken for g in db.session.get(Session, a.id).groups) == [2, 2]


def test_the_category_rules_of_ranked_workshops_still_hold(db, make_event, make_session, participant):
    event = make_event()
    (open_to_all,) = _workshops(make_session, event, 3)
    (mayors,) = _workshops(make_session, event, 3, eligible_categories=["mayor"])
    _rank(event, participant, open_to_all)
    _publish(event)
    with pytest.raises(InvalidChoice) as refused:
        services.register(event, participant(category="ngo"), services.Choices(rankings={_key(event): [mayors.id]}))
    assert "only to some participant categories" in _english(refused.value)
    assert db.session.get(Session, mayors.id).taken == 0


def test_a_form_from_before_the_publication_is_asked_for_one_workshop(db, make_event, make_session, participant):
    event, a, b = _published_event(make_event, make_session, participant)
    with pytest.raises(InvalidChoice) as refused:
        services.register(event, participant(), services.Choices(rankings={_key(event): [a.id, b.id]}))
    assert "Choose one workshop at this time." in _english(refused.value)
    assert not isinstance(refused.value, RankingClosed)


def test_publication_landing_mid_request_is_not_called_a_closed_ranking(
    db, make_event, make_session, participant, monkeypatch
):
    # The form was checked as before publication, and the allocation was published before the
    # write: someone who never ranked is asked for one workshop, not told their ranking is closed.
    event, a, b = _published_event(make_event, make_session, participant)
    monkeypatch.setattr(services, "allocation_published", lambda event_id: False)
    with pytest.raises(InvalidChoice) as refused:
        services.register(event, participant(), services.Choices(rankings={_key(event): [a.id, b.id]}))
    assert not isinstance(refused.value, RankingClosed)
    assert "Choose one workshop at this time." in _english(refused.value)


def test_the_public_form_offers_the_remaining_places_first_come(client, db, make_event, make_session, participant):
    event, a, b = _published_event(make_event, make_session, participant)
    page = client.get(f"/events/{event.slug}/register?lang=en")
    assert "The allocation has been published: remaining places are given first come, first served." in page.text
    assert "rank your choices" not in page.text
    key = _key(event)
    assert f'name="rank_{key}_1"' in page.text and f'name="rank_{key}_2"' not in page.text
    response = submit(
        client,
        f"/events/{event.slug}/register?lang=en",
        {**FORM_DEFAULTS, "email": "late@example.com", f"rank_{key}_1": a.id},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    db.session.rollback()
    late = db.session.execute(select(Registration).where(Registration.email == "late@example.com")).scalar_one()
    assert [(bk.session_id, bk.status) for bk in late.live_bookings] == [(a.id, BookingStatus.CONFIRMED)]
    # The old form (three ranks) gets a clear answer, never "your ranking can no longer be changed".
    response = client.post(
        f"/events/{event.slug}/register?lang=en",
        data={
            **FORM_DEFAULTS,
            "email": "stale@example.com",
            f"rank_{key}_1": b.id,
            f"rank_{key}_2": a.id,
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.status_code == 422
    assert "Choose one workshop at this time." in response.get_data(as_text=True)
    assert "can no longer be changed" not in response.get_data(as_text=True)


def test_people_registered_before_take_what_is_left_from_their_page(client, db, make_event, make_session, participant):
    event = make_event()
    a, b, c = _workshops(make_session, event, 1, 1, 2)
    people = [_rank(event, participant, a, b) for _ in range(3)]  # nobody ranked C
    _publish(event)
    ((left_out, token),) = [
        p for p in people if {bk.status for bk in _bookings(db, p[0])} == {BookingStatus.WAITLISTED}
    ]
    winner = next(p[0] for p in people if p[0] != left_out)
    key = _key(event)
    page = client.get(f"/r/{token}?lang=en")
    assert "remaining places are given first come, first served" in page.text
    response = client.post(f"/r/{token}?lang=en", data={"csrf_token": csrf_token(page.text), f"rank_{key}_1": c.id})
    assert response.status_code == 303, response.get_data(as_text=True)
    statuses = {bk.session_id: bk.status for bk in _bookings(db, left_out)}
    assert statuses[c.id] == BookingStatus.CONFIRMED
    # With a place at this time, no second one: cancel it first.
    registration = db.session.get(Registration, winner)
    with pytest.raises(InvalidChoice) as refused:
        services.change_choices(registration, services.Choices(rankings={key: [c.id]}))
    assert "Cancel it first" in _english(refused.value)
    page = client.get(f"/r/{token}?lang=en").text
    assert "You already have a place in a workshop at this time." in page and f'name="rank_{key}_1"' not in page
    # A form sent again (a double-click) books nothing twice.
    assert (
        services.change_choices(db.session.get(Registration, left_out), services.Choices(rankings={key: [c.id]})).added
        == []
    )
    assert db.session.get(Session, c.id).taken == 1


def test_a_freed_place_goes_to_the_allocation_waiting_list_before_late_comers(
    db, make_event, make_session, participant
):
    event = make_event()
    (a,) = _workshops(make_session, event, 1)
    holder, _ = _rank(event, participant, a)
    ranked_waiter, _ = _rank(event, participant, a)
    _publish(event)
    late = services.register(event, participant(), services.Choices(rankings={_key(event): [a.id]})).registration.id
    assert [bk.status for bk in _bookings(db, late)] == [BookingStatus.WAITLISTED]
    confirmed = next(r for r in (holder, ranked_waiter) if _bookings(db, r)[0].status == BookingStatus.CONFIRMED)
    waiting = ranked_waiter if confirmed == holder else holder
    services.cancel_booking(db.session.get(Registration, confirmed), _bookings(db, confirmed)[0].id)
    assert _bookings(db, waiting)[0].status == BookingStatus.OFFERED
    assert _bookings(db, late)[0].status == BookingStatus.WAITLISTED


def _race(app, event_id: int, session_id: int, precheck=None) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """LATE people register at once for the ranked workshop, first come; return the errors raised."""
    barrier = threading.Barrier(LATE)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        with app.app_context():
            try:
                event = _db.session.get(Event, event_id)
                key = ranked_blocks(list(event.sessions))[0].key
                person = services.ParticipantData(
                    first_name="Jan",
                    last_name=f"Późny{i}",
                    email=f"late{i}@example.com",
                    category=ParticipantCategory.MAYOR,
                )
                if precheck is not None:
                    precheck(session_id)
                barrier.wait(timeout=30)
                services.register(event, person, services.Choices(rankings={key: [session_id]}))
            except BaseException as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(LATE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return errors


def _published_with_five_left(db, make_event, make_session, participant):  # type: ignore[no-untyped-def]
    """A ranked workshop of two groups of 4, three places given by the allocation: five left."""
    event = make_event()
    (a,) = _workshops(make_session, event, None, groups=[4, 4])
    for _ in range(3):
        _rank(event, participant, a)
    _publish(event)
    db.session.rollback()
    assert db.session.get(Session, a.id).taken == 3
    return event, a


def test_late_registrations_racing_for_the_last_ranked_places_never_overbook(
    app, db, make_event, make_session, participant
):
    event, a = _published_with_five_left(db, make_event, make_session, participant)
    assert _race(app, event.id, a.id) == []
    db.session.rollback()
    late = (
        db.session.execute(
            select(Booking.status).where(Booking.session_id == a.id, Booking.rank.is_(None)).order_by(Booking.id)
        )
        .scalars()
        .all()
    )
    assert late == [BookingStatus.CONFIRMED] * 5 + [BookingStatus.WAITLISTED] * (LATE - 5)
    session = db.session.get(Session, a.id)
    assert session.taken == session.capacity == 8
    assert [g.taken for g in session.groups] == [4, 4]
    assert_counters_consistent()


_seen = threading.local()


def _naive_precheck(session_id: int) -> None:
    """Read "places left" before the write transaction, as a naive form check would."""
    with _db.engine.connect() as connection:
        _seen.session = connection.execute(
            text("SELECT taken, capacity FROM session WHERE id = :id"), {"id": session_id}
        ).one()
        _seen.group = connection.execute(
            text("SELECT id, taken FROM session_group WHERE session_id = :id AND taken < capacity ORDER BY id LIMIT 1"),
            {"id": session_id},
        ).one_or_none()


def _naive_take_place(session_id: int):  # type: ignore[no-untyped-def]
    """Check-then-write without the conditional UPDATE: the bug the booking core's guard prevents."""
    taken, cap = _seen.session
    if cap is not None and taken >= cap:
        raise capacity.Full(session_id)
    _db.session.execute(text("UPDATE session SET taken = :t WHERE id = :id"), {"t": taken + 1, "id": session_id})
    if _seen.group is None:
        return None
    _db.session.execute(
        text("UPDATE session_group SET taken = :t WHERE id = :id"), {"t": _seen.group[1] + 1, "id": _seen.group[0]}
    )
    return _seen.group[0]


def test_without_the_guard_the_same_race_overbooks(app, db, make_event, make_session, participant, monkeypatch):
    """The twin: with the conditional UPDATE replaced by check-then-write, the race is visible."""
    event, a = _published_with_five_left(db, make_event, make_session, participant)
    monkeypatch.setattr(capacity, "take_place", _naive_take_place)
    assert _race(app, event.id, a.id, precheck=_naive_precheck) == []
    db.session.rollback()
    confirmed = (
        db.session.execute(select(Booking).where(Booking.session_id == a.id, Booking.status == BookingStatus.CONFIRMED))
        .scalars()
        .all()
    )
    assert len(confirmed) > 8  # more people hold a place than the workshop has
    assert db.session.get(Session, a.id).taken < len(confirmed)
    assert all(g.taken <= g.capacity for g in db.session.execute(select(Group)).scalars())
