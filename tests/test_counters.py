"""The counter audit: sessions' and groups' ``taken`` against the bookings that hold places."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.events.models import Event, Group, ParticipantCategory, Session
from app.extensions import db as _db
from app.notifications.worker import run_due_tasks, tasks
from app.registration import capacity, counters, services
from app.registration.counters import CounterKind, RepairOutcome, audit_counters, repair_counters
from app.registration.models import Booking, BookingStatus
from tests.conftest import assert_counters_consistent


@pytest.fixture
def programme(db, make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a workshop of two groups (3 + 3), a plenary of 2 places and an unlimited session, booked.

    Three people book the workshop and the plenary (the third waits for the plenary), one
    books the unlimited session only, and one of the workshop places is cancelled.
    """
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[3, 3])
    plenary = make_session(event, start_hour=11, capacity=2)
    open_talk = make_session(event, start_hour=13)
    people = [register(event, workshop, plenary) for _ in range(3)]
    register(event, open_talk)
    services.cancel_booking(people[0], next(b.id for b in people[0].bookings if b.session_id == workshop.id))
    db.session.rollback()
    return event, workshop, plenary, open_talk


def test_a_consistent_database_has_no_drift(programme, runner):
    audit = audit_counters()
    assert audit.is_consistent and audit.drifts == []
    assert (audit.sessions, audit.groups) == (3, 2)
    result = runner.invoke(args=["check", "counters"])
    assert result.exit_code == 0, result.output
    assert "All 3 sessions and 2 groups agree with their bookings." in result.output


def test_an_empty_database_agrees_too(app, runner):
    result = runner.invoke(args=["check", "counters"])
    assert result.exit_code == 0 and "All 0 sessions and 0 groups agree" in result.output


def _drift(db, workshop: Session, plenary: Session) -> Booking:  # type: ignore[no-untyped-def]
    """Make the plenary's counter too low and take a workshop place out of the counters' sight (too high)."""
    db.session.execute(text("UPDATE session SET taken = taken - 1 WHERE id = :id"), {"id": plenary.id})
    booking = (
        db.session.execute(
            select(Booking)
            .where(Booking.session_id == workshop.id, Booking.status == BookingStatus.CONFIRMED)
            .order_by(Booking.id)
        )
        .scalars()
        .first()
    )
    db.session.execute(text("UPDATE booking SET status = 'cancelled' WHERE id = :id"), {"id": booking.id})
    db.session.commit()
    return booking


def test_drift_is_reported_by_the_service(programme, db):
    event, workshop, plenary, _ = programme
    flipped = _drift(db, workshop, plenary)
    drifts = {(d.kind, d.id): d for d in audit_counters().drifts}
    assert set(drifts) == {
        (CounterKind.SESSION, plenary.id),
        (CounterKind.SESSION, workshop.id),
        (CounterKind.GROUP, flipped.group_id),
    }
    assert (drifts[CounterKind.SESSION, plenary.id].taken, drifts[CounterKind.SESSION, plenary.id].counted) == (1, 2)
    hidden = drifts[CounterKind.SESSION, workshop.id]
    assert (hidden.taken, hidden.counted, hidden.capacity, hidden.event_id) == (2, 1, 6, event.id)
    group = drifts[CounterKind.GROUP, flipped.group_id]
    assert group.taken == group.counted + 1 and group.capacity == 3
    assert group.title.startswith(workshop.title_pl) and not any(d.is_overbooked for d in drifts.values())


