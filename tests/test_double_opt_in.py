"""Double opt-in (issue 10): places held until the participant confirms by email."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.events.models import Group, ParticipantCategory, Session
from app.extensions import db as _db
from app.registration import holds, receipts, services
from app.registration.errors import ConfirmationExpired
from app.registration.models import (
    Booking,
    BookingStatus,
    Registration,
    RegistrationStatus,
)
from tests.conftest import NOW, csrf_token


@pytest.fixture
def opt_in_event(make_event):  # type: ignore[no-untyped-def]
    """Return a factory of events that require email confirmation within 24 hours."""

    def factory(**overrides):  # type: ignore[no-untyped-def]
        values = {
            "requires_email_confirmation": True,
            "confirmation_hold_hours": 24,
            "registration_opens_at": NOW - timedelta(days=5),
        }
        values.update(overrides)
        return make_event(**values)

    return factory


def _register(event, participant, *sessions, now=None, **person):  # type: ignore[no-untyped-def]
    """Register through the service; return (registration id, token)."""
    result = services.register(
        event, participant(**person), services.Choices(session_ids=[s.id for s in sessions]), now=now
    )
    return result.registration.id, result.token


def _reg(db, registration_id: int) -> Registration:
    """Load a registration afresh."""
    db.session.rollback()
    return db.session.get(Registration, registration_id, populate_existing=True)


def _statuses(db, session_id: int) -> list[tuple[int, BookingStatus]]:
    """Return (registration id, status) of the session's bookings in id order."""
    db.session.rollback()
    return [
        (b.registration_id, b.status)
        for b in db.session.execute(
            select(Booking).where(Booking.session_id == session_id).order_by(Booking.id)
        ).scalars()
    ]


def test_registration_holds_places_and_the_email_carries_a_confirmation_link(
    db, opt_in_event, make_session, participant, outbox
):
    event = opt_in_event()
    session = make_session(event, capacity=2)
    registration_id, token = _register(event, participant, session)
    registration = _reg(db, registration_id)
    assert registration.is_awaiting_confirmation
    assert registration.confirmation_expires_at == pytest.approx(
        registration.created_at + timedelta(hours=24), abs=timedelta(seconds=1)
    )
    assert db.session.get(Session, session.id).taken == 1  # a hold counts like a confirmed place
    [message] = outbox.messages(kind="registration_received")
    assert f"/r/{token}/confirm" in message.body_text
    assert f"/r/{token}/confirm" in message.body_html


