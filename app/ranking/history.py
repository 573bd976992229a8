"""A participant's history across the meetings of a series, recognised by normalised email.

Two facts count for the "priority for those who missed out before" option of an event:

- *missed out*: at an earlier meeting, an outcome of its published allocation
  run gave them no workshop in a ranked time slot;
- *no-show*: at an earlier meeting that is over, they were a confirmed (active)
  participant and were never checked in.

Check-in lives in ``app.checkin``, imported lazily: without that module, or for
a meeting where nobody at all was checked in (check-in was not used there),
attendance is unknown and nobody is treated as a no-show.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..checkin.models import CheckIn
from ..db import utcnow
from ..events.models import Event
from ..extensions import db
from ..registration.models import Registration, RegistrationStatus
from .models import AllocationOutcome, AllocationRun, RunStatus

MISSED_OUT = "priority_missed_out"
NO_SHOW = "priority_no_show"


@dataclass(frozen=True)
class SeriesHistory:
    """The latest earlier meeting where someone missed out, and the latest they did not attend."""

    missed_out: Event | None = None
    no_show: Event | None = None

    @property
    def tier(self) -> int:
        """Return the allocation tier: +1 for missing out, -1 for not attending (both: 0)."""
        return (self.missed_out is not None) - (self.no_show is not None)

    def reasons(self) -> list[dict[str, object]]:
        """Return the priority that applied as stored outcome reasons (empty at tier 0)."""
        if self.tier > 0 and self.missed_out is not None:
            return [{"code": MISSED_OUT, "session_id": None, "rank": None, "params": _meeting(self.missed_out)}]
        if self.tier < 0 and self.no_show is not None:
            return [{"code": NO_SHOW, "session_id": None, "rank": None, "params": _meeting(self.no_show)}]
        return []


def _meeting(event: Event) -> dict[str, object]:
    """Name an earlier meeting for the explanation (both languages: the reader's is chosen later)."""
    return {
        "event_id": event.id,
        "title_pl": event.title_pl,
        "title_en": event.title_en or event.title_pl,
        "city": event.city,
        "starts_at": event.starts_at.isoformat(),
    }


def earlier_meetings(event: Event) -> list[Event]:
    """Return the meetings of the event's series that started before it, oldest first."""
    return list(
        db.session.execute(
            select(Event)
            .where(Event.series_id == event.series_id, Event.id != event.id, Event.starts_at < event.starts_at)
            .order_by(Event.starts_at, Event.id)
        ).scalars()
    )


def attended(registration_ids: Collection[int]) -> set[int]:
    """Return those of the registrations checked in at their event (or any of its sessions)."""
    if not registration_ids:
        return set()
    ids = list(registration_ids)
    # An undone check-in (a mistaken scan) is kept as history but does not count.
    return set(
        db.session.execute(
            select(CheckIn.registration_id)
            .where(CheckIn.registration_id.in_(ids), CheckIn.undone_at.is_(None))
            .distinct()
        ).scalars()
    )


def missed_out(events: Collection[Event]) -> dict[str, list[Event]]:
    """Return, by normalised email, the meetings among ``events`` where someone was left without a ranked place."""
    by_id = {e.id: e for e in events}
    if not by_id:
        return {}
    rows = db.session.execute(
        select(Registration.email_normalized, AllocationRun.event_id)
        .join(AllocationOutcome, AllocationOutcome.registration_id == Registration.id)
        .join(AllocationRun, AllocationRun.id == AllocationOutcome.run_id)
        .where(
            AllocationRun.event_id.in_(list(by_id)),
            AllocationRun.status == RunStatus.PUBLISHED,
            AllocationOutcome.session_id.is_(None),
        )
        .distinct()
    ).all()
    found: dict[str, list[Event]] = {}
    for email, event_id in rows:
        found.setdefault(email, []).append(by_id[event_id])
    return found


def no_shows(events: Collection[Event], now: datetime) -> dict[str, list[Event]]:
    """Return, by normalised email, the meetings among ``events`` (over by ``now``) someone confirmed did not attend.

    A meeting where nobody was checked in is skipped: attendance there is unknown.
    """
    past = {e.id: e for e in events if e.ends_at <= now}
    if not past:
        return {}
    registrations = db.session.execute(
        select(Registration.id, Registration.event_id, Registration.email_normalized).where(
            Registration.event_id.in_(list(past)), Registration.status == RegistrationStatus.ACTIVE
        )
    ).all()
    present = attended([r.id for r in registrations])
    checked = {r.event_id for r in registrations if r.id in present}
    found: dict[str, list[Event]] = {}
    for reg_id, event_id, email in registrations:
        if event_id in checked and reg_id not in present:
            found.setdefault(email, []).append(past[event_id])
    return found


def series_history(event: Event, emails: Collection[str], now: datetime | None = None) -> dict[str, SeriesHistory]:
    """Return the history at earlier meetings of the series for each of these normalised emails (only non-empty ones)."""
    wanted = set(emails)
    earlier = earlier_meetings(event)
    if not wanted or not earlier:
        return {}
    missed = missed_out(earlier)
    absent = no_shows(earlier, now or utcnow())
    history = {}
    for email in wanted & (set(missed) | set(absent)):
        history[email] = SeriesHistory(
            missed_out=_latest(missed.get(email, [])), no_show=_latest(absent.get(email, []))
        )
    return history


def _latest(events: list[Event]) -> Event | None:
    """Return the latest of the meetings, or None."""
    return max(events, key=lambda e: (e.starts_at, e.id), default=None)
