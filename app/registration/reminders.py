"""Reminders before an event: an email some days or hours before the start, exactly once per person and reminder.

Each number in ``Event.reminder_hours`` is one reminder, due that many hours
before the event starts. The outbox worker calls :func:`send_due_reminders`
every few minutes (``REMINDER_INTERVAL``); ``flask reminders send`` does the
same by hand. The rules:

- only live registrations get one: not cancelled, not anonymised, not still
  waiting for their email confirmation; nobody gets a reminder that fell due
  before they registered (their confirmation has just told them everything);
- a reminder is never sent once the event has started; one whose time passed
  while the worker was stopped goes out late, once, if the event has not
  started. When several are due at once for a person, only the one closest to
  the event is sent and the others are recorded as superseded;
- "exactly once" is the database's guarantee: the ``reminder_sent`` row,
  unique per (registration, hours before), is inserted with ``ON CONFLICT DO
  NOTHING`` in the transaction that queues the email, so of several workers
  only one queues it.

The manage token is stored only as a hash, so a reminder carries a new private
link, which replaces the earlier ones (as the lost-link email does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from ..db import insert_once, utcnow, write_transaction
from ..events.models import Event, EventStatus
from ..extensions import db
from ..notifications.models import MessageStatus, OutboxMessage
from . import emails
from .models import Registration, RegistrationStatus, ReminderSent
from .services import hash_token, new_token

MAX_REMINDER_HOURS = 60 * 24  # sixty days before the start
MAX_REMINDERS = 5

reminder_table = ReminderSent.__table__


def due_hours(event: Event, now: datetime) -> list[int]:
    """Return the event's reminders (hours before) that are due at ``now``, earliest due first; none once it started."""
    if now >= event.starts_at:
        return []
    return sorted(
        (h for h in set(event.reminder_hours or []) if event.starts_at - timedelta(hours=h) <= now), reverse=True
    )


def events_with_due_reminders(now: datetime) -> list[Event]:
    """Return the published or closed events that have not started and have a reminder due at ``now``."""
    events = db.session.execute(
        select(Event)
        .where(
            Event.status != EventStatus.DRAFT,
            Event.starts_at > now,
            Event.starts_at <= now + timedelta(hours=MAX_REMINDER_HOURS),
        )
        .order_by(Event.starts_at, Event.id)
    ).scalars()
    return [event for event in events if due_hours(event, now)]


def owed_reminders(event: Event, now: datetime) -> dict[int, list[int]]:
    """Map each registration of ``event`` owed a reminder at ``now`` to the reminders (hours before) it is owed.

    A read without locks: :func:`send_reminder` decides, under the guard.
    """
    hours = due_hours(event, now)
    if not hours:
        return {}
    latest_due = event.starts_at - timedelta(hours=min(hours))
    people = db.session.execute(
        select(Registration.id, Registration.created_at).where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.ACTIVE,
            Registration.anonymised_at.is_(None),
            or_(Registration.confirmation_expires_at.is_(None), Registration.confirmed_email_at.is_not(None)),
            Registration.created_at < latest_due,
        )
    ).all()
    given = set(
        db.session.execute(
            select(ReminderSent.registration_id, ReminderSent.hours_before).where(ReminderSent.event_id == event.id)
        ).all()
    )
    owed: dict[int, list[int]] = {}
    for registration_id, created_at in people:
        missing = [
            h for h in hours if created_at < event.starts_at - timedelta(hours=h) and (registration_id, h) not in given
        ]
        if missing:
            owed[registration_id] = missing
    return dict(sorted(owed.items()))


def send_reminder(registration_id: int, hours: list[int], now: datetime) -> bool:
    """Queue the reminder closest to the event among ``hours`` for one registration; tell whether it was queued.

    Claims every reminder in ``hours``, the earlier ones as superseded; one
    claimed already by another worker or an earlier run is left alone.
    """
    with write_transaction():
        registration = db.session.execute(
            select(Registration)
            .where(Registration.id == registration_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one_or_none()
        if (
            registration is None
            or registration.status != RegistrationStatus.ACTIVE
            or registration.anonymised_at is not None
            or registration.is_awaiting_confirmation
            or now >= registration.event.starts_at
        ):
            return False
        latest = min(hours)
        # The earlier ones are overtaken whether or not the latest is still to be sent.
        claimed = [
            h
            for h in sorted(set(hours), reverse=True)
            if insert_once(
                reminder_table,
                event_id=registration.event_id,
                registration_id=registration.id,
                hours_before=h,
                sent_at=now,
                is_superseded=h != latest,
            )
        ]
        if latest not in claimed:
            return False
        token = new_token()
        registration.manage_token_hash = hash_token(token)
        registration.updated_at = now
        message = emails.queue_reminder(registration, token, latest, now)
        db.session.execute(
            update(reminder_table)
            .where(reminder_table.c.registration_id == registration.id, reminder_table.c.hours_before == latest)
            .values(outbox_message_id=message.id)
        )
    return True


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue every reminder due at ``now``, one transaction per person; return how many emails were queued."""
    now = now or utcnow()
    work = [(event.id, owed) for event in events_with_due_reminders(now) if (owed := owed_reminders(event, now))]
    db.session.rollback()  # end the read: each reminder is its own write transaction
    queued = 0
    for _event_id, owed in work:
        for registration_id, hours in owed.items():
            queued += send_reminder(registration_id, hours, now)
    return queued


@dataclass
class ReminderStatus:
    """What the organiser sees of one reminder of an event."""

    hours_before: int
    due_at: datetime
    is_configured: bool  # still in the event's settings (else: sent under an earlier setting)
    sent: int  # emails queued
    delivered: int  # of those, delivered by the mail server
    superseded: int  # overtaken by a later reminder due at the same time
    last_sent_at: datetime | None


def reminder_overview(event: Event) -> list[ReminderStatus]:
    """Return every reminder of the event, configured or sent, earliest due first, with what went out when."""
    rows = db.session.execute(
        select(
            ReminderSent.hours_before,
            func.count().filter(ReminderSent.is_superseded.is_(False)),
            func.count().filter(OutboxMessage.status == MessageStatus.SENT),
            func.count().filter(ReminderSent.is_superseded.is_(True)),
            func.max(ReminderSent.sent_at).filter(ReminderSent.is_superseded.is_(False)),
        )
        .outerjoin(OutboxMessage, OutboxMessage.id == ReminderSent.outbox_message_id)
        .where(ReminderSent.event_id == event.id)
        .group_by(ReminderSent.hours_before)
    ).all()
    seen = {row[0]: row for row in rows}
    configured = set(event.reminder_hours or [])
    overview = []
    for hours in sorted(configured | set(seen), reverse=True):
        _hours, sent, delivered, superseded, last = seen.get(hours, (hours, 0, 0, 0, None))
        overview.append(
            ReminderStatus(
                hours_before=hours,
                due_at=event.starts_at - timedelta(hours=hours),
                is_configured=hours in configured,
                sent=sent,
                delivered=delivered,
                superseded=superseded,
                last_sent_at=last,
            )
        )
    return overview
