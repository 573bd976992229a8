"""GDPR (RODO): a participant's data export, erasure, marketing consent, and the purge of old events."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from ..audit.models import AuditEntry
from ..audit.services import record
from ..db import retry_on_contention, utcnow, write_transaction
from ..events.models import Event, Session
from ..extensions import db
from ..notifications.models import MessageKind, MessageStatus, OutboxMessage
from . import bookings, questions
from .errors import ConsentNotRenewable, RegistrationErased
from .models import LIVE_BOOKING_STATUSES, InvitationCode, Registration, RegistrationStatus
from .services import hash_token

ERASED = "—"


def export_data(registration: Registration) -> dict[str, Any]:
    """Return everything stored about the participant, as JSON-ready data."""
    event = registration.event
    messages = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.registration_id == registration.id).order_by(OutboxMessage.id)
    ).scalars()
    return {
        "event": {
            "slug": event.slug,
            "title": event.title_pl,
            "city": event.city,
            "starts_at": event.starts_at.isoformat(),
        },
        "registration": {
            "first_name": registration.first_name,
            "last_name": registration.last_name,
            "email": registration.email,
            "phone": registration.phone,
            "organisation": registration.organisation,
            "position": registration.position,
            "city": registration.city,
            "category": registration.category.value,
            "language": registration.language,
            "status": registration.status.value,
            "consent": {
                "version": registration.consent_version,
                "given_at": registration.consent_at.isoformat(),
                "source": registration.consent_source,
                "marketing": registration.has_marketing_consent,
                "marketing_at": registration.marketing_consent_at.isoformat()
                if registration.marketing_consent_at
                else None,
            },
            "checkin_code": registration.checkin_code,
            "created_at": registration.created_at.isoformat(),
            "updated_at": registration.updated_at.isoformat(),
        },
        "bookings": [
            {
                "session": b.session.title_pl,
                "starts_at": b.session.starts_at.isoformat(),
                "group": b.group.label if b.group else None,
                "status": b.status.value,
                "rank": b.rank,
                "created_at": b.created_at.isoformat(),
            }
            for b in registration.bookings
        ],
        "ranked_choices": [{"session": p.session.title_pl, "rank": p.rank} for p in registration.preferences],
        "answers": _answers_export(registration),
        "emails": [
            {
                "kind": m.kind.value,
                "subject": m.subject,
                "status": m.status.value,
                "created_at": m.created_at.isoformat(),
            }
            for m in messages
        ],
    }


def _answers_export(registration: Registration) -> list[dict[str, Any]]:
    """Return the answers to the event's questions, each with its question in both languages."""
    answers = questions.answers_of(registration.id)
    return [
        {
            "question": question.label_pl,
            "question_en": question.label_en,
            "answer": questions.display_value(question, answers[question.id], registration.language),
            "special_category": question.is_special_category,
        }
        for question in questions.event_questions(registration.event_id, include_hidden=True)
        if question.id in answers
    ]


@retry_on_contention()
def erase_registration(registration: Registration, now: datetime | None = None, actor: str = "participant") -> None:
    """Anonymise a registration: its places go through the normal cancel path first.

    The waiting lists move up (those promoted are emailed), emails still queued
    for the participant are dropped and the bodies of sent ones emptied; the
    private link stops working. Counts of bookings stay for the statistics.
    """
    now = now or utcnow()
    with write_transaction():
        # Locked first, like every use case on one registration: a cancel racing with the
        # erasure runs before or after it, never half-way.
        registration = bookings.lock_registration_places(registration.id)
        if registration.anonymised_at is not None:
            return
        for booking in sorted(registration.bookings, key=lambda b: b.session_id):
            if booking.status in LIVE_BOOKING_STATUSES:
                bookings.cancel(booking, now)
        _anonymise(registration, now)
        db.session.add(
            AuditEntry(
                at=now,
                actor_label=actor,
                action="gdpr_erase",
                event_id=registration.event_id,
                registration_id=registration.id,
                details={},
            )
        )


def _anonymise(registration: Registration, now: datetime) -> None:
    """Blank the personal fields of a registration and its emails (flushes only)."""
    registration.first_name = ERASED
    registration.last_name = ERASED
    registration.email = f"erased-{registration.id}@invalid"
    registration.email_normalized = registration.email
    registration.phone = ""
    registration.organisation = ""
    registration.position = ""
    registration.city = ""
    if hasattr(registration, "search_text"):
        registration.search_text = ""
    registration.has_marketing_consent = False
    registration.marketing_consent_at = None
    registration.status = RegistrationStatus.CANCELLED
    registration.manage_token_hash = hash_token(secrets.token_urlsafe(32))
    registration.anonymised_at = now
    registration.updated_at = now
    for preference in list(registration.preferences):
        db.session.delete(preference)
    questions.erase_answers(registration.id)
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.registration_id == registration.id,
            OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]),
        )
    )
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.registration_id == registration.id)
        # last_error too: an SMTP refusal often quotes the address ("550 <jan@example.com>: no such user").
        .values(
            recipient_email=registration.email,
            recipient_name="",
            subject=ERASED,
            body_text="",
            body_html="",
            snapshot=None,
            attachments=[],
            redact=[],
            last_error="",
        )
    )
    db.session.flush()


