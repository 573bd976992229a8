"""Bulk email to an event's participants, and retrying failed emails from the dashboard."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.notifications.models import MessageStatus, OutboxMessage
from tests.conftest import csrf_token

LETTER = {
    "subject_pl": "Zmiana sali",
    "body_pl": "Warsztat odbędzie się w sali B.\nDo zobaczenia!",
    "subject_en": "Room change",
    "body_en": "The workshop moves to room B.",
}


@pytest.fixture
def scene(make_event, make_session, register):  # type: ignore[no-untyped-def]
    """An event with a full workshop (2 confirmed, 1 waiting) and another session."""
    event = make_event()
    workshop = make_session(event, start_hour=9, groups=[1, 1])
    other = make_session(event, start_hour=12, capacity=10)
    people = [
        register(event, workshop, email="a@example.com", language="pl"),
        register(event, workshop, email="b@example.com", language="en"),
        register(event, workshop, email="c@example.com"),
        register(event, other, email="d@example.com"),
    ]
    return event, workshop, other, people


def _post(client, url, data):  # type: ignore[no-untyped-def]
    page = client.get(url)
    assert page.status_code == 200
    return client.post(url, data={**data, "csrf_token": csrf_token(page.text)})


def test_preview_counts_and_sends_nothing_then_send_queues_one_email_each(client, db, scene, as_organiser, outbox):
    event, workshop, _other, _people = scene
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    url = f"/admin/events/{event.id}/bulk-email"
    before = len(outbox.messages())
    preview = _post(client, url, {**LETTER, "status": "confirmed", "session_id": workshop.id, "preview": "1"})
    assert preview.status_code == 200 and "2 participants" in preview.text
    assert "Zmiana sali" in preview.text and "Room change" in preview.text
    assert len(outbox.messages()) == before
    sent = _post(client, url, {**LETTER, "status": "confirmed", "session_id": workshop.id, "send": "1"})
    assert sent.status_code == 303
    bulk = outbox.messages(kind="bulk")
    assert sorted(m.recipient_email for m in bulk) == ["a@example.com", "b@example.com"]
    by_email = {m.recipient_email: m for m in bulk}
    assert by_email["a@example.com"].subject == "Zmiana sali" and "sali B" in by_email["a@example.com"].body_text
    assert by_email["b@example.com"].subject == "Room change"
    db.session.rollback()
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "bulk_email")).scalar_one()
    assert entry.details["recipients"] == 2


def test_waiting_list_and_group_audiences(client, scene, as_organiser, outbox):
    event, workshop, _other, _people = scene
    as_organiser("admin")
    url = f"/admin/events/{event.id}/bulk-email"
    _post(client, url, {**LETTER, "status": "waitlisted", "send": "1"})
    assert [m.recipient_email for m in outbox.messages(kind="bulk")] == ["c@example.com"]
    _post(client, url, {**LETTER, "status": "confirmed", "group_id": workshop.groups[0].id, "send": "1"})
    assert len(outbox.messages(kind="bulk")) == 2


def test_hostile_text_is_escaped_in_html_and_subject_stays_one_line(client, scene, as_organiser, outbox):
    event, *_ = scene
    as_organiser("admin")
    _post(
        client,
        f"/admin/events/{event.id}/bulk-email",
        {"subject_pl": "Temat", "body_pl": "<img src=x onerror=alert(1)>", "status": "confirmed", "send": "1"},
    )
    message = outbox.messages(kind="bulk")[0]
    assert "<img" not in message.body_html and "&lt;img" in message.body_html


@pytest.mark.parametrize(
    "data",
    [
        {"subject_pl": "", "body_pl": "x"},
        {"subject_pl": "x", "body_pl": ""},
        {"subject_pl": "a\x07b", "body_pl": "x"},
        {"subject_pl": "x" * 201, "body_pl": "x"},
        {"subject_pl": "x", "body_pl": "x", "status": "everyone"},
    ],
)
def test_bad_input_sends_nothing(client, scene, as_organiser, outbox, data):
    event, *_ = scene
    as_organiser("admin")
    response = _post(client, f"/admin/events/{event.id}/bulk-email", {"status": "confirmed", **data, "send": "1"})
    assert response.status_code == 200
    assert outbox.messages(kind="bulk") == []


def test_group_of_another_event_is_refused(client, scene, make_event, make_session, as_organiser, outbox):
    event, *_ = scene
    elsewhere = make_session(make_event(), groups=[3])
    as_organiser("admin")
    client.get("/language/en")
    response = _post(
        client,
        f"/admin/events/{event.id}/bulk-email",
        {**LETTER, "status": "confirmed", "group_id": elsewhere.groups[0].id, "send": "1"},
    )
    assert "not part of this event" in response.text and outbox.messages(kind="bulk") == []


def test_access_rules(client, scene, make_event, as_organiser):
    event, *_ = scene
    url = f"/admin/events/{event.id}/bulk-email"
    assert client.get(url).status_code == 302
    as_organiser("organiser", events=[make_event()])
    assert client.get(url).status_code == 404


def test_staff_cannot_send(client, scene, as_organiser):
    event, *_ = scene
    as_organiser("staff", events=[event])
    assert client.get(f"/admin/events/{event.id}/bulk-email").status_code == 403


def test_failed_emails_are_listed_and_can_be_retried(client, db, scene, as_organiser, outbox):
    event, *_ = scene
    message = outbox.messages()[0]
    db.session.execute(
        db.update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status=MessageStatus.FAILED, last_error="550 no such user", attempts=3)
    )
    db.session.commit()
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    page = client.get(f"/admin/events/{event.id}/dashboard")
    assert "550 no such user" in page.text
    response = client.post(
        f"/admin/events/{event.id}/outbox/{message.id}/retry", data={"csrf_token": csrf_token(page.text)}
    )
    assert response.status_code == 303
    db.session.rollback()
    retried = db.session.get(OutboxMessage, message.id)
    assert retried.status == MessageStatus.PENDING and retried.attempts == 0
    again = client.post(
        f"/admin/events/{event.id}/outbox/{message.id}/retry",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert "not waiting for a retry" in again.text
