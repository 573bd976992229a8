"""Check-in use cases: find a participant by code or name, mark them present, undo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..errors import DomainError
from ..events.models import Event, Group, Session
from ..extensions import db
from ..i18n import TIMEZONE
from ..registration.models import (
    Booking,
    BookingStatus,
    Registration,
    RegistrationStatus,
)
from ..registration.search import search_terms
from .models import CheckIn, day_scope, session_scope

# Codes are 8 characters (registration.models.new_checkin_code); anything much longer is junk.
MAX_CODE_LENGTH = 12
SEARCH_LIMIT = 20


class CheckInError(DomainError):
    """A refused check-in or undo, with a translatable message."""

    message: Any = _l("The check-in could not be recorded.")
    status = "error"


class NotFound(CheckInError):
    """No live registration of this event has the code (or id)."""

    message = _l("No registration with this code at this event.")
    status = "not_found"


class EmptyCode(CheckInError):
    """Nothing was scanned or typed."""

    message = _l("Scan or type a check-in code.")
    status = "empty"


class RegistrationCancelled(CheckInError):
    """The registration was cancelled."""

    message = _l("This registration was cancelled.")
    status = "cancelled"


class NoPlace(CheckInError):
    """The participant has no confirmed place in the chosen session or group."""

    status = "no_place"


class UnknownScope(CheckInError):
    """The chosen session or group is not part of the event."""

    message = _l("Choose the event or one of its sessions.")
    status = "bad_scope"


@dataclass(frozen=True)
class Scope:
    """What the check-in is for: the event day, or also a session (and one of its groups)."""

    session: Session | None = None
    group: Group | None = None

    @property
    def key(self) -> str:
        """Return the form value of the scope."""
        if self.group is not None:
            return f"group:{self.group.id}"
        if self.session is not None:
            return f"session:{self.session.id}"
        return "event"


@dataclass
class CheckInResult:
    """A check-in of the chosen scope, new or found already there."""

    registration: Registration
    check_in: CheckIn
    is_new: bool


def parse_scope(event: Event, value: str | None) -> Scope:
    """Return the scope named by a form value ("event", "session:<id>" or "group:<id>").

    :raises UnknownScope: for junk, or a session or group of another event.
    """
    value = (value or "event").strip()
    if value == "event":
        return Scope()
    match = re.fullmatch(r"(session|group):(\d{1,9})", value)
    if not match:
        raise UnknownScope()
    kind, number = match.group(1), int(match.group(2))
    if kind == "session":
        session = db.session.get(Session, number)
        if session is None or session.event_id != event.id:
            raise UnknownScope()
        return Scope(session=session)
    group = db.session.get(Group, number)
    if group is None or group.session.event_id != event.id:
        raise UnknownScope()
    return Scope(session=group.session, group=group)


def scope_choices(event: Event) -> list[tuple[str, str]]:
    """Return (value, label) of every scope of the event: the event, its sessions and their groups."""
    choices = [("event", str(_l("The event (arrival)")))]
    for session in event.sessions:
        choices.append((f"session:{session.id}", session.title))
        for group in session.groups:
            choices.append((f"group:{group.id}", f"{session.title} — {group.label}"))
    return choices


def normalize_code(code: str | None) -> str:
    """Return a typed or scanned code in its stored form (upper case, no spaces or dashes)."""
    return re.sub(r"[\s-]+", "", (code or "")).upper()


def find_registration(event: Event, *, code: str | None = None, registration_id: int | None = None) -> Registration:
    """Return the registration of the event with the check-in code (or id).

    :raises EmptyCode, NotFound, RegistrationCancelled:
    """
    if registration_id is not None:
        registration = db.session.get(Registration, registration_id)
        if registration is None or registration.event_id != event.id:
            raise NotFound()
    else:
        code = normalize_code(code)
        if not code:
            raise EmptyCode()
        if len(code) > MAX_CODE_LENGTH or not code.isascii() or not code.isalnum():
            raise NotFound()
        registration = db.session.execute(
            select(Registration).where(Registration.event_id == event.id, Registration.checkin_code == code)
        ).scalar_one_or_none()
        if registration is None:
            raise NotFound()
    if registration.status != RegistrationStatus.ACTIVE:
        raise RegistrationCancelled()
    return registration


def _confirmed_booking(registration: Registration, session: Session) -> Booking | None:
    """Return the registration's confirmed booking of ``session``, if any."""
    for booking in registration.bookings:
        if booking.session_id == session.id and booking.status == BookingStatus.CONFIRMED:
            return booking
    return None


def _live(registration_id: int, scope: str) -> CheckIn | None:
    """Return the live check-in of a registration for a scope key."""
    return db.session.execute(
        select(CheckIn).where(
            CheckIn.registration_id == registration_id, CheckIn.scope == scope, CheckIn.undone_at.is_(None)
        )
    ).scalar_one_or_none()


