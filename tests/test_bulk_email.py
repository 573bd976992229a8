"""Bulk email to an event's participants, and retrying failed emails from the dashboard."""

from __future__ import annotations

import re

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


def _previewed(page) -> str:  # type: ignore[no-untyped-def]
    """Return the preview's record of the audience it showed (the hidden field sending needs)."""
    match = re.search(r'name="previewed" type="hidden" value="([^"]*)"', page.text)
    return match.group(1) if match else ""


def _send(client, url, data):  # type: ignore[no-untyped-def]
    """Preview, then send from the preview's page (as the Send button does)."""
    data = {"has_greeting": "y", **data}
    preview = _post(client, url, {**data, "preview": "1"})
    return client.post(
        url, data={**data, "send": "1", "previewed": _previewed(preview), "csrf_token": csrf_token(preview.text)}
    )


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
    sent = _send(client, url, {**LETTER, "status": "confirmed", "session_id": workshop.id})
    assert sent.status_code == 303
    bulk = outbox.messages(kind="bulk")
    assert sorted(m.recipient_email for m in bulk) == ["a@example.com", "b@example.com"]
    by_email = {m.recipient_email: m for m in bulk}
    assert by_email["a@example.com"].subject == "Zmiana sali" and "sali B" in by_email["a@example.com"].body_text
    assert by_email["b@example.com"].subject == "Room change"
    db.session.rollback()
    entry = db.session.execute(select(AuditEntry).where(AuditEntry.action == "bulk_email")).scalar_one()
    assert entry.details["recipients"] == 2


def test_the_preview_says_whom_a_session_and_group_reach_and_sending_needs_it(client, db, scene, as_organiser, outbox):
    event, workshop, _other, people = scene
    as_organiser("organiser", events=[event])
    client.get("/language/en")
    url = f"/admin/events/{event.id}/bulk-email"
    form = client.get(url).text
    assert re.search(r'Text \(Polish\) <span aria-hidden="true" class="text-danger">\*</span>', form)
    assert "Hello {first name}," in form
    [greeting] = [tag for tag in re.findall(r"<input[^>]*>", form) if 'name="has_greeting"' in tag]
    assert " checked" in greeting  # on by default
    group = workshop.groups[0]
    data = {**LETTER, "status": "confirmed", "session_id": workshop.id, "group_id": group.id}
    preview = _post(client, url, {**data, "preview": "1"})
    recipients = re.search(
        r'<div class="alert alert-info[^>]*id="bulk-recipients">(.*?)</div>', preview.text, re.S
    ).group(1)
    assert f"Confirmed participants of “{workshop.title}” in group “{group.name}” only." in recipients
    assert "1 participant," in recipients
    in_group = [p for p in people if any(b.group_id == group.id for b in p.bookings)]
    assert len(in_group) == 1 and in_group[0].full_name in recipients
    # A send without the preview's record (or of another audience) sends nothing and shows the preview.
    direct = client.post(url, data={**data, "send": "1", "csrf_token": csrf_token(preview.text)})
    assert direct.status_code == 200 and "Check the recipients in the preview before sending." in direct.text
    other = client.post(
        url,
        data={
            **data,
            "group_id": "",
            "send": "1",
            "previewed": _previewed(preview),
            "csrf_token": csrf_token(preview.text),
        },
    )
    assert "Check the recipients in the preview before sending." in other.text
    assert outbox.messages(kind="bulk") == []
    sent = client.post(
        url, data={**data, "send": "1", "previewed": _previewed(preview), "csrf_token": csrf_token(preview.text)}
    )
    assert sent.status_code == 303
    [message] = outbox.messages(kind="bulk")
    assert message.recipient_email == in_group[0].email
    assert "Hello" not in message.body_text  # has_greeting unticked (absent from the POST)


def test_the_greeting_is_added_only_when_ticked(client, scene, as_organiser, outbox):
    event, *_ = scene
    as_organiser("admin")
    url = f"/admin/events/{event.id}/bulk-email"
    _send(client, url, {**LETTER, "status": "waitlisted"})
    [greeted] = outbox.messages(kind="bulk")
    assert greeted.body_text.startswith("Dzień dobry")
    _send(client, url, {**LETTER, "status": "waitlisted", "has_greeting": ""})
    plain = [m for m in outbox.messages(kind="bulk") if m.id != greeted.id][0]
    assert plain.body_text.startswith("Warsztat odbędzie się")


def test_a_changed_audience_since_the_preview_is_refused(client, db, scene, as_organiser, outbox, register):
    event, workshop, other, _people = scene
    as_organiser("admin")
    client.get("/language/en")
    url = f"/admin/events/{event.id}/bulk-email"
    data = {**LETTER, "status": "confirmed", "session_id": other.id, "has_greeting": "y"}
    preview = _post(client, url, {**data, "preview": "1"})
    register(event, other, email="late@example.com")
    refused = client.post(
        url, data={**data, "send": "1", "previewed": _previewed(preview), "csrf_token": csrf_token(preview.text)}
    )
    assert "The recipients have changed since the preview" in refused.text
    assert "2 participants" in refused.text and outbox.messages(kind="bulk") == []


def test_waiting_list_and_group_audiences(client, scene, as_organiser, outbox):
    event, workshop, _other, _people = scene
    as_organiser("admin")
    url = f"/admin/events/{event.id}/bulk-email"
    _send(client, url, {**LETTER, "status": "waitlisted"})
    assert [m.recipient_email for m in outbox.messages(kind="bulk")] == ["c@example.com"]
    _send(client, url, {**LETTER, "status": "confirmed", "group_id": workshop.groups[0].id})
    assert len(outbox.messages(kind="bulk")) == 2


def test_hostile_text_is_escaped_in_html_and_subject_stays_one_line(client, scene, as_organiser, outbox):
    event, *_ = scene
    as_organiser("admin")
    _send(
        client,
        f"/admin/events/{event.id}/bulk-email",
        {"subject_pl": "Temat", "body_pl": "<img src=x onerror=alert(1)>", "status": "confirmed"},
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
    response = _send(client, f"/admin/events/{event.id}/bulk-email", {"status": "confirmed", **data})
    assert response.status_code == 200
    assert outbox.messages(kind="bulk") == []


def test_group_of_another_event_is_refused(client, scene, make_event, make_session, as_organiser, outbox):
    event, *_ = scene
    elsewhere = make_session(make_event(), groups=[3])
    as_organiser("admin")
    client.get("/language/en")
    response = _send(
        client,
        f"/admin/events/{event.id}/bulk-email",
        {**LETTER, "status": "confirmed", "group_id": elsewhere.groups[0].id},
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
