"""The organisers' daily email about requests awaiting their approval.

Once a day (Warsaw time, from ``APPROVAL_DIGEST_HOUR`` on), every enabled
account that may approve requests of an event (an administrator: every event;
an organiser: the events assigned) and has pending requests gets one email
listing the number per event, with links to the event's registrations. A row
of ``approval_digest_sent``, unique per (account, day), is inserted in the
transaction that queues the email: several workers send it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from ..auth.models import Organiser, Role
from ..db import insert_once, utcnow, write_transaction
from ..events.models import Event, Session
from ..extensions import db
from ..i18n import TIMEZONE, localized
from ..notifications.links import absolute_url
from ..notifications.models import MessageKind
from ..notifications.services import email_language, queue_email
from .models import ApprovalDigestSent, Booking, BookingStatus, Registration, RegistrationStatus

SUBJECT = _l("Requests awaiting your approval")

digest_table = ApprovalDigestSent.__table__


@dataclass
class PendingRequests:
    """An event with requests awaiting approval."""

    event: Event
    count: int


def pending_requests(now: datetime) -> list[PendingRequests]:
    """Return the events that have not ended with the number of requested places awaiting a decision."""
    rows = db.session.execute(
        select(Event, func.count(Booking.id))
        .join(Session, Session.event_id == Event.id)
        .join(Booking, Booking.session_id == Session.id)
        .join(Registration, Registration.id == Booking.registration_id)
        .where(
            Booking.status == BookingStatus.REQUESTED,
            Registration.status == RegistrationStatus.ACTIVE,
            Event.ends_at > now,
        )
        .group_by(Event.id)
        .order_by(Event.starts_at, Event.id)
    ).all()
    return [PendingRequests(event, count) for event, count in rows]


def digest_day(now: datetime) -> date | None:
    """Return the Warsaw day whose digest may go out at ``now``, or None before the day's hour."""
    local = now.astimezone(TIMEZONE)
    return local.date() if local.hour >= current_app.config["APPROVAL_DIGEST_HOUR"] else None


def send_approval_digests(now: datetime | None = None) -> int:
    """Queue today's digest to every account with requests to decide that has not had it; return how many."""
    now = now or utcnow()
    day = digest_day(now)
    if day is None:
        return 0
    pending = pending_requests(now)
    if not pending:
        return 0
    done = set(
        db.session.execute(select(ApprovalDigestSent.organiser_id).where(ApprovalDigestSent.day == day)).scalars()
    )
    accounts = db.session.execute(
        select(Organiser)
        .where(Organiser.is_enabled.is_(True), Organiser.role.in_([Role.ADMIN, Role.ORGANISER]))
        .order_by(Organiser.id)
    ).scalars()
    work = []
    for account in accounts:
        if account.id in done:
            continue
        assigned = {event.id for event in account.events}
        theirs = [item for item in pending if account.role == Role.ADMIN or item.event.id in assigned]
        if theirs:
            work.append((account.id, [(item.event.id, item.count) for item in theirs]))
    db.session.rollback()  # end the read: each digest is its own write transaction
    return sum(send_digest(account_id, counts, day, now) for account_id, counts in work)


def send_digest(organiser_id: int, counts: list[tuple[int, int]], day: date, now: datetime) -> bool:
    """Queue one account's digest of ``day`` (event ids and counts) unless it went out already; tell whether queued."""
    with write_transaction():
        account = db.session.get(Organiser, organiser_id)
        if account is None or not account.is_enabled:
            return False
        if not insert_once(digest_table, organiser_id=organiser_id, day=day, sent_at=now):
            return False
        # Accounts have no language of their own yet; one that gains it is written to in it.
        language = email_language(getattr(account, "language", None) or "pl")
        events = {
            event.id: event
            for event in db.session.execute(select(Event).where(Event.id.in_([e for e, _n in counts]))).scalars()
        }
        items = [
            {
                "title": localized(events[event_id], "title", language),
                "starts_at": events[event_id].starts_at,
                "count": count,
                "url": absolute_url(
                    "admin_registrations.index", event_id=event_id, booking_status=BookingStatus.REQUESTED.value
                ),
            }
            for event_id, count in counts
            if event_id in events
        ]
        message = queue_email(
            MessageKind.APPROVAL_DIGEST,
            None,
            account.email,
            language,
            SUBJECT,
            now,
            {"items": items, "total": sum(item["count"] for item in items)},
            recipient_name=account.name,
        )
        db.session.execute(
            update(digest_table)
            .where(digest_table.c.organiser_id == organiser_id, digest_table.c.day == day)
            .values(outbox_message_id=message.id)
        )
    return True
