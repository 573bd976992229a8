"""Queue participant emails in the caller's transaction, and mail a new private link on request.

The ``queue_*`` functions only add rows and flush: call them inside the
``write_transaction`` of the change they report, so that the email exists if
and only if the change was committed. ``send_manage_link`` is a public use case
and owns its transaction.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..db import utcnow, write_transaction
from ..events.models import Event, Session
from ..extensions import db
from ..i18n import localized
from ..registration import services as registration_services
from ..registration.calendar import registration_ics
from ..registration.models import Booking, BookingStatus, InvitationCode, Registration, RegistrationStatus
from .links import absolute_url, mail_domain
from .models import MessageKind, MessageStatus, OutboxMessage

SUBJECTS = {
    MessageKind.REGISTRATION_RECEIVED: _l("Registration received: %(event)s"),
    MessageKind.CHANGES_CONFIRMED: _l("Your registration has been changed: %(event)s"),
    MessageKind.BOOKING_CANCELLED: _l("Place cancelled: %(event)s"),
    MessageKind.REGISTRATION_CANCELLED: _l("Registration cancelled: %(event)s"),
    MessageKind.PROMOTED: _l("You have a place from the waiting list: %(event)s"),
    MessageKind.REQUEST_APPROVED: _l("Your request has been approved: %(event)s"),
    MessageKind.REQUEST_DECLINED: _l("Your request has been declined: %(event)s"),
    MessageKind.MANAGE_LINK: _l("Your new private link: %(event)s"),
    MessageKind.RANKED_RESULT: _l("Your workshop places: %(event)s"),
    MessageKind.RANKED_OFFER: _l("A workshop place is offered to you: %(event)s"),
}

# Kinds whose email carries the registration's calendar file.
WITH_CALENDAR = frozenset(SUBJECTS) - {MessageKind.MANAGE_LINK}

# A bare address: no spaces, line breaks, angle brackets, quotes or commas.
ADDRESS_PATTERN = re.compile(r"^[^\s@<>()\[\],;:\"\\]+@[^\s@<>()\[\],;:\"\\]+\.[^\s@<>()\[\],;:\"\\]+$")


def header_text(value: str, limit: int) -> str:
    """Return ``value`` fit for a mail header: no line breaks or control characters, one line."""
    cleaned = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in value or "")
    return " ".join(cleaned.split())[:limit]


def is_plain_address(value: str) -> bool:
    """Tell whether ``value`` is a single bare email address safe to put in a header."""
    return len(value) <= 254 and bool(ADDRESS_PATTERN.match(value))


CHECKIN_QR_CID = "checkin-qr"


def checkin_qr_attachment(code: str) -> dict[str, Any]:
    """Describe the inline PNG of the check-in code's QR code, shown in the HTML email by its Content-ID.

    An inline part rather than a data: URI, which most mail clients block. The
    row keeps only the code: the image is drawn when the email is sent
    (``delivery.checkin_qr_png``), outside the registration's transaction.
    """
    return {
        "filename": "check-in.png", "content_type": "image/png", "qr_code": code,
        "content_id": CHECKIN_QR_CID, "disposition": "inline",
    }


def queue_registration_received(registration: Registration, token: str, now: datetime) -> OutboxMessage:
    """Queue the confirmation of a new registration, with its private link (flushes only)."""
    return queue_message(
        MessageKind.REGISTRATION_RECEIVED,
        registration,
        now,
        manage_url=absolute_url("registration.manage", token=token),
        confirm_url=(
            absolute_url("registration.confirm_email", token=token) if registration.is_awaiting_confirmation else None
        ),
    )


def queue_changes_confirmed(
    registration: Registration, added: Iterable[Booking], cancelled: Iterable[Booking], now: datetime
) -> OutboxMessage:
    """Queue the confirmation of changed choices (flushes only)."""
    return queue_message(
        MessageKind.CHANGES_CONFIRMED, registration, now, added=list(added), cancelled=list(cancelled)
    )


def queue_booking_cancelled(registration: Registration, booking: Booking, now: datetime) -> OutboxMessage:
    """Queue the confirmation that one place was cancelled (flushes only)."""
    return queue_message(MessageKind.BOOKING_CANCELLED, registration, now, booking=booking)


def queue_registration_cancelled(registration: Registration, now: datetime, unconfirmed: bool = False) -> OutboxMessage:
    """Queue the confirmation that the whole registration was cancelled (flushes only).

    ``unconfirmed``: cancelled because the email address was not confirmed in time.
    """
    return queue_message(MessageKind.REGISTRATION_CANCELLED, registration, now, unconfirmed=unconfirmed)


def queue_promoted(bookings: Iterable[Booking], now: datetime) -> list[OutboxMessage]:
    """Queue one email per registration whose waiting bookings got a place (flushes only)."""
    by_registration: dict[int, list[Booking]] = {}
    for booking in bookings:
        by_registration.setdefault(booking.registration_id, []).append(booking)
    messages = []
    for promoted in by_registration.values():
        registration = promoted[0].registration
        if registration.status == RegistrationStatus.ACTIVE:
            messages.append(queue_message(MessageKind.PROMOTED, registration, now, promoted=promoted))
    return messages


def queue_request_decided(booking: Booking, approved: bool, now: datetime) -> OutboxMessage:
    """Queue the organiser's answer to a request for a restricted session (flushes only)."""
    kind = MessageKind.REQUEST_APPROVED if approved else MessageKind.REQUEST_DECLINED
    return queue_message(kind, booking.registration, now, booking=booking)


