"""Typed models of allocation runs and of each participant's published outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import UTCDateTime, enum_type, utcnow
from ..extensions import db


class RunStatus(str, enum.Enum):
    """Life cycle of an allocation run."""

    PREVIEW = "preview"  # computed and shown; nothing booked
    PUBLISHED = "published"  # bookings written and participants told
    REOPENED = "reopened"  # was published; its places were withdrawn by an organiser


class AllocationRun(db.Model):
    """One run of the allocation of an event's ranked workshops."""

    __tablename__ = "allocation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus, "allocation_run_status"))
    objective: Mapped[str] = mapped_column(String(20))
    seed: Mapped[int] = mapped_column(BigInteger)
    mix_attribute: Mapped[str | None] = mapped_column(String(20))
    mix_max_per_group: Mapped[int | None] = mapped_column(Integer)
    # {"optimal": Figures.as_dict(), "first_come": ..., "lottery": ...}
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("organiser.id", ondelete="SET NULL"))
    created_by_label: Mapped[str] = mapped_column(String(254), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who published the preview (it may be someone else than who computed it); None before 0013.
    published_by_label: Mapped[str | None] = mapped_column(String(254))
    # Digests of the problem the run solved and of the places it gave (sha256, hex): a preview
    # is published only while the problem is unchanged, and only if it gives these places
    # again. None for runs made before they were stored (such a preview cannot be published).
    problem_fingerprint: Mapped[str | None] = mapped_column(String(64))
    result_digest: Mapped[str | None] = mapped_column(String(64))
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # At most one published run per event: a second publication fails even in a race.
        Index(
            "uq_allocation_run_published",
            "event_id",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
    )

    def __repr__(self) -> str:
        return f"<AllocationRun {self.id} event={self.event_id} {self.status.value}>"


class AllocationOutcome(db.Model):
    """What one participant got in one ranked time slot of a published run, and why."""

    __tablename__ = "allocation_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("allocation_run.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id", ondelete="CASCADE"), index=True)
    slot_starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("session.id", ondelete="SET NULL"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("session_group.id", ondelete="SET NULL"))
    rank: Mapped[int | None] = mapped_column(Integer)
    # [{"code": ..., "session_id": ..., "rank": ..., "params": {...}}] from app.allocation.explain
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Session ids of the waiting lists joined, best rank first.
    waitlist: Mapped[list[int]] = mapped_column(JSON, default=list)

    def __repr__(self) -> str:
        return f"<AllocationOutcome run={self.run_id} reg={self.registration_id} session={self.session_id}>"
