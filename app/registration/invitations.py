"""Invitation codes: organisers generate, send and revoke them; a registration redeems one.

Public functions own their transaction; ``redeem`` only runs an UPDATE in the
caller's transaction, so a registration that rolls back does not use the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..errors import DomainError
from ..events.models import Session
from ..extensions import db
from . import emails
from .errors import RegistrationError
from .models import INVITATION_ALPHABET, InvitationCode

MAX_CODES_AT_ONCE = 200
MAX_USES_LIMIT = 10000
_SEPARATORS = re.compile(r"[\s\-]+")


class InvalidInvitationCode(RegistrationError):
    """The code is unknown, revoked, used up or for another session."""

    message = _l("This invitation code is not valid. Check it for typos.")
    field = "invitation_code"


MESSAGES = {
    "unknown": InvalidInvitationCode.message,
    "revoked": _l("This invitation code has been revoked by the organiser."),
    "used": _l("This invitation code has already been used."),
}


class InvitationError(DomainError):
    """An organiser's request about codes that cannot be done; ``field`` names the form field."""


@dataclass
class InvitationRequest:
    """What an organiser asks for: ``count`` codes, or one code per address in ``emails``."""

    count: int = 1
    max_uses: int = 1
    emails: list[str] = field(default_factory=list)
    note: str = ""
    language: str = "pl"


def normalize_code(raw: str) -> str:
    """Return the stored form of a typed code: upper case, without spaces or hyphens."""
    return _SEPARATORS.sub("", raw or "").upper()


def find_code(raw: str) -> InvitationCode | None:
    """Return the invitation code typed as ``raw``, or None."""
    code = normalize_code(raw)
    if not code or len(code) > 32 or any(ch not in INVITATION_ALPHABET for ch in code):
        return None
    return db.session.execute(select(InvitationCode).where(InvitationCode.code == code)).scalar_one_or_none()


def check_code(raw: str, sessions: list[Session]) -> InvitationCode | None:
    """Return the usable code typed as ``raw`` for one of ``sessions`` (None for an empty field).

    A read-only check that gives a precise message; ``redeem`` decides for real.

    :raises InvalidInvitationCode:
    """
    if not normalize_code(raw):
        return None
    code = find_code(raw)
    if code is None:
        raise InvalidInvitationCode()
    if code.is_revoked:
        raise InvalidInvitationCode(MESSAGES["revoked"])
    if code.uses >= code.max_uses:
        raise InvalidInvitationCode(MESSAGES["used"])
    if code.session_id not in {s.id for s in sessions}:
        raise InvalidInvitationCode(
            _l(
                "This invitation code is for a session you did not choose: tick “%(title)s”.",
                title=code.session.title,
            )
        )
    return code


def redeem(code_id: int) -> None:
    """Use the code once, atomically, in the caller's transaction (flushes only).

    :raises InvalidInvitationCode: when it was revoked or used up meanwhile.
    """
    table = InvitationCode.__table__
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(table)
            .where(table.c.id == code_id, table.c.revoked_at.is_(None), table.c.uses < table.c.max_uses)
            .values(uses=table.c.uses + 1)
        ),
    )
    if result.rowcount != 1:
        revoked = db.session.execute(select(table.c.revoked_at).where(table.c.id == code_id)).scalar()
        raise InvalidInvitationCode(MESSAGES["revoked"] if revoked is not None else MESSAGES["used"])


def codes_for(session_id: int) -> list[InvitationCode]:
    """Return the session's codes, newest first."""
    return list(
        db.session.execute(
            select(InvitationCode).where(InvitationCode.session_id == session_id).order_by(InvitationCode.id.desc())
        ).scalars()
    )


def create_codes(session_id: int, request: InvitationRequest, now: datetime | None = None) -> list[InvitationCode]:
    """Generate codes for a session; with addresses, one code each, emailed through the outbox.

    :raises InvitationError: for a count or a number of uses out of range.
    """

    now = now or utcnow()
    count = len(request.emails) if request.emails else request.count
    if not 1 <= count <= MAX_CODES_AT_ONCE:
        raise InvitationError(_l("Enter a number from 1 to %(max)s.", max=MAX_CODES_AT_ONCE), field="count")
    if not 1 <= request.max_uses <= MAX_USES_LIMIT:
        raise InvitationError(_l("Enter a number from 1 to %(max)s.", max=MAX_USES_LIMIT), field="max_uses")
    actor_id = current_organiser_id()
    with write_transaction():
        session = db.session.get(Session, session_id)
        if session is None:
            raise InvitationError(_l("This session no longer exists."))
        addresses: list[str | None] = list(request.emails) or [None] * count
        codes = []
        for email in addresses:
            code = InvitationCode(
                session_id=session_id,
                max_uses=request.max_uses,
                recipient_email=email or "",
                note=request.note,
                created_by_id=actor_id,
                created_at=now,
            )
            db.session.add(code)
            codes.append(code)
        db.session.flush()
        for code in codes:
            if code.recipient_email:
                emails.queue_invitation(code, session, request.language, now)
        record(
            "invitation.created",
            event_id=session.event_id,
            session_id=session_id,
            codes=[c.id for c in codes],
            max_uses=request.max_uses,
            emailed=len(request.emails) or None,
        )
    return codes


def add_emailed_code(session: Session, email: str, note: str, language: str, now: datetime) -> InvitationCode:
    """Add one single-use code for ``email`` and queue its invitation email (flushes only; the caller's transaction)."""
    code = InvitationCode(
        session_id=session.id,
        max_uses=1,
        recipient_email=email,
        note=note,
        created_by_id=current_organiser_id(),
        created_at=now,
    )
    db.session.add(code)
    db.session.flush()
    emails.queue_invitation(code, session, language, now)
    return code


def unused_invitations(session_ids: list[int]) -> set[tuple[int, str]]:
    """Return (session id, lower-cased address) of the codes sent to an address, still valid and unused."""
    if not session_ids:
        return set()
    rows = db.session.execute(
        select(InvitationCode.session_id, InvitationCode.recipient_email).where(
            InvitationCode.session_id.in_(session_ids),
            InvitationCode.recipient_email != "",
            InvitationCode.revoked_at.is_(None),
            InvitationCode.uses == 0,
        )
    )
    return {(session_id, email.strip().lower()) for session_id, email in rows}


def current_organiser_id() -> int | None:
    """Return the logged-in organiser's id, or None outside a request (CLI, tests)."""
    try:
        return current_user.id if current_user.is_authenticated else None
    except (AttributeError, RuntimeError):
        return None


def revoke_code(session_id: int, code_id: int, now: datetime | None = None) -> InvitationCode:
    """Revoke a code of the session: it admits nobody from now on.

    :raises InvitationError: for a code of another session.
    """
    now = now or utcnow()
    with write_transaction():
        code = db.session.get(InvitationCode, code_id, populate_existing=True)
        if code is None or code.session_id != session_id:
            raise InvitationError(_l("This invitation code does not exist."))
        if code.revoked_at is None:
            code.revoked_at = now
            record(
                "invitation.revoked",
                event_id=code.session.event_id,
                session_id=session_id,
                code_id=code.id,
                uses=code.uses,
            )
    return code
