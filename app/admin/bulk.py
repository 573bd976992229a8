"""Bulk email: an organiser's message to the confirmed or waiting participants of an event, session or group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..errors import DomainError
from ..events.models import Event, Group, Session
from ..extensions import db
from ..i18n import localized
from ..notifications.links import absolute_url
from ..notifications.models import MessageKind, MessageStatus, OutboxMessage
from ..notifications.services import add_to_outbox, header_text
from ..registration.models import Booking, BookingStatus, Registration, RegistrationStatus

AUDIENCE_STATUSES = ("confirmed", "waitlisted")


class BulkError(DomainError):
    """A refused bulk email, with a translatable message."""


@dataclass(frozen=True)
class Audience:
    """Who gets a bulk email: the people with a booking of ``status`` in the event, session or group."""

    event_id: int
    status: str = "confirmed"
    session_id: int | None = None
    group_id: int | None = None


@dataclass(frozen=True)
class Letter:
    """The organiser's text in both languages (English falls back to Polish)."""

    subject_pl: str
    body_pl: str
    subject_en: str = ""
    body_en: str = ""
    # "Dzień dobry, {first name}," ("Hello …," in English) above the text.
    has_greeting: bool = True

    def for_language(self, language: str) -> tuple[str, str]:
        """Return (subject, body) in ``language``."""
        if language == "en" and self.subject_en.strip() and self.body_en.strip():
            return self.subject_en, self.body_en
        return self.subject_pl, self.body_pl


def check_audience(event: Event, audience: Audience) -> Audience:
    """Refuse a session or group of another event, or an unknown status.

    :raises BulkError:
    """
    if audience.status not in AUDIENCE_STATUSES:
        raise BulkError(_l("Choose confirmed or waiting participants."))
    session_id = audience.session_id
    if audience.group_id is not None:
        group = db.session.get(Group, audience.group_id)
        if group is None or group.session.event_id != event.id:
            raise BulkError(_l("Group %(id)s is not part of this event.", id=audience.group_id))
        session_id = group.session_id
    if session_id is not None:
        session = db.session.get(Session, session_id)
        if session is None or session.event_id != event.id:
            raise BulkError(_l("Session %(id)s is not part of this event.", id=session_id))
    return Audience(event.id, audience.status, session_id, audience.group_id)


def describe_audience(audience: Audience) -> str:
    """Return, in words, whom a checked audience (``check_audience``) reaches: status, session and group."""
    session = db.session.get(Session, audience.session_id) if audience.session_id is not None else None
    group = db.session.get(Group, audience.group_id) if audience.group_id is not None else None
    confirmed = audience.status == "confirmed"
    if group is not None and session is not None:
        text = (
            _l(
                "Confirmed participants of “%(session)s” in group “%(group)s” only.",
                session=session.title,
                group=group.label,
            )
            if confirmed
            else _l(
                "People on the waiting list of “%(session)s” in group “%(group)s” only.",
                session=session.title,
                group=group.label,
            )
        )
    elif session is not None:
        text = (
            _l("Confirmed participants of “%(session)s” (all its groups).", session=session.title)
            if confirmed
            else _l("People on the waiting list of “%(session)s”.", session=session.title)
        )
    else:
        text = (
            _l("Confirmed participants of any session of the event.")
            if confirmed
            else _l("People on the waiting list of any session of the event.")
        )
    return str(text)


def recipients(audience: Audience) -> list[Registration]:
    """Return the live registrations of the audience, each once."""
    bookings = (
        select(Booking.registration_id)
        .join(Session, Session.id == Booking.session_id)
        .where(Session.event_id == audience.event_id, Booking.status == BookingStatus(audience.status))
    )
    if audience.session_id is not None:
        bookings = bookings.where(Booking.session_id == audience.session_id)
    if audience.group_id is not None:
        bookings = bookings.where(Booking.group_id == audience.group_id)
    return list(
        db.session.execute(
            select(Registration)
            .where(Registration.id.in_(bookings), Registration.status == RegistrationStatus.ACTIVE)
            .order_by(Registration.id)
        ).scalars()
    )


def render(event: Event, registration: Registration, letter: Letter) -> tuple[str, str, str]:
    """Return (subject, text body, HTML body) of the letter to one participant, in their language."""
    language = registration.language if registration.language in ("pl", "en") else "pl"
    subject, body = letter.for_language(language)
    with force_locale(language):
        values = {
            "registration": registration,
            "event": event,
            "event_title": localized(event, "title", language),
            "body": body,
            "has_greeting": letter.has_greeting,
            "resend_url": absolute_url("notifications.resend_link", slug=event.slug),
            "event_url": absolute_url("events.event", slug=event.slug),
        }
        text = render_template("email/bulk.txt", **values)
        html = render_template("email/bulk.html", **values)
    return header_text(subject, 300), text, html


def send_bulk(
    event: Event, audience: Audience, letter: Letter, now: datetime | None = None, expected: int | None = None
) -> int:
    """Queue the letter to every participant of the audience, in one transaction; return how many.

    :raises BulkError: for a bad audience, no Polish text, or (with ``expected``, the
        count the organiser was shown) when the audience has changed since.
    """
    now = now or utcnow()
    audience = check_audience(event, audience)
    if not letter.subject_pl.strip() or not letter.body_pl.strip():
        raise BulkError(_l("The Polish subject and text are required."))
    with write_transaction():
        people = recipients(audience)
        if expected is not None and len(people) != expected:
            raise BulkError(_l("The recipients have changed since the preview: check them and send again."))
        for registration in people:
            subject, text, html = render(event, registration, letter)
            add_to_outbox(
                MessageKind.BULK,
                event,
                registration.email,
                registration.language,
                subject,
                text,
                html,
                now,
                recipient_name=registration.full_name,
                registration_id=registration.id,
            )
        record(
            "bulk_email",
            event_id=event.id,
            session_id=audience.session_id,
            group_id=audience.group_id,
            status=audience.status,
            recipients=len(people),
            subject=letter.subject_pl[:200],
        )
    return len(people)


def failed_messages(event_id: int, limit: int = 50) -> list[OutboxMessage]:
    """Return the event's emails that could not be delivered, newest first."""
    return list(
        db.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.event_id == event_id, OutboxMessage.status == MessageStatus.FAILED)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        ).scalars()
    )


def retry_failed(event_id: int, message_id: int, now: datetime | None = None) -> bool:
    """Put a failed email of the event back in the queue, due now; tell whether it was."""
    now = now or utcnow()
    with write_transaction():
        result = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.event_id == event_id,
                OutboxMessage.status == MessageStatus.FAILED,
            )
            .values(status=MessageStatus.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, claimed_by=None)
        )
        if result.rowcount == 1:
            record("email_retry", event_id=event_id, message_id=message_id)
    return result.rowcount == 1
