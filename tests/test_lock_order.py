"""Registrations lock sessions in ascending id order, bookings' foreign keys included (PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest

import app.db as app_db
from app.events.models import Event, ParticipantCategory
from app.extensions import db as _db
from app.registration import capacity, services


def _noted_contention(monkeypatch) -> list[str | None]:  # type: ignore[no-untyped-def]
    """Return the list into which every lock error's SQLSTATE is noted (40P01: a deadlock)."""
    contention: list[str | None] = []
    is_contention = app_db.is_contention

    def noting(error: BaseException) -> bool:
        contention.append(getattr(getattr(error, "orig", None), "sqlstate", None))
        return is_contention(error)

    monkeypatch.setattr(app_db, "is_contention", noting)
    return contention


def test_a_request_on_a_lower_session_does_not_deadlock_with_its_waiting_list(
    app, db, make_event, make_session, backend, monkeypatch
):
    # T1 (a mayor) asks for S1, open only to councillors (a request: no place taken), and
    # takes a place in S2. T2 (a councillor) joins S1's waiting list (locking S1) and then
    # books S2. T1's booking row for S1 must be written (its foreign key locks S1) before
    # T1 locks S2, or T1 and T2 wait for each other.
    if backend != "postgresql":
        pytest.skip("SQLite serialises whole write transactions: no row locks to order")
    event = make_event()
    s1 = make_session(event, start_hour=9, capacity=1, taken=1, eligible_categories=["councillor"])
    s2 = make_session(event, start_hour=11, capacity=100)
    ids, event_id = [s1.id, s2.id], event.id
    take_place = capacity.take_place

    def slow_take_place(session_id: int) -> int | None:
        group = take_place(session_id)
        if session_id == s2.id and threading.current_thread().name == "mayor":
            time.sleep(0.5)  # T1 holds S2 while T2 arrives
        return group

    monkeypatch.setattr(capacity, "take_place", slow_take_place)
    contention = _noted_contention(monkeypatch)
    errors: list[BaseException] = []

    def register(name: str, category: str, delay: float) -> None:
        with app.app_context():
            try:
                time.sleep(delay)
                person = services.ParticipantData(
                    first_name="Jan",
                    last_name=name,
                    email=f"{name}@example.com",
                    category=ParticipantCategory(category),
                )
                services.register(_db.session.get(Event, event_id), person, services.Choices(session_ids=ids))
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [
        threading.Thread(target=register, args=("mayor", "mayor", 0), name="mayor"),
        threading.Thread(target=register, args=("councillor", "councillor", 0.2), name="councillor"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and "40P01" not in contention, (errors, contention)


def test_two_submissions_for_one_email_end_in_already_registered_not_a_deadlock(
    app, db, make_event, make_session, backend, monkeypatch
):
    # B asks for S3 (open only to councillors: a request) and books S7; A, with the same
    # email, books S7. If B wrote its registration with the request's booking while A wrote
    # its own only after locking S7, A would wait for B's registration row (the unique index
    # on live emails) while B waits for S7: a deadlock. The registration row comes first.
    if backend != "postgresql":
        pytest.skip("SQLite serialises whole write transactions: no row locks to order")
    event = make_event()
    s3 = make_session(event, start_hour=9, capacity=5, eligible_categories=["councillor"])
    s7 = make_session(event, start_hour=11, capacity=100)
    event_id = event.id
    take_place = capacity.take_place

    def slow_take_place(session_id: int) -> int | None:
        if session_id == s7.id and threading.current_thread().name == "b":
            time.sleep(0.5)  # A reaches S7 first
        return take_place(session_id)

    monkeypatch.setattr(capacity, "take_place", slow_take_place)
    contention = _noted_contention(monkeypatch)
    errors: list[BaseException] = []

    def register(ids: list[int], delay: float) -> None:
        with app.app_context():
            try:
                time.sleep(delay)
                person = services.ParticipantData(
                    first_name="Jan", last_name="Nowak", email="jan@example.com", category=ParticipantCategory("mayor")
                )
                services.register(_db.session.get(Event, event_id), person, services.Choices(session_ids=ids))
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [
        threading.Thread(target=register, args=([s3.id, s7.id], 0), name="b"),
        threading.Thread(target=register, args=([s7.id], 0.2), name="a"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert "40P01" not in contention, (errors, contention)
    assert len(errors) == 1 and isinstance(errors[0], services.AlreadyRegistered), errors