def check_in(
    event: Event,
    scope: Scope,
    *,
    code: str | None = None,
    registration_id: int | None = None,
    actor: Any = None,
    now: datetime | None = None,
) -> CheckInResult:
    """Mark a participant present for today's event day and, with a session scope, for the session.

    A second check-in of the same scope returns the first one (``is_new`` False)
    instead of counting twice; the unique index decides between two staff
    scanning the same badge at once.

    :raises EmptyCode, NotFound, RegistrationCancelled, NoPlace:
    """
    now = now or utcnow()
    registration = find_registration(event, code=code, registration_id=registration_id)
    if scope.session is not None:
        booking = _confirmed_booking(registration, scope.session)
        if booking is None:
            raise NoPlace(
                _l(
                    "%(name)s has no confirmed place in %(session)s.",
                    name=registration.full_name,
                    session=scope.session.title,
                )
            )
        if scope.group is not None and booking.group_id != scope.group.id:
            raise NoPlace(
                _l(
                    "%(name)s is booked in %(group)s, not in %(other)s.",
                    name=registration.full_name,
                    group=booking.group.label if booking.group else "—",
                    other=scope.group.label,
                )
            )
    day = now.astimezone(TIMEZONE).date()
    keys: list[tuple[str, int | None]] = [(day_scope(day), None)]
    if scope.session is not None:
        keys.append((session_scope(scope.session.id), scope.session.id))
    registration_id = registration.id
    actor_id = getattr(actor, "id", None)
    for attempt in range(2):
        try:
            with write_transaction():
                created: dict[str, bool] = {}
                rows: dict[str, CheckIn] = {}
                for key, session_id in keys:
                    existing = _live(registration_id, key)
                    created[key] = existing is None
                    if existing is None:
                        existing = CheckIn(
                            event_id=event.id,
                            registration_id=registration_id,
                            session_id=session_id,
                            day=day,
                            scope=key,
                            checked_in_at=now,
                            checked_in_by_id=actor_id,
                        )
                        db.session.add(existing)
                    rows[key] = existing
                db.session.flush()
            break
        except IntegrityError:
            # Another device checked the same person in between our read and insert:
            # the retry finds its row and answers "already checked in".
            if attempt:
                raise
    target = keys[-1][0]
    fresh = db.session.get(Registration, registration_id)
    assert fresh is not None
    return CheckInResult(fresh, rows[target], created[target])


def undo_check_in(event: Event, check_in_id: int, actor: Any = None, now: datetime | None = None) -> CheckIn:
    """Undo a check-in (it stays as history and stops counting); audited.

    :raises NotFound: for a check-in of another event, or one already undone.
    """
    now = now or utcnow()
    with write_transaction():
        row = db.session.get(CheckIn, check_in_id)
        if row is None or row.event_id != event.id or row.undone_at is not None:
            raise NotFound(_l("This check-in does not exist or was already undone."))
        row.undone_at = now
        row.undone_by_id = getattr(actor, "id", None)
        record(
            "checkin.undone",
            event_id=event.id,
            registration_id=row.registration_id,
            session_id=row.session_id,
            actor=actor,
            scope=row.scope,
            checked_in_at=row.checked_in_at.isoformat(),
        )
    return row


def search(event: Event, query: str, limit: int = SEARCH_LIMIT) -> list[Registration]:
    """Return the event's live registrations whose name, organisation or city match every word of ``query``."""
    terms = search_terms(query[:200])
    if not terms:
        return []
    clauses = [Registration.event_id == event.id, Registration.status == RegistrationStatus.ACTIVE]
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(Registration.search_text.like(f"%{escaped}%", escape="\\"))
    return list(
        db.session.execute(
            select(Registration)
            .where(*clauses)
            .options(
                selectinload(Registration.bookings).selectinload(Booking.session),
                selectinload(Registration.bookings).selectinload(Booking.group),
            )
            .order_by(Registration.last_name, Registration.first_name, Registration.id)
            .limit(limit)
        ).scalars()
    )


def live_check_ins(registration_ids: list[int]) -> dict[int, list[CheckIn]]:
    """Return the live check-ins of each registration, oldest first."""
    if not registration_ids:
        return {}
    rows = db.session.execute(
        select(CheckIn)
        .where(CheckIn.registration_id.in_(registration_ids), CheckIn.undone_at.is_(None))
        .order_by(CheckIn.checked_in_at, CheckIn.id)
    ).scalars()
    result: dict[int, list[CheckIn]] = {}
    for row in rows:
        result.setdefault(row.registration_id, []).append(row)
    return result


def recent(event: Event, limit: int = 15) -> list[CheckIn]:
    """Return the event's newest live check-ins, with their registrations."""
    return list(
        db.session.execute(
            select(CheckIn)
            .where(CheckIn.event_id == event.id, CheckIn.undone_at.is_(None))
            .options(selectinload(CheckIn.registration))
            .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
            .limit(limit)
        ).scalars()
    )


def attended_ids(event_id: int, session_id: int | None, registration_ids: list[int]) -> set[int]:
    """Return which of ``registration_ids`` attended: the event, or a session.

    For a session, people checked in for that session; when nobody was checked
    in at the session's door (only arrivals were scanned), people checked in
    for the event.
    """
    if not registration_ids:
        return set()
    query = select(CheckIn.registration_id).where(
        CheckIn.registration_id.in_(registration_ids), CheckIn.undone_at.is_(None)
    )
    if session_id is not None and session_is_checked(session_id):
        query = query.where(CheckIn.session_id == session_id)
    else:
        query = query.where(CheckIn.event_id == event_id, CheckIn.session_id.is_(None))
    return set(db.session.execute(query.distinct()).scalars())


def session_is_checked(session_id: int) -> bool:
    """Tell whether anyone was checked in at a session's door."""
    return (
        db.session.execute(
            select(CheckIn.id).where(CheckIn.session_id == session_id, CheckIn.undone_at.is_(None)).limit(1)
        ).first()
        is not None
    )