@dataclass
class PurgeResult:
    """What a purge did (or would do)."""

    events: int
    registrations: int


def purge_before(
    before: datetime, dry_run: bool = False, now: datetime | None = None, actor: str = "cli"
) -> PurgeResult:
    """Anonymise the registrations of events that ended before ``before`` (idempotent).

    Bookings keep their statuses, so aggregate counts survive. ``actor`` names
    who ran it in the audit log (the command line, or the worker's retention purge).
    """
    now = now or utcnow()
    query = (
        select(Registration)
        .join(Event, Event.id == Registration.event_id)
        .where(Event.ends_at < before, Registration.anonymised_at.is_(None))
        .order_by(Registration.id)
    )
    if dry_run:
        people = db.session.execute(query).scalars().all()
        return PurgeResult(len({r.event_id for r in people}), len(people))
    events: set[int] = set()
    count = 0
    with write_transaction():
        for registration in db.session.execute(query).scalars().all():
            events.add(registration.event_id)
            was_active = registration.status == RegistrationStatus.ACTIVE
            _anonymise(registration, now)
            # The event is over: its history stays as it was, only the person is gone.
            registration.status = RegistrationStatus.ACTIVE if was_active else RegistrationStatus.CANCELLED
            count += 1
        _forget_invitations(before)
        db.session.add(
            AuditEntry(
                at=now,
                actor_label=actor,
                action="gdpr_purge",
                details={"before": before.isoformat(), "registrations": count},
            )
        )
    return PurgeResult(len(events), count)


def _forget_invitations(before: datetime) -> None:
    """Erase the addresses that invitations of events ended before ``before`` went to (flushes only).

    Invited people may never have registered, so the registrations' purge does not reach them.
    """
    ended = select(Event.id).where(Event.ends_at < before)
    db.session.execute(
        update(InvitationCode)
        .where(InvitationCode.session_id.in_(select(Session.id).where(Session.event_id.in_(ended))))
        .values(recipient_email="")
    )
    invitations = (OutboxMessage.kind == MessageKind.INVITATION) & OutboxMessage.event_id.in_(ended)
    db.session.execute(
        delete(OutboxMessage).where(
            invitations, OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING])
        )
    )
    db.session.execute(
        update(OutboxMessage)
        .where(invitations)
        .values(
            recipient_email=ERASED,
            recipient_name="",
            subject=ERASED,
            body_text="",
            body_html="",
            snapshot=None,
            redact=[],
            last_error="",
        )
    )


def retention_cutoff(now: datetime | None = None) -> datetime | None:
    """Return the end before which an event's registrations are past retention, or None when retention is off.

    ``GDPR_RETENTION_DAYS`` (0 turns it off) counts from the event's end.
    """
    days = current_app.config.get("GDPR_RETENTION_DAYS") or 0
    if days <= 0:
        return None
    return (now or utcnow()) - timedelta(days=days)


def purge_past_retention(now: datetime | None = None) -> PurgeResult | None:
    """Anonymise the registrations of events ended longer than GDPR_RETENTION_DAYS ago (the worker's daily task).

    Returns what it did, or None with retention off; logs one line.
    """
    cutoff = retention_cutoff(now)
    if cutoff is None:
        return None
    result = purge_before(cutoff, actor="retention")
    current_app.logger.info(
        "GDPR retention purge: anonymised %d registrations of %d events that ended before %s UTC.",
        result.registrations,
        result.events,
        f"{cutoff:%Y-%m-%d %H:%M}",
    )
    return result


def set_marketing_consent(registration: Registration, given: bool, now: datetime | None = None) -> bool:
    """Give or withdraw the participant's consent to news about future events; return whether it changed.

    Withdrawing works as long as the data exists, whatever the registration's
    status (GDPR art. 7(3): withdrawing must be as easy as giving); giving it
    again needs a live registration. Checked in the UPDATE itself, so an
    erasure committed meanwhile is never undone.

    :raises RegistrationErased: the data has been erased.
    :raises ConsentNotRenewable: consent given from a cancelled registration.
    """
    now = now or utcnow()
    registration_id, event_id = registration.id, registration.event_id
    with write_transaction():
        conditions = [
            Registration.id == registration_id,
            Registration.anonymised_at.is_(None),
            Registration.has_marketing_consent == (not given),
        ]
        if given:
            conditions.append(Registration.status == RegistrationStatus.ACTIVE)
        changed = db.session.execute(
            update(Registration)
            .where(*conditions)
            .values(has_marketing_consent=given, marketing_consent_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            current = db.session.execute(
                select(Registration.anonymised_at, Registration.has_marketing_consent).where(
                    Registration.id == registration_id
                )
            ).one()
            if current.anonymised_at is not None:
                raise RegistrationErased()
            if current.has_marketing_consent == given:
                return False
            raise ConsentNotRenewable()
        record(
            "registration.marketing_consent_given" if given else "registration.marketing_consent_withdrawn",
            event_id=event_id,
            registration_id=registration_id,
            actor="participant",
            source="private link",
        )
    return True