def test_the_command_names_the_drift_and_repair_fixes_it(programme, db, runner):
    _, workshop, plenary, _ = programme
    flipped = _drift(db, workshop, plenary)

    check = runner.invoke(args=["check", "counters"])
    assert check.exit_code != 0
    assert "3 counters disagree with the bookings:" in check.output
    assert (
        f"session {plenary.id} ('{plenary.title_pl}', event {plenary.event_id}): taken 1, bookings 2, capacity 2"
        in check.output
    )
    assert f"session {workshop.id} " in check.output and f"group {flipped.group_id} " in check.output
    assert "--repair" in check.output

    repair = runner.invoke(args=["check", "counters", "--repair"])
    assert repair.exit_code == 0, repair.output
    assert repair.output.count("Repaired: ") == 3
    assert "agree with their bookings now" in repair.output
    db.session.rollback()
    assert db.session.get(Session, plenary.id).taken == 2
    assert db.session.get(Session, workshop.id).taken == 1
    assert db.session.get(Group, flipped.group_id).taken == 0
    entries = db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    repaired = [
        (e.action, e.session_id, e.details, e.actor_label) for e in entries if e.action.endswith("counter_repaired")
    ]
    assert (
        "session.counter_repaired",
        plenary.id,
        {"taken_before": 1, "taken_after": 2, "bookings": 2},
        "cli",
    ) in repaired
    assert (
        "group.counter_repaired",
        None,
        {"group_id": flipped.group_id, "taken_before": 1, "taken_after": 0, "bookings": 0},
        "cli",
    ) in repaired
    assert len(repaired) == 3

    again = runner.invoke(args=["check", "counters"])
    assert again.exit_code == 0 and "All 3 sessions and 2 groups agree" in again.output
    assert_counters_consistent()


def test_a_counter_too_low_is_raised_to_its_bookings(programme, db):
    _, workshop, _, open_talk = programme
    db.session.execute(text("UPDATE session SET taken = 0 WHERE id IN (:a, :b)"), {"a": workshop.id, "b": open_talk.id})
    db.session.commit()
    repairs = repair_counters(audit_counters().drifts)
    assert {(r.drift.id, r.outcome) for r in repairs} == {
        (workshop.id, RepairOutcome.REPAIRED),
        (open_talk.id, RepairOutcome.REPAIRED),
    }
    db.session.rollback()
    assert db.session.get(Session, workshop.id).taken == 2 and db.session.get(Session, open_talk.id).taken == 1


def test_an_overbooking_is_reported_and_not_repaired_into_a_check_violation(programme, db, runner, register):
    event, workshop, plenary, _ = programme
    # Two people hold the plenary's two places; the third, waiting, is confirmed behind the counters' back.
    waiting = db.session.execute(
        select(Booking).where(Booking.session_id == plenary.id, Booking.status == BookingStatus.WAITLISTED)
    ).scalar_one()
    db.session.execute(text("UPDATE booking SET status = 'confirmed' WHERE id = :id"), {"id": waiting.id})
    db.session.commit()

    [drift] = audit_counters().drifts
    assert (drift.kind, drift.id, drift.taken, drift.counted, drift.capacity) == (
        CounterKind.SESSION,
        plenary.id,
        2,
        3,
        2,
    )
    assert drift.is_overbooked and "OVERBOOKED" in drift.describe()

    repair = runner.invoke(args=["check", "counters", "--repair"])
    assert repair.exit_code != 0
    assert (
        f"OVERBOOKED, needs an organiser (cancel bookings or raise the capacity, then repair again): session {plenary.id} "
        in repair.output
    )
    assert "1 counter still disagrees with the bookings." in repair.output
    db.session.rollback()
    refreshed = db.session.get(Session, plenary.id)
    assert (refreshed.taken, refreshed.capacity) == (2, 2)  # neither the counter nor the capacity moved
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action.like("%counter_repaired"))).first() is None


def test_an_overbooked_group_is_left_alone_while_its_session_is_repaired(programme, db):
    _, workshop, _, _ = programme
    group = (
        db.session.execute(select(Group).where(Group.session_id == workshop.id).order_by(Group.id)).scalars().first()
    )
    # Every workshop booking is moved into the first group, which then holds more than its 3 places.
    extra = db.session.execute(
        select(Booking).where(Booking.session_id == workshop.id, Booking.status == BookingStatus.CANCELLED)
    ).scalar_one()
    db.session.execute(text("UPDATE booking SET status = 'confirmed' WHERE id = :id"), {"id": extra.id})
    db.session.execute(
        text("UPDATE booking SET group_id = :g WHERE session_id = :s"), {"g": group.id, "s": workshop.id}
    )
    db.session.execute(
        text(
            "INSERT INTO booking (registration_id, session_id, group_id, status, is_approved, created_at, updated_at) "
            "SELECT registration_id, :s, :g, 'confirmed', false, created_at, updated_at FROM booking "
            "WHERE session_id != :s AND status = 'confirmed' AND registration_id NOT IN "
            "(SELECT registration_id FROM booking WHERE session_id = :s)"
        ),
        {"s": workshop.id, "g": group.id},
    )
    db.session.commit()
    counted = db.session.execute(
        text("SELECT count(*) FROM booking WHERE group_id = :g AND status = 'confirmed'"), {"g": group.id}
    ).scalar_one()
    assert counted == 4

    repairs = {(r.drift.kind, r.drift.id): r.outcome for r in repair_counters(audit_counters().drifts)}
    assert repairs[CounterKind.GROUP, group.id] == RepairOutcome.OVERBOOKED
    assert repairs[CounterKind.SESSION, workshop.id] == RepairOutcome.REPAIRED
    db.session.rollback()
    assert db.session.get(Session, workshop.id).taken == 4 <= db.session.get(Session, workshop.id).capacity
    assert db.session.get(Group, group.id).taken == 3  # raised to full, not past its capacity