def send_manage_link(event: Event, email: str, client_ip: str, now: datetime | None = None) -> None:
    """Mail a new private link to the live registration of ``email`` at ``event``, if there is one.

    The manage token is stored only as a hash, so a new token replaces the old
    one (the old link stops working). Says nothing about whether a registration
    exists; requests over the per-IP or per-registration limits do nothing.
    """
    now = now or utcnow()
    config = current_app.config
    throttle = _resend_throttle()
    ip_key = f"resend-link-ip:{client_ip}"
    with write_transaction():
        over_ip_limit = throttle.count(ip_key) >= config["OUTBOX_RESEND_MAX_PER_IP"]
        throttle.hit(ip_key)
        if over_ip_limit:
            current_app.logger.warning("Resend-link requests over the limit from %s", client_ip)
            return
        registration = db.session.execute(
            select(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.email_normalized == registration_services.normalize_email(email),
                Registration.status == RegistrationStatus.ACTIVE,
            )
            .with_for_update()
        ).scalar_one_or_none()
        if registration is None:
            return
        recent = db.session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.registration_id == registration.id,
                OutboxMessage.kind == MessageKind.MANAGE_LINK,
                OutboxMessage.created_at >= now - timedelta(hours=1),
            )
        ).scalar_one()
        if recent >= config["OUTBOX_RESEND_MAX_PER_HOUR"]:
            return
        token = registration_services.new_token()
        registration.manage_token_hash = registration_services.hash_token(token)
        registration.updated_at = now
        queue_message(
            MessageKind.MANAGE_LINK,
            registration,
            now,
            manage_url=absolute_url("registration.manage", token=token),
        )


