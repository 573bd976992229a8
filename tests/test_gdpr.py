"""GDPR: data download, erasure from the private link, and the purge of old events."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from app.events.models import Session
from app.registration import services
from app.registration.models import Booking, BookingStatus, Registration
from tests.conftest import NOW, csrf_token


def _register(event, *sessions, **person):  # type: ignore[no-untyped-def]
    """Register through the service and return (registration, token)."""
    from app.events.models import ParticipantCategory

    data = services.ParticipantData(
        first_name=person.get("first_name", "Jan"),
        last_name=person.get("last_name", "Kowalski"),
        email=person["email"],
        category=ParticipantCategory.MAYOR,
        city="Łódź",
        phone="+48 600 100 200",
    )
    result = services.register(event, data, services.Choices(session_ids=[s.id for s in sessions]))
    return result.registration, result.token


def test_participant_downloads_their_data(client, make_event, make_session):
    event = make_event()
    session = make_session(event, capacity=3)
    _registration, token = _register(event, session, email="jan@example.com", first_name="Żaneta")
    response = client.get(f"/r/{token}/data.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["registration"]["first_name"] == "Żaneta" and data["registration"]["phone"] == "+48 600 100 200"
    assert data["registration"]["consent"]["source"] == "form"
    assert data["bookings"][0]["status"] == "confirmed"


def test_erasure_anonymises_releases_places_and_drops_queued_mail(client, db, make_event, make_session, outbox):
    event = make_event()
    session = make_session(event, groups=[1])
    holder, token = _register(event, session, email="holder@example.com", last_name="Tajny")
    waiting, _ = _register(event, session, email="waiting@example.com")
    assert outbox.messages(to="holder@example.com")  # the confirmation is queued
    page = client.get(f"/r/{token}/erase")
    assert page.status_code == 200
    response = client.post(f"/r/{token}/erase", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    db.session.rollback()
    erased = db.session.get(Registration, holder.id)
    assert erased.anonymised_at is not None and erased.status.value == "cancelled"
    assert "Tajny" not in (erased.first_name + erased.last_name) and erased.email.endswith("@invalid")
    assert erased.phone == "" and erased.city == ""
    statuses = {b.registration_id: b.status for b in db.session.execute(select(Booking)).scalars()}
    assert statuses[holder.id] == BookingStatus.CANCELLED and statuses[waiting.id] == BookingStatus.CONFIRMED
    assert db.session.get(Session, session.id).taken == 1
    assert outbox.messages(to="holder@example.com") == []
    assert [m.kind.value for m in outbox.messages(to="waiting@example.com")][-1] == "promoted"
    assert client.get(f"/r/{token}").status_code == 404  # the link is dead


def test_purge_dry_run_and_idempotence(runner, db, make_event, make_session, register):
    old = make_event(
        starts_at=NOW - timedelta(days=400),
        ends_at=NOW - timedelta(days=399),
        registration_opens_at=None,
        registration_closes_at=None,
    )
    recent = make_event()
    session = make_session(old, capacity=5)
    # Registrations made while the old event was open.
    old.registration_closes_at = None
    for i in range(3):
        db.session.add(
            Registration(
                event_id=old.id,
                first_name="Anna",
                last_name=f"Stara{i}",
                email=f"s{i}@example.com",
                email_normalized=f"s{i}@example.com",
                category="mayor",
                consent_version="v1",
                consent_at=NOW,
                manage_token_hash=f"{i:064d}",
            )
        )
    db.session.commit()
    for registration in db.session.execute(select(Registration)).scalars():
        db.session.add(Booking(registration_id=registration.id, session_id=session.id, status=BookingStatus.CONFIRMED))
    db.session.commit()
    register(recent, email="new@example.com")
    cutoff = (NOW - timedelta(days=10)).strftime("%Y-%m-%d")

    dry = runner.invoke(args=["gdpr", "purge", "--before", cutoff, "--dry-run"])
    assert dry.exit_code == 0 and "Would anonymise 3 registrations of 1 events" in dry.output
    db.session.rollback()
    assert db.session.execute(select(Registration).where(Registration.anonymised_at.is_not(None))).first() is None

    done = runner.invoke(args=["gdpr", "purge", "--before", cutoff])
    assert done.exit_code == 0 and "Anonymised 3 registrations" in done.output
    again = runner.invoke(args=["gdpr", "purge", "--before", cutoff])
    assert "Anonymised 0 registrations" in again.output
    db.session.rollback()
    people = db.session.execute(select(Registration).order_by(Registration.id)).scalars().all()
    assert [p.last_name for p in people[:3]] == ["—"] * 3 and people[3].email == "new@example.com"
    # Aggregate counts survive: the bookings are still there.
    assert (
        len(db.session.execute(select(Booking).where(Booking.status == BookingStatus.CONFIRMED)).scalars().all()) >= 3
    )


def test_purge_refuses_a_bad_date(runner):
    result = runner.invoke(args=["gdpr", "purge", "--before", "yesterday"])
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_privacy_notice_in_both_languages(client):
    polish = client.get("/privacy").text
    client.get("/language/en")
    english = client.get("/privacy").text
    assert "controller of the personal data" in english and "controller of the personal data" not in polish