def test_get_shows_a_button_and_changes_nothing_post_confirms(client, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    session = make_session(event, capacity=2)
    registration_id, token = _register(event, participant, session)
    page = client.get(f"/r/{token}/confirm")
    assert page.status_code == 200
    assert 'type="submit"' in page.text and '<form method="post">' in page.text
    assert _reg(db, registration_id).confirmed_email_at is None

    response = client.post(f"/r/{token}/confirm", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    registration = _reg(db, registration_id)
    assert registration.confirmed_email_at is not None
    assert not registration.is_awaiting_confirmation
    assert db.session.get(Session, session.id).taken == 1
    # Confirming again is harmless.
    assert holds.confirm_registration(registration) is False


def test_post_without_csrf_token_does_not_confirm(client, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    registration_id, token = _register(event, participant, make_session(event, capacity=2))
    client.post(f"/r/{token}/confirm", data={})
    assert _reg(db, registration_id).confirmed_email_at is None


def test_manage_and_success_pages_ask_to_confirm_until_when(client, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    registration_id, token = _register(event, participant, make_session(event, capacity=2))
    manage = client.get(f"/r/{token}")
    assert 'id="awaiting-confirmation"' in manage.text
    assert f"/r/{token}/confirm" in manage.text
    with client.session_transaction() as flask_session:
        receipts.keep_receipt(flask_session, event.slug, token, utcnow())
    success = client.get(f"/events/{event.slug}/registered")
    assert 'id="awaiting-confirmation"' in success.text
    holds.confirm_registration(_reg(db, registration_id))
    assert 'id="awaiting-confirmation"' not in client.get(f"/r/{token}").text


def test_expiry_cancels_frees_the_place_and_promotes_the_waiting_list_in_order(
    db, opt_in_event, make_session, participant, outbox
):
    event = opt_in_event()
    session = make_session(event, capacity=1)
    holder, _ = _register(event, participant, session, email="holder@example.com")
    first, _ = _register(event, participant, session, email="first@example.com")
    second, _ = _register(event, participant, session, email="second@example.com")
    for waiting in (first, second):  # they confirmed their addresses; they still wait for a place
        holds.confirm_registration(_reg(db, waiting))

    assert holds.expire_holds(utcnow() + timedelta(hours=1)) == 0  # not yet
    assert holds.expire_holds(utcnow() + timedelta(hours=25)) == 1

    assert _reg(db, holder).status == RegistrationStatus.CANCELLED
    assert _statuses(db, session.id) == [
        (holder, BookingStatus.CANCELLED),
        (first, BookingStatus.CONFIRMED),
        (second, BookingStatus.WAITLISTED),
    ]
    assert db.session.get(Session, session.id).taken == 1
    [promoted] = outbox.messages(kind="promoted")
    assert promoted.recipient_email == "first@example.com"
    [cancelled] = outbox.messages(kind="registration_cancelled")
    assert cancelled.recipient_email == "holder@example.com"
    assert "not confirmed by email in time" in cancelled.body_text or "nie został" in cancelled.body_text
    # A confirmation after the time is refused.
    with pytest.raises(ConfirmationExpired):
        holds.confirm_registration(_reg(db, holder))


def test_late_confirmation_before_the_worker_runs_is_refused(db, opt_in_event, make_session, participant):
    event = opt_in_event()
    registration_id, _ = _register(
        event, participant, make_session(event, capacity=1), now=utcnow() - timedelta(hours=25)
    )
    with pytest.raises(ConfirmationExpired):
        holds.confirm_registration(_reg(db, registration_id))
    assert holds.expire_holds() == 1


def test_confirmed_registration_never_expires(db, opt_in_event, make_session, participant):
    event = opt_in_event()
    session = make_session(event, capacity=1)
    registration_id, _ = _register(event, participant, session)
    holds.confirm_registration(_reg(db, registration_id))
    assert holds.expire_holds(utcnow() + timedelta(days=10)) == 0
    assert _reg(db, registration_id).status == RegistrationStatus.ACTIVE


def test_availability_json_shows_held_places_separately(client, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    session = make_session(event, groups=[2, 2])
    confirmed, _ = _register(event, participant, session)
    _register(event, participant, session)
    holds.confirm_registration(_reg(db, confirmed))
    data = client.get(f"/api/events/{event.slug}").get_json()
    [row] = data["sessions"]
    assert (row["capacity"], row["confirmed"], row["held"], row["places_left"]) == (4, 1, 1, 2)
    assert sum(g["held"] for g in row["groups"]) == 1
    assert sum(g["confirmed"] for g in row["groups"]) == 1
    assert sum(g["places_left"] for g in row["groups"]) == 2


def test_setting_off_changes_nothing(client, db, make_event, make_session, participant, outbox, runner):
    event = make_event()
    assert event.requires_email_confirmation is False and event.confirmation_hold_hours == 24
    session = make_session(event, capacity=2)
    registration_id, token = _register(event, participant, session)
    registration = _reg(db, registration_id)
    assert registration.confirmation_expires_at is None and not registration.is_awaiting_confirmation
    [message] = outbox.messages(kind="registration_received")
    assert "/confirm" not in message.body_text
    assert 'id="awaiting-confirmation"' not in client.get(f"/r/{token}").text
    assert holds.expire_holds(utcnow() + timedelta(days=365)) == 0
    [row] = client.get(f"/api/events/{event.slug}").get_json()["sessions"]
    assert (row["confirmed"], row["held"], row["places_left"]) == (1, 0, 1)
    assert _reg(db, registration_id).status == RegistrationStatus.ACTIVE


def test_cli_holds_expire_prints_a_count(runner, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    session = make_session(event, capacity=3)
    _register(event, participant, session, now=utcnow() - timedelta(hours=25))
    _register(event, participant, session, now=utcnow() - timedelta(hours=26))
    _register(event, participant, session)
    result = runner.invoke(args=["holds", "expire"])
    assert result.exit_code == 0, result.output
    assert "Expired 2 unconfirmed registrations." in result.output
    assert "Expired 0" in runner.invoke(args=["holds", "expire"]).output


def test_worker_loop_expires_holds(app, db, opt_in_event, make_session, participant):
    from app.notifications.worker import run_due_tasks

    event = opt_in_event()
    registration_id, _ = _register(
        event, participant, make_session(event, capacity=1), now=utcnow() - timedelta(hours=25)
    )
    assert "expire unconfirmed holds" in run_due_tasks()
    assert _reg(db, registration_id).status == RegistrationStatus.CANCELLED


def test_no_overbooking_while_holds_confirmations_and_expiry_race(app, db, opt_in_event, make_session, participant):
    event = opt_in_event()
    session = make_session(event, groups=[2, 2])
    past = utcnow() - timedelta(hours=25)
    expired = [_register(event, participant, session, now=past)[0] for _ in range(2)]
    fresh = [_register(event, participant, session)[0] for _ in range(2)]
    assert db.session.get(Session, session.id).taken == 4  # full: the rest must wait for the expiry
    event_id = event.id

    jobs: list = []
    for i in range(8):
        jobs.append(("register", f"racer{i}@example.com"))
    for registration_id in expired + fresh:
        jobs.append(("confirm", registration_id))
    jobs.append(("expire", None))
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    outcomes: dict = {}

    def worker(kind: str, arg) -> None:  # type: ignore[no-untyped-def]
        with app.app_context():
            try:
                from app.events.models import Event

                event = _db.session.get(Event, event_id)
                registration = _db.session.get(Registration, arg) if kind == "confirm" else None
                barrier.wait(timeout=30)
                if kind == "register":
                    person = services.ParticipantData(
                        first_name="Jan", last_name=arg, email=arg, category=ParticipantCategory.MAYOR
                    )
                    services.register(event, person, services.Choices(session_ids=[session.id]))
                elif kind == "confirm":
                    try:
                        outcomes[arg] = holds.confirm_registration(registration)
                    except ConfirmationExpired:
                        outcomes[arg] = "expired"
                else:
                    outcomes["expired"] = holds.expire_holds()
            except BaseException as error:  # noqa: BLE001 - collected for the assertion
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=worker, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == []
    assert outcomes["expired"] == 2
    assert all(outcomes[r] == "expired" for r in expired)
    assert all(outcomes[r] is True for r in fresh)

    db.session.rollback()
    fresh_session = db.session.get(Session, session.id, populate_existing=True)
    confirmed_rows = db.session.execute(
        select(func.count())
        .select_from(Booking)
        .where(Booking.session_id == session.id, Booking.status == BookingStatus.CONFIRMED)
    ).scalar_one()
    assert fresh_session.taken == confirmed_rows <= fresh_session.capacity
    assert confirmed_rows == 4  # the two freed places went to the waiting racers
    for group in db.session.execute(select(Group).where(Group.session_id == session.id)).scalars():
        db.session.refresh(group)
        rows = db.session.execute(
            select(func.count())
            .select_from(Booking)
            .where(Booking.group_id == group.id, Booking.status == BookingStatus.CONFIRMED)
        ).scalar_one()
        assert group.taken == rows <= group.capacity
    for registration_id in expired:
        assert _reg(db, registration_id).status == RegistrationStatus.CANCELLED
    for registration_id in fresh:
        assert _reg(db, registration_id).confirmed_email_at is not None


def _confirm_just_before_expiry(monkeypatch, db, registration_id: int) -> None:  # type: ignore[no-untyped-def]
    """Make a confirmation commit after expire_holds listed the registration but before it cancels it."""
    original = holds._expire_one

    def confirm_then_expire(rid, now):  # type: ignore[no-untyped-def]
        holds.confirm_registration(db.session.get(Registration, rid))
        return original(rid, now)

    monkeypatch.setattr(holds, "_expire_one", confirm_then_expire)


def test_confirmation_committed_during_expiry_wins(db, opt_in_event, make_session, participant, monkeypatch):
    event = opt_in_event()
    registration_id, _ = _register(event, participant, make_session(event, capacity=1))
    _confirm_just_before_expiry(monkeypatch, db, registration_id)
    assert holds.expire_holds(utcnow() + timedelta(hours=25)) == 0
    registration = _reg(db, registration_id)
    assert registration.status == RegistrationStatus.ACTIVE and registration.confirmed_email_at is not None


def test_twin_without_the_guard_the_confirmed_registration_is_lost(
    db, opt_in_event, make_session, participant, monkeypatch
):
    """The race is real: without re-checking the row in the UPDATE, a fresh confirmation is cancelled."""
    event = opt_in_event()
    registration_id, _ = _register(event, participant, make_session(event, capacity=1))
    _confirm_just_before_expiry(monkeypatch, db, registration_id)
    monkeypatch.setattr(holds, "_still_due", lambda now: [])
    assert holds.expire_holds(utcnow() + timedelta(hours=25)) == 1
    registration = _reg(db, registration_id)
    assert registration.status == RegistrationStatus.CANCELLED and registration.confirmed_email_at is not None


def test_admin_event_form_edits_the_setting(client, db, make_event, as_organiser):
    from app.events.models import Event
    from tests.conftest import submit
    from tests.test_admin_events import _event_form

    earlier = make_event()
    series_id = earlier.series_id
    as_organiser("organiser", events=[earlier])
    page = client.get("/admin/events/new")
    assert 'name="requires_email_confirmation"' in page.text and 'name="confirmation_hold_hours"' in page.text
    data = _event_form(series_id, requires_email_confirmation="y", confirmation_hold_hours="48")
    assert submit(client, "/admin/events/new", data).status_code == 303
    event = db.session.execute(select(Event).where(Event.slug == "dialog-lodz")).scalar_one()
    assert event.requires_email_confirmation is True and event.confirmation_hold_hours == 48
    bad = submit(client, "/admin/events/new", _event_form(series_id, slug="other", confirmation_hold_hours="0"))
    assert bad.status_code == 422
