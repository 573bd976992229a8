"""The counter audit: do ``taken`` of sessions and groups agree with the bookings holding places?

``Session.taken`` and ``Group.taken`` are kept by atomic UPDATEs (registration.capacity) in
the same transaction as the booking rows they count. A bug or a hand-made change in the
database can still make them drift; drift upwards hides free places, drift downwards
overbooks. The audit compares them with the booking rows in two aggregate queries; the
repair re-counts under row locks and never raises a counter past its capacity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import ColumnElement, Subquery, func, select

from ..audit.services import record
from ..db import retry_on_contention, write_transaction
from ..events.models import Group, Session
from ..extensions import db
from .models import PLACE_HOLDING_STATUSES, Booking

session_table = Session.__table__
group_table = Group.__table__
booking_table = Booking.__table__


class CounterKind(str, enum.Enum):
    """Which counter drifted."""

    SESSION = "session"
    GROUP = "group"


@dataclass(frozen=True)
class Drift:
    """A counter that disagrees with its booking rows."""

    kind: CounterKind
    id: int
    event_id: int
    title: str
    taken: int
    counted: int
    capacity: int | None

    @property
    def is_overbooked(self) -> bool:
        """Tell whether more bookings hold places than there are: only an organiser can settle that."""
        return self.capacity is not None and self.counted > self.capacity

    def describe(self) -> str:
        """Describe the drift in one English line (for the command line; titles, no personal data)."""
        line = f"{self.kind.value} {self.id} ({self.title!r}, event {self.event_id}): taken {self.taken}, bookings {self.counted}"
        if self.capacity is not None:
            line += f", capacity {self.capacity}"
        return line + (" - OVERBOOKED" if self.is_overbooked else "")


@dataclass(frozen=True)
class CounterAudit:
    """What an audit looked at and what it found."""

    sessions: int
    groups: int
    drifts: list[Drift]

    @property
    def is_consistent(self) -> bool:
        """Tell whether every counter agrees with its bookings."""
        return not self.drifts


class RepairOutcome(str, enum.Enum):
    """What the repair did with one drifting counter."""

    REPAIRED = "repaired"
    # More places held than the capacity: the counter shows the session or group full, the rest is an organiser's.
    OVERBOOKED = "overbooked"
    ALREADY_CONSISTENT = "already_consistent"  # agreed again when re-counted under the lock
    GONE = "gone"  # the session or group was deleted meanwhile


@dataclass(frozen=True)
class Repair:
    """One drifting counter and what became of it; ``drift`` holds the values re-counted under the lock."""

    drift: Drift
    outcome: RepairOutcome
    taken_after: int  # the counter after the repair


def _holding(column: ColumnElement[int], ids: list[int] | None) -> Subquery:
    """Count the place-holding bookings per value of ``column``, of ``ids`` if given (a subquery: key, counted)."""
    query = (
        select(column.label("key"), func.count().label("counted"))
        .where(booking_table.c.status.in_([status.value for status in PLACE_HOLDING_STATUSES]), column.is_not(None))
        .group_by(column)
    )
    if ids is not None:
        query = query.where(column.in_(ids))
    return query.subquery()


def _session_drifts(session_ids: list[int] | None = None) -> list[Drift]:
    """Return the sessions whose counter disagrees with their bookings (of ``session_ids`` if given)."""
    if session_ids == []:
        return []
    counts = _holding(booking_table.c.session_id, session_ids)
    counted = func.coalesce(counts.c.counted, 0)
    query = (
        select(
            session_table.c.id,
            session_table.c.event_id,
            session_table.c.title_pl,
            session_table.c.taken,
            session_table.c.capacity,
            counted.label("counted"),
        )
        .select_from(session_table.outerjoin(counts, counts.c.key == session_table.c.id))
        .where(session_table.c.taken != counted)
        .order_by(session_table.c.id)
    )
    if session_ids is not None:
        query = query.where(session_table.c.id.in_(session_ids))
    return [
        Drift(CounterKind.SESSION, row.id, row.event_id, row.title_pl, row.taken, row.counted, row.capacity)
        for row in db.session.execute(query)
    ]


def _group_drifts(group_ids: list[int] | None = None) -> list[Drift]:
    """Return the groups whose counter disagrees with their bookings (of ``group_ids`` if given)."""
    if group_ids == []:
        return []
    counts = _holding(booking_table.c.group_id, group_ids)
    counted = func.coalesce(counts.c.counted, 0)
    query = (
        select(
            group_table.c.id,
            session_table.c.event_id,
            session_table.c.title_pl,
            group_table.c.name,
            group_table.c.taken,
            group_table.c.capacity,
            counted.label("counted"),
        )
        .select_from(
            group_table.join(session_table, session_table.c.id == group_table.c.session_id).outerjoin(
                counts, counts.c.key == group_table.c.id
            )
        )
        .where(group_table.c.taken != counted)
        .order_by(group_table.c.id)
    )
    if group_ids is not None:
        query = query.where(group_table.c.id.in_(group_ids))
    return [
        Drift(
            CounterKind.GROUP,
            row.id,
            row.event_id,
            f"{row.title_pl} / {row.name}",
            row.taken,
            row.counted,
            row.capacity,
        )
        for row in db.session.execute(query)
    ]


def audit_counters() -> CounterAudit:
    """Compare every session's and group's ``taken`` with the bookings holding its places.

    Only reads, in the current transaction; each query reads a counter and its bookings in one
    snapshot, so a registration in flight never shows as drift.
    """
    sessions = db.session.execute(select(func.count()).select_from(session_table)).scalar_one()
    groups = db.session.execute(select(func.count()).select_from(group_table)).scalar_one()
    return CounterAudit(sessions, groups, _session_drifts() + _group_drifts())


@retry_on_contention()
def repair_counters(drifts: list[Drift], actor: str = "system") -> list[Repair]:
    """Set each drifting counter to its bookings, re-counted under row locks; never past its capacity.

    A counter whose bookings exceed its capacity comes back as OVERBOOKED: it is raised to
    the capacity (so that nobody else books into the overbooking) and no further, since the
    database refuses ``taken`` above the capacity and the capacity is an organiser's decision.
    Each change is written to the audit log.
    """
    group_ids = sorted({d.id for d in drifts if d.kind == CounterKind.GROUP})
    session_ids = {d.id for d in drifts if d.kind == CounterKind.SESSION}
    if group_ids:
        # A registration locks a session before its groups: the sessions of the groups are
        # locked too, first, so that the repair takes its locks in the same order.
        session_ids |= set(
            db.session.execute(select(group_table.c.session_id).where(group_table.c.id.in_(group_ids))).scalars()
        )
    repairs: list[Repair] = []
    with write_transaction():
        lock_counters(sorted(session_ids), group_ids)
        # Counted after the locks: a registration or cancellation that changed a counter
        # before has committed its bookings too, one that comes after will change it again.
        current = {(d.kind, d.id): d for d in _session_drifts(sorted(session_ids))}
        current |= {(d.kind, d.id): d for d in _group_drifts(group_ids)}
        existing = _existing_ids(session_ids, group_ids)
        for drift in drifts:
            now = current.get((drift.kind, drift.id))
            if now is None:
                gone = drift.id not in existing[drift.kind]
                outcome = RepairOutcome.GONE if gone else RepairOutcome.ALREADY_CONSISTENT
                repairs.append(Repair(drift, outcome, drift.counted))
            elif now.capacity is not None and now.counted > now.capacity:
                if now.taken < now.capacity:
                    _set_taken(now, now.capacity, actor)
                repairs.append(Repair(now, RepairOutcome.OVERBOOKED, now.capacity))
            else:
                _set_taken(now, now.counted, actor)
                repairs.append(Repair(now, RepairOutcome.REPAIRED, now.counted))
    return repairs


def lock_counters(session_ids: list[int], group_ids: list[int]) -> None:
    """Lock the sessions, then the groups, each in ascending id order, until commit.

    PostgreSQL takes row locks (FOR UPDATE locks the rows in the ORDER BY order); SQLite
    ignores FOR UPDATE, but there the write transaction holds the database's only write lock.
    """
    for table, ids in ((session_table, session_ids), (group_table, group_ids)):
        if ids:
            db.session.execute(select(table.c.id).where(table.c.id.in_(ids)).order_by(table.c.id).with_for_update())


def _existing_ids(session_ids: set[int], group_ids: list[int]) -> dict[CounterKind, set[int]]:
    """Return which of the sessions and groups still exist."""
    return {
        CounterKind.SESSION: set(
            db.session.execute(select(session_table.c.id).where(session_table.c.id.in_(session_ids))).scalars()
        ),
        CounterKind.GROUP: set(
            db.session.execute(select(group_table.c.id).where(group_table.c.id.in_(group_ids))).scalars()
        ),
    }


def _set_taken(drift: Drift, taken: int, actor: str) -> None:
    """Write ``taken`` into the drifting counter and the change into the audit log (flushes only)."""
    table = session_table if drift.kind == CounterKind.SESSION else group_table
    db.session.execute(table.update().where(table.c.id == drift.id).values(taken=taken))
    record(
        f"{drift.kind.value}.counter_repaired",
        event_id=drift.event_id,
        session_id=drift.id if drift.kind == CounterKind.SESSION else None,
        actor=actor,
        group_id=drift.id if drift.kind == CounterKind.GROUP else None,
        taken_before=drift.taken,
        taken_after=taken,
        bookings=drift.counted,
    )
    db.session.flush()


def health_check() -> tuple[bool, dict[str, object]]:
    """Answer the deep health check: whether the counters agree, with only the number of drifting rows."""
    audit = audit_counters()
    if audit.is_consistent:
        return True, {"counters": "ok"}
    return False, {"counters": "drift", "counter_drifts": len(audit.drifts)}


LOGGED_DRIFTS = 20  # a log line stays readable however many counters drifted


def log_drift(now: datetime | None = None) -> CounterAudit:
    """Audit the place counters and log any drift as one ERROR line (the outbox worker's periodic task).

    Kinds, ids and numbers only (no personal data, no titles); ``flask check
    counters --repair`` repairs what it finds. Ends its read, so that the worker
    holds no snapshot while it sleeps.
    """
    audit = audit_counters()
    db.session.rollback()
    if audit.drifts:
        shown = "; ".join(
            f"{d.kind.value} {d.id} of event {d.event_id}: taken {d.taken}, bookings {d.counted}, "
            f"capacity {'unlimited' if d.capacity is None else d.capacity}"
            for d in audit.drifts[:LOGGED_DRIFTS]
        )
        more = len(audit.drifts) - LOGGED_DRIFTS
        current_app.logger.error(
            "Counter audit: %d counters disagree with their bookings (of %d sessions and %d groups; "
            "flask check counters --repair repairs them): %s%s",
            len(audit.drifts),
            audit.sessions,
            audit.groups,
            shown,
            f"; and {more} more" if more > 0 else "",
        )
    return audit
