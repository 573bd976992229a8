"""The confirmation of a registration is rendered when delivered, from what its transaction committed.

The POST stores a snapshot of what the email shows (outbox_message.snapshot) instead of rendering
two templates; the delivery renders it in the participant's language. These tests hold it to the
guarantees of an email rendered in the request: the same text, what was committed (not what is
true when it is sent), and nothing lost when a worker dies holding it.
"""

from __future__ import annotations

import email
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db import utcnow
from app.events.models import BookingMode
from app.events.services import ranked_blocks
from app.extensions import db as _db
from app.notifications.delivery import claim_due, deliver_all_due
from app.notifications.links import absolute_url
from app.notifications.models import MessageKind, MessageStatus, OutboxMessage
from app.notifications.services import message_bodies
from app.registration import emails, services
from app.registration.gdpr import erase_registration


def _eml_bodies(outbox) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Return the text and HTML parts of the one delivered registration_received .eml file."""
    [path] = sorted(outbox.directory.glob("*registration_received.eml"))
    message = email.message_from_bytes(path.read_bytes())
    parts = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.get_filename():
            parts[part.get_content_type()] = part.get_payload(decode=True).decode(part.get_content_charset())
    return parts


def _rich_registration(make_event, make_session, participant, language: str, **event_extra):  # type: ignore[no-untyped-def]
    """Register someone with a place, a waiting list, a request and ranked choices; return the result."""
    event = make_event(**event_extra)
    open_session = make_session(event, start_hour=9, room="Sala A")
    full = make_session(event, start_hour=11, groups=[1])
    restricted = make_session(event, start_hour=13, eligible_categories=["expert"])
    grouped = make_session(event, start_hour=17, groups=[3])
    ranked = [
        make_session(
            event,
            start_hour=15,
            booking_mode=BookingMode.RANKED,
            capacity=5,
            title_pl=f"Warsztat {name}",
            title_en=f"Workshop {name}",
        )
        for name in "AB"
    ]
    services.register(event, participant(email="first@example.com"), services.Choices(session_ids=[full.id]))
    key = ranked_blocks(list(event.sessions))[0].key
    choices = services.Choices(
        session_ids=[open_session.id, full.id, restricted.id, grouped.id], rankings={key: [ranked[1].id, ranked[0].id]}
    )
    return event, services.register(event, participant(language=language), choices)


@pytest.mark.parametrize("language", ["pl", "en"])
@pytest.mark.parametrize("confirmation", [False, True])
def test_the_snapshot_renders_exactly_what_the_templates_render_from_the_registration(
    app, db, make_event, make_session, participant, outbox, language, confirmation
):
    event, result = _rich_registration(
        make_event, make_session, participant, language, requires_email_confirmation=confirmation
    )
    [row] = outbox.messages(kind="registration_received", to=result.registration.email)
    assert row.snapshot and row.language == language
    stored = _db.session.get(OutboxMessage, row.id)
    _db.session.refresh(stored)
    assert stored.body_text == "" and stored.body_html == ""  # nothing rendered in the request
    deferred = message_bodies(stored)

    # The same email rendered the old way, from the database objects, as every other kind is.
    registration = result.registration
    _db.session.refresh(registration)
    token = result.token
    direct = emails.queue_message(
        MessageKind.REGISTRATION_RECEIVED,
        registration,
        utcnow(),
        redact=[token],
        manage_url=absolute_url("registration.manage", token=token),
        confirm_url=(
            absolute_url("registration.confirm_email", token=token) if registration.is_awaiting_confirmation else None
        ),
    )
    assert direct.snapshot is None
    assert deferred == (direct.body_text, direct.body_html)
    _db.session.rollback()

    text = deferred[0]
    words = {
        "pl": (
            "Sesja 9",
            "Sala A",
            "Lista rezerwowa (pozycja 1)",
            "Czeka na akceptację",
            "Grupa: Grupa 1",
            "Warsztat B",
        ),
        "en": ("Session 9", "Room: Sala A", "(position 1)", "Session 13", "Group: Grupa 1", "Workshop B"),
    }[language]
    assert all(word.lower() in text.lower() for word in words), text
    assert registration.checkin_code in text and f"/r/{token}" in text
    assert (f"/r/{token}/confirm" in text) is confirmation
    assert text.index("Workshop B" if language == "en" else "Warsztat B") < text.index(
        "Workshop A" if language == "en" else "Warsztat A"
    )


def test_the_email_says_what_was_committed_even_when_it_changed_before_delivery(
    app, db, make_event, make_session, participant, outbox
):
    event = make_event()
    session = make_session(event, start_hour=9)
    result = services.register(event, participant(language="en"), services.Choices(session_ids=[session.id]))
    # The organiser renames the session and the participant cancels their place before the worker runs.
    session.title_en = "Renamed afterwards"
    _db.session.commit()
    services.cancel_booking(result.registration, result.registration.bookings[0].id)

    assert outbox.deliver().sent == 2
    bodies = _eml_bodies(outbox)
    assert "Session 9" in bodies["text/plain"] and "Renamed afterwards" not in bodies["text/plain"]
    assert "Confirmed" in bodies["text/plain"] and 'lang="en"' in bodies["text/html"]
    # Sent: the row keeps what was sent, the private link removed, and forgets the snapshot.
    [row] = outbox.messages(kind="registration_received")
    assert row.status == MessageStatus.SENT and row.snapshot is None and row.redact == []
    assert "Session 9" in row.body_text and result.token not in row.body_text + row.body_html
    assert "/r/[removed]" in row.body_text


def test_a_worker_that_dies_holding_the_email_loses_nothing(app, db, make_event, make_session, participant, outbox):
    event = make_event()
    session = make_session(event, start_hour=9)
    result = services.register(event, participant(language="pl"), services.Choices(session_ids=[session.id]))
    now = utcnow()
    [claim] = claim_due(10, "worker-that-dies", now)  # claimed, then the process is killed: no outcome recorded
    assert claim.snapshot and claim.body_text == ""
    assert deliver_all_due(now=now).claimed == 0  # still held by the dead worker

    later = now + timedelta(seconds=app.config["OUTBOX_CLAIM_TIMEOUT"] + 1)
    assert deliver_all_due(now=later).sent == 1
    text = _eml_bodies(outbox)["text/plain"]
    assert "Sesja 9" in text and f"/r/{result.token}" in text and "Dziękujemy" in text


def test_a_snapshot_that_cannot_be_rendered_is_retried_not_lost(app, db, make_event, make_session, participant, outbox):
    event = make_event()
    session = make_session(event, start_hour=9)
    services.register(event, participant(), services.Choices(session_ids=[session.id]))
    [row] = outbox.messages(kind="registration_received")
    good = dict(row.snapshot)
    _db.session.execute(update(OutboxMessage).values(snapshot={"template": "no_such_template", "context": {}}))
    _db.session.commit()
    report = outbox.deliver()
    assert report.sent == 0 and report.retried == 1
    _db.session.rollback()
    row = _db.session.get(OutboxMessage, row.id)
    assert row.status == MessageStatus.PENDING and "no_such_template" in row.last_error
    _db.session.execute(update(OutboxMessage).values(snapshot=good, next_attempt_at=utcnow()))
    _db.session.commit()
    assert outbox.deliver().sent == 1


def test_erasure_forgets_the_snapshot_of_a_message_kept_as_failed(
    app, db, make_event, make_session, participant, outbox
):
    event = make_event()
    session = make_session(event, start_hour=9)
    result = services.register(event, participant(), services.Choices(session_ids=[session.id]))
    _db.session.execute(update(OutboxMessage).values(status=MessageStatus.FAILED))
    _db.session.commit()
    erase_registration(result.registration)
    [row] = outbox.messages(kind="registration_received")
    assert row.snapshot is None and row.body_text == ""