def test_an_overbooked_counter_below_its_capacity_is_raised_to_full(programme, db, runner):
    _, _, plenary, _ = programme
    plenary_id = plenary.id
    db.session.execute(text("UPDATE booking SET status = 'confirmed' WHERE session_id = :s"), {"s": plenary_id})
    db.session.execute(text("UPDATE session SET taken = 1 WHERE id = :s"), {"s": plenary_id})
    db.session.commit()

    repair = runner.invoke(args=["check", "counters", "--repair"])
    assert repair.exit_code != 0
    assert "OVERBOOKED" in repair.output and "-> taken 2" in repair.output
    db.session.rollback()
    assert db.session.get(Session, plenary_id).taken == 2  # full: nobody else books into the overbooking
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "session.counter_repaired")).scalar_one()
    assert entry.details == {"taken_before": 1, "taken_after": 2, "bookings": 3}
    # An organiser raises the capacity; the next repair settles the counter.
    db.session.execute(text("UPDATE session SET capacity = 3 WHERE id = :s"), {"s": plenary_id})
    db.session.commit()
    assert runner.invoke(args=["check", "counters", "--repair"]).exit_code == 0
    db.session.rollback()
    assert db.session.get(Session, plenary_id).taken == 3


def test_a_drift_gone_or_settled_before_the_repair_is_not_written(programme, db):
    _, workshop, _, open_talk = programme
    workshop_id, open_talk_id = workshop.id, open_talk.id
    db.session.execute(
        text("UPDATE session SET taken = taken + 1 WHERE id IN (:a, :b)"), {"a": workshop_id, "b": open_talk_id}
    )
    db.session.commit()
    stale = audit_counters().drifts
    db.session.execute(text("UPDATE session SET taken = taken - 1 WHERE id = :id"), {"id": workshop_id})
    db.session.execute(text("DELETE FROM session WHERE id = :id"), {"id": open_talk_id})
    db.session.commit()
    outcomes = {r.drift.id: r.outcome for r in repair_counters(stale)}
    assert outcomes == {workshop_id: RepairOutcome.ALREADY_CONSISTENT, open_talk_id: RepairOutcome.GONE}
    assert db.session.execute(select(AuditEntry).where(AuditEntry.action.like("%counter_repaired"))).first() is None


def test_healthz_deep_reports_counters(programme, db, client):
    _, workshop, plenary, _ = programme
    assert client.get("/healthz?deep=1").get_json() == {"status": "ok", "database": "ok", "counters": "ok"}
    _drift(db, workshop, plenary)
    response = client.get("/healthz?deep=1")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "ok", "counters": "drift", "counter_drifts": 3}
    # The plain check stays the cheap one and does not look at the counters.
    plain = client.get("/healthz")
    assert plain.status_code == 200 and plain.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_deep_answers_503_when_the_audit_cannot_run(app, client, monkeypatch):
    def broken() -> counters.CounterAudit:
        raise RuntimeError("no such table")

    monkeypatch.setattr(counters, "audit_counters", broken)
    response = client.get("/healthz?deep=1")
    assert response.status_code == 503 and response.get_json()["counters"] == "unavailable"


def _audit_runs(clock: float) -> bool:
    """Run the worker's due tasks at ``clock`` (monotonic seconds); tell whether the counter audit ran."""
    return "audit place counters" in run_due_tasks(lambda: clock)


