"""When the public face of events last changed: the ``Last-Modified`` of the JSON API and the calendar feeds.

The schema keeps no version of an event, so the time is the newest of what
every change leaves behind: the event's creation, the organiser's edits of
the event, its programme and its series (each writes an audit entry), the
registrations and bookings (each change stamps ``updated_at``: places taken,
freed, held or confirmed), and the registration window's opening and closing
and the event's end once they have passed (the answer's ``registration_open``
and the upcoming/past split change then). The ``ETag``, a digest of the answer
itself, is exact; this time is what clients that only send
``If-Modified-Since`` are compared against.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import func, or_, select

from ..audit.models import AuditEntry
from ..extensions import db
from ..registration.models import Booking, Registration
from .models import Event, Session

# Audit actions that change what the public sees of an event (its status, texts, programme, series).
PUBLIC_ACTIONS = ("event.%", "session.%", "group.%", "series.%")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def public_changed_at(
    events: Collection[Event], now: datetime, with_availability: bool = True, any_event_edit: bool = False
) -> datetime:
    """Return when the public data of ``events`` last changed (never later than ``now``).

    ``with_availability`` adds the registrations and bookings (places left); the list
    of events shows no counts and leaves them out. ``any_event_edit`` counts the
    organisers' edits of every event, for an answer listing several: an event
    unpublished since, no longer among ``events``, changed the list too.
    """
    if not events:
        changed = [EPOCH]
    else:
        changed = [e.created_at for e in events]
        for e in events:
            changed += [t for t in (e.registration_opens_at, e.registration_closes_at, e.ends_at) if t and t <= now]
    ids = sorted(e.id for e in events)
    actions = or_(*(AuditEntry.action.like(pattern) for pattern in PUBLIC_ACTIONS))
    edits = select(func.max(AuditEntry.at)).where(actions)
    if not any_event_edit:
        # Series edits and deleted events name no event: any of them counts for every event.
        edits = edits.where(or_(AuditEntry.event_id.in_(ids), AuditEntry.event_id.is_(None)))
    changed.append(db.session.execute(edits).scalar())
    if with_availability and ids:
        changed.append(
            db.session.execute(select(func.max(Registration.updated_at)).where(Registration.event_id.in_(ids))).scalar()
        )
        changed.append(
            db.session.execute(
                select(func.max(Booking.updated_at))
                .join(Session, Session.id == Booking.session_id)
                .where(Session.event_id.in_(ids))
            ).scalar()
        )
    return min(max(t for t in changed if t is not None), now)
