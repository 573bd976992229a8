"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask_login import current_user
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select

from ..db import utcnow
from ..extensions import db
from .models import AuditEntry


def record(
    action: str,
    *,
    event_id: int | None = None,
    registration_id: int | None = None,
    session_id: int | None = None,
    actor: Any = None,
    **details: Any,
) -> AuditEntry:
    """Add an audit entry to the current transaction (flushes only).

    The actor defaults to the logged-in organiser, or "system" outside a request.
    """
    if actor is None:
        try:
            actor = current_user._get_current_object() if current_user.is_authenticated else None
        except (AttributeError, RuntimeError):
            actor = None
    entry = AuditEntry(
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None) or (actor if isinstance(actor, str) else "system"),
        action=action,
        event_id=event_id,
        registration_id=registration_id,
        session_id=session_id,
        details={k: v for k, v in details.items() if v is not None},
    )
    db.session.add(entry)
    return entry


def entries(*, event_id: int | None = None, registration_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """Return the newest audit entries of an event or a registration."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if event_id is not None:
        query = query.where(AuditEntry.event_id == event_id)
    if registration_id is not None:
        query = query.where(AuditEntry.registration_id == registration_id)
    return list(db.session.execute(query).scalars())


def page_of_entries(page: int, per_page: int = 50, actions: Collection[str] | None = None) -> Pagination:
    """Return one page of the whole audit log, newest first, optionally only ``actions``."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actions is not None:
        query = query.where(AuditEntry.action.in_(list(actions)))
    return db.paginate(query, page=max(page, 1), per_page=per_page, max_per_page=per_page, error_out=False)