def test_the_worker_logs_drift_as_an_error_without_personal_data(programme, db, app, caplog):
    _, workshop, plenary, _ = programme
    interval = app.config["COUNTER_AUDIT_INTERVAL"]
    assert _audit_runs(100.0)  # the first round audits at once
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    flipped = _drift(db, workshop, plenary)
    with caplog.at_level(logging.ERROR):
        assert not _audit_runs(100.0 + interval - 1)  # not due yet: nothing read, nothing logged
        assert not [r for r in caplog.records if "Counter audit" in r.getMessage()]
        assert _audit_runs(100.0 + interval)
    assert not db.session().in_transaction()  # the worker sleeps without holding a snapshot
    [entry] = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = entry.getMessage()
    assert message.startswith("Counter audit: 3 counters disagree with their bookings")
    assert f"session {plenary.id} of event {plenary.event_id}: taken 1, bookings 2, capacity 2" in message
    assert f"group {flipped.group_id} " in message
    assert "@" not in message and plenary.title_pl not in message and "Nowak" not in message


@pytest.mark.app_config(COUNTER_AUDIT_INTERVAL=0)
def test_the_worker_audit_can_be_switched_off(programme, db, app, caplog):
    _, workshop, plenary, _ = programme
    _drift(db, workshop, plenary)
    assert "audit place counters" not in [task.name for task in tasks()]
    assert not _audit_runs(time.monotonic())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _repair_during_a_registration(app, db, make_event, make_session, monkeypatch):  # type: ignore[no-untyped-def]
    """Repair a drifted session while a registration holds its freshly taken place uncommitted.

    Returns the session's counter and its confirmed bookings afterwards.
    """
    event = make_event()
    session = make_session(event, capacity=10)
    event_id, session_id = event.id, session.id
    db.session.execute(text("UPDATE session SET taken = 4 WHERE id = :id"), {"id": session_id})
    db.session.commit()
    drifts = audit_counters().drifts
    assert [(d.id, d.taken, d.counted) for d in drifts] == [(session_id, 4, 0)]
    db.session.rollback()

    holding = threading.Event()
    take_place = capacity.take_place

    def slow_take_place(sid: int) -> int | None:
        group = take_place(sid)
        holding.set()
        time.sleep(0.5)  # the place is taken, the booking not yet committed
        return group

    monkeypatch.setattr(capacity, "take_place", slow_take_place)
    errors: list[BaseException] = []

    def registration() -> None:
        with app.app_context():
            try:
                person = services.ParticipantData(
                    first_name="Jan", last_name="Kowalski", email="jan@example.com", category=ParticipantCategory.MAYOR
                )
                services.register(_db.session.get(Event, event_id), person, services.Choices(session_ids=[session_id]))
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                _db.session.remove()

    thread = threading.Thread(target=registration)
    thread.start()
    assert holding.wait(30)
    repair_counters(drifts)
    thread.join(30)
    assert errors == []
    db.session.rollback()
    confirmed = db.session.execute(
        text("SELECT count(*) FROM booking WHERE session_id = :s AND status = 'confirmed'"), {"s": session_id}
    ).scalar_one()
    return db.session.get(Session, session_id).taken, confirmed


def test_a_repair_during_a_registration_counts_its_booking(app, db, make_event, make_session, backend, monkeypatch):
    if backend != "postgresql":
        pytest.skip("SQLite serialises whole write transactions: the repair simply waits its turn")
    assert _repair_during_a_registration(app, db, make_event, make_session, monkeypatch) == (1, 1)
    assert_counters_consistent()


def test_without_the_lock_a_repair_during_a_registration_loses_its_place(
    app, db, make_event, make_session, backend, monkeypatch
):
    """The twin: re-counted without locking first, the repair overwrites the registration's +1."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises whole write transactions: the repair simply waits its turn")
    monkeypatch.setattr(counters, "lock_counters", lambda session_ids, group_ids: None)
    taken, confirmed = _repair_during_a_registration(app, db, make_event, make_session, monkeypatch)
    assert (taken, confirmed) == (0, 1)  # one place held that the counter no longer shows
