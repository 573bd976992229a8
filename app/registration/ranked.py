"""When ranked choices may change, and the published run of an event."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from ..events.models import Event
from ..extensions import db
from ..ranking.models import AllocationRun, RunStatus

AFTER_PUBLICATION = _l("The workshop places have been allocated, so your ranked choices can no longer be changed.")
AFTER_DEADLINE = _l("The deadline for ranking workshops has passed, so your ranked choices can no longer be changed.")
# After publication, what is left of the ranked workshops is booked like any session: a place if one is free.
PICK_ONE = _l(
    "The allocation has been published: remaining places are now given first come, first served. "
    "Choose one workshop at this time."
)
# Unlike a restricted session (a request for the organiser), a restricted ranked workshop is refused.
RANKED_NOT_ELIGIBLE = _l("This workshop is open only to some participant categories.")
HOLDS_PLACE = _l("You already have a place in a workshop at this time. Cancel it first to choose another one.")


def published_run(event_id: int) -> AllocationRun | None:
    """Return the event's published allocation run, or None."""
    return db.session.execute(
        select(AllocationRun).where(AllocationRun.event_id == event_id, AllocationRun.status == RunStatus.PUBLISHED)
    ).scalar_one_or_none()


def allocation_published(event_id: int) -> bool:
    """Tell whether the event's allocation is published, so that ranked workshops are booked first come."""
    return db.session.execute(_PUBLISHED_RUN_ID, {"event_id": event_id}).first() is not None


# Built once: every registration asks (building the statement cost more than running it).
_PUBLISHED_RUN_ID = select(AllocationRun.id).where(
    AllocationRun.event_id == bindparam("event_id"), AllocationRun.status == RunStatus.PUBLISHED
)


def ranking_closed_reason(event: Event, now: datetime) -> object | None:
    """Return why ranked choices can no longer change at ``now`` (a translatable message), or None."""
    if published_run(event.id) is not None:
        return AFTER_PUBLICATION
    deadline = event.ranking_deadline
    if deadline is not None and now >= deadline:
        return AFTER_DEADLINE
    return None
