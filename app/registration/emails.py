"""The emails of registration: received, changed, cancelled, promoted, decided, offered, invitations.

Each is rendered in the participant's language and queued through the outbox
(``notifications.services.queue_email``) in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from ..events.models import Session
from ..i18n import localized
from ..notifications.links import absolute_url, mail_domain
from ..notifications.models import MessageKind, OutboxMessage
from ..notifications.services import email_language, queue_email
from .calendar import registration_ics
from .models import Booking, BookingStatus, InvitationCode, Registration, RegistrationStatus
from .waitlist import waitlist_positions

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
    MessageKind.REMINDER: _l("Reminder: %(event)s"),
}

# Kinds whose email carries the registration's calendar file.
WITH_CALENDAR = frozenset(SUBJECTS) - {MessageKind.MANAGE_LINK}

# Kinds whose email shows the check-in code's QR code.
WITH_CHECKIN_QR = frozenset({MessageKind.REGISTRATION_RECEIVED, MessageKind.REMINDER})

CHECKIN_QR_CID = "checkin-qr"


def checkin_qr_attachment(code: str) -> dict[str, Any]:
    """Describe the inline PNG of the check-in code's QR code, shown in the HTML email by its Content-ID.

    An inline part rather than a data: URI, which most mail clients block. The
    row keeps only the code: the image is drawn when the email is sent
    (``delivery.checkin_qr_png``), outside the registration's transaction.
    """
    return {
        "filename": "check-in.png",
        "content_type": "image/png",
        "qr_code": code,
        "content_id": CHECKIN_QR_CID,
        "disposition": "inline",
    }


def queue_registration_received(registration: Registration, token: str, now: datetime) -> OutboxMessage:
    """Queue the confirmation of a new registration, with its private link (flushes only).

    The busiest email (one per registration, in the rush): what it says is frozen
    here (:func:`registration_snapshot`) and rendered when it is delivered, outside
    the participant's request.
    """
    return queue_message(
        MessageKind.REGISTRATION_RECEIVED,
        registration,
        now,
        redact=[token],
        snapshot=True,
        manage_url=absolute_url("registration.manage", token=token),
        confirm_url=(
            absolute_url("registration.confirm_email", token=token) if registration.is_awaiting_confirmation else None
        ),
    )


def queue_changes_confirmed(
    registration: Registration, added: Iterable[Booking], cancelled: Iterable[Booking], now: datetime
) -> OutboxMessage:
    """Queue the confirmation of changed choices (flushes only)."""
    return queue_message(MessageKind.CHANGES_CONFIRMED, registration, now, added=list(added), cancelled=list(cancelled))


def queue_booking_cancelled(registration: Registration, booking: Booking, now: datetime) -> OutboxMessage:
    """Queue the confirmation that one place was cancelled (flushes only)."""
    return queue_message(MessageKind.BOOKING_CANCELLED, registration, now, booking=booking)


def queue_reminder(registration: Registration, token: str, hours_before: int, now: datetime) -> OutboxMessage:
    """Queue a reminder ``hours_before`` the event, with a new private link and the calendar (flushes only).

    ``token`` is the registration's new manage token (only its hash is stored,
    so the reminder's link replaces the earlier ones, as a lost-link email does).
    """
    return queue_message(
        MessageKind.REMINDER,
        registration,
        now,
        redact=[token],
        manage_url=absolute_url("registration.manage", token=token),
        hours_before=hours_before,
    )


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


def queue_message(
    kind: MessageKind,
    registration: Registration,
    now: datetime,
    subject: object | None = None,
    redact: Iterable[str] = (),
    snapshot: bool = False,
    **context: Any,
) -> OutboxMessage:
    """Queue an email of ``kind`` to the registration's participant, with their bookings (flushes only).

    ``subject`` replaces the kind's own (another domain's message about a registration).
    ``redact``: the manage token of a link in ``context``, kept in the outbox row only until it is sent.
    ``snapshot``: rendered when delivered, from :func:`registration_snapshot` (``context`` plain values only).
    """
    event = registration.event
    language = email_language(registration.language)
    live = registration.live_bookings
    values: dict[str, Any] = (
        registration_snapshot(registration, live, language)
        if snapshot
        else {
            "registration": registration,
            "bookings": live,
            "positions": waitlist_positions(live),
            "confirmed": [b for b in live if b.status == BookingStatus.CONFIRMED],
            "waitlisted": [b for b in live if b.status == BookingStatus.WAITLISTED],
            "requested": [b for b in live if b.status == BookingStatus.REQUESTED],
        }
    )
    values.update({"manage_url": None, **context})
    attachments = []
    if kind in WITH_CALENDAR:
        ics = registration_ics(registration, language, mail_domain(), now)
        attachments.append(
            {"filename": f"{event.slug}.ics", "content_type": "text/calendar", "content": ics.decode("utf-8")}
        )
    if kind in WITH_CHECKIN_QR and registration.checkin_code:
        attachments.append(checkin_qr_attachment(registration.checkin_code))
    return queue_email(
        kind,
        event,
        registration.email,
        language,
        subject or SUBJECTS[kind],
        now,
        values,
        recipient_name=registration.full_name,
        registration_id=registration.id,
        attachments=attachments,
        redact=redact,
        snapshot=snapshot,
    )


def _group_label(booking: Booking, language: str) -> str:
    """Return the booking's group as the email names it: "Grupa 2" / "Group 2" when unnamed."""
    with force_locale(language):
        return booking.group.label


def registration_snapshot(registration: Registration, live: list[Booking], language: str) -> dict[str, Any]:
    """Return what a registration email shows, as plain values in ``language``: the templates' context, frozen.

    The same names and attributes the templates read from the database objects
    (``booking.session.title``, ``registration.preferences`` …), so one template
    renders either. Booking ids are text, as the waiting-list positions' keys
    become in JSON.
    """
    positions = waitlist_positions(live)
    bookings = [
        {
            "id": str(booking.id),
            "status": booking.status.value,
            "session": {
                "title": localized(booking.session, "title", language),
                "starts_at": booking.session.starts_at,
                "ends_at": booking.session.ends_at,
                "room": booking.session.room,
            },
            "group": {"name": booking.group.name, "label": _group_label(booking, language), "room": booking.group.room}
            if booking.group
            else None,
        }
        for booking in live
    ]
    return {
        "registration": {
            "first_name": registration.first_name,
            "checkin_code": registration.checkin_code,
            "confirmation_expires_at": registration.confirmation_expires_at,
            "preferences": [
                {"rank": p.rank, "session": {"title": localized(p.session, "title", language)}}
                for p in registration.preferences
            ],
        },
        "bookings": bookings,
        "positions": {str(booking_id): position for booking_id, position in positions.items()},
        "confirmed": [b for b in bookings if b["status"] == BookingStatus.CONFIRMED.value],
        "waitlisted": [b for b in bookings if b["status"] == BookingStatus.WAITLISTED.value],
        "requested": [b for b in bookings if b["status"] == BookingStatus.REQUESTED.value],
    }


INVITATION_SUBJECT = _l("Your invitation: %(event)s")


def queue_invitation(code: InvitationCode, session: Session, language: str, now: datetime) -> OutboxMessage:
    """Email an invitation code to ``code.recipient_email``, with the registration link (flushes only)."""
    event = session.event
    language = email_language(language)
    values: dict[str, Any] = {
        "session": session,
        "code": code,
        "register_url": absolute_url("registration.register", slug=event.slug, code=code.code),
        "session_title": localized(session, "title", language),
    }
    return queue_email(MessageKind.INVITATION, event, code.recipient_email, language, INVITATION_SUBJECT, now, values)