def queue_message(kind: MessageKind, registration: Registration, now: datetime, **context: Any) -> OutboxMessage:
    """Render an email to the registration's participant in their language and add it to the outbox.

    Flushes only: the caller's transaction decides whether the email exists.
    """
    event = registration.event
    language = registration.language if registration.language in current_app.config["LANGUAGES"] else "pl"
    live = registration.live_bookings
    values: dict[str, Any] = {
        "registration": registration,
        "event": event,
        "bookings": live,
        "positions": registration_services.waitlist_positions(live),
        "confirmed": [b for b in live if b.status == BookingStatus.CONFIRMED],
        "waitlisted": [b for b in live if b.status == BookingStatus.WAITLISTED],
        "requested": [b for b in live if b.status == BookingStatus.REQUESTED],
        "manage_url": None,
        "resend_url": absolute_url("notifications.resend_link", slug=event.slug),
        "event_url": absolute_url("events.event", slug=event.slug),
        "organiser_name": event.series.organiser_name if event.series else "",
        "contact_email": event.contact_email,
        "language": language,
        "kind": kind.value,
    }
    values.update(context)
    with force_locale(language):
        title = localized(event, "title", language)
        subject = header_text(str(SUBJECTS[kind]) % {"event": title}, 300)
        values["subject"] = subject
        body_text = render_template(f"email/{kind.value}.txt", **values)
        body_html = render_template(f"email/{kind.value}.html", **values)
    attachments = []
    if kind in WITH_CALENDAR:
        ics = registration_ics(registration, language, mail_domain(), now)
        attachments.append({"filename": f"{event.slug}.ics", "content_type": "text/calendar", "content": ics.decode("utf-8")})
    if kind == MessageKind.REGISTRATION_RECEIVED and registration.checkin_code:
        attachments.append(checkin_qr_attachment(registration.checkin_code))
    recipient = registration.email.strip()
    contact = (event.contact_email or "").strip()
    message = OutboxMessage(
        kind=kind,
        event_id=event.id,
        registration_id=registration.id,
        recipient_email=recipient[:254],
        recipient_name=header_text(registration.full_name, 200),
        sender_name=header_text(values["organiser_name"] or "", 200),
        reply_to=contact if is_plain_address(contact) else "",
        language=language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachments=attachments,
        message_id=make_msgid(domain=mail_domain()),
        next_attempt_at=now,
        created_at=now,
    )
    if not is_plain_address(recipient):
        # Kept, so that organisers see who could not be told.
        message.status = MessageStatus.FAILED
        message.last_error = "invalid recipient address"
    db.session.add(message)
    db.session.flush()
    return message


INVITATION_SUBJECT = _l("Your invitation: %(event)s")


def queue_invitation(code: InvitationCode, session: Session, language: str, now: datetime) -> OutboxMessage:
    """Email an invitation code to ``code.recipient_email``, with the registration link (flushes only)."""
    event = session.event
    language = language if language in current_app.config["LANGUAGES"] else "pl"
    organiser_name = event.series.organiser_name if event.series else ""
    values: dict[str, Any] = {
        "event": event,
        "session": session,
        "code": code,
        "register_url": absolute_url("registration.register", slug=event.slug, code=code.code),
        "event_url": absolute_url("events.event", slug=event.slug),
        "organiser_name": organiser_name,
        "contact_email": event.contact_email,
        "language": language,
    }
    with force_locale(language):
        subject = header_text(str(INVITATION_SUBJECT) % {"event": localized(event, "title", language)}, 300)
        values["subject"] = subject
        values["session_title"] = localized(session, "title", language)
        body_text = render_template("email/invitation.txt", **values)
        body_html = render_template("email/invitation.html", **values)
    recipient = code.recipient_email.strip()
    contact = (event.contact_email or "").strip()
    message = OutboxMessage(
        kind=MessageKind.INVITATION,
        event_id=event.id,
        registration_id=None,
        recipient_email=recipient[:254],
        recipient_name="",
        sender_name=header_text(organiser_name or "", 200),
        reply_to=contact if is_plain_address(contact) else "",
        language=language,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        attachments=[],
        message_id=make_msgid(domain=mail_domain()),
        next_attempt_at=now,
        created_at=now,
    )
    if not is_plain_address(recipient):
        message.status = MessageStatus.FAILED
        message.last_error = "invalid recipient address"
    db.session.add(message)
    db.session.flush()
    return message


def _resend_throttle():  # type: ignore[no-untyped-def]
    """Return the counter of resend requests per IP: the login throttle's store, one-hour window."""
    from ..auth.throttle import DatabaseThrottle, RedisThrottle

    window = timedelta(hours=1)
    url = current_app.config.get("REDIS_URL")
    return RedisThrottle(url, window) if url else DatabaseThrottle(window)
