"""Registration use cases: register, change choices, cancel, promote from the waiting list.

Public functions own their transaction (``write_transaction``); private helpers only flush.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from ..auth.throttle import DatabaseThrottle, RedisThrottle
from ..db import retry_on_contention, utcnow, write_transaction
from ..events.models import BookingMode, Event, ParticipantCategory, Session
from ..events.services import RankedBlock, ranked_blocks
from ..extensions import db
from ..notifications.links import absolute_url
from ..notifications.models import MessageKind, OutboxMessage
from . import bookings, emails, invitations, questions
from .errors import (
    AlreadyRegistered,
    InvalidChoice,
    NotCancellable,
    NothingChosen,
    RankingClosed,
    RegistrationClosed,
    RegistrationError,
    RegistrationNotOpenYet,
    RegistrationRefused,
    TimeClash,
)
from .models import (
    LIVE_BOOKING_STATUSES,
    Booking,
    BookingStatus,
    InvitationCode,
    Preference,
    Registration,
    RegistrationStatus,
)
from .ranked import (
    AFTER_PUBLICATION,
    HOLDS_PLACE,
    PICK_ONE,
    RANKED_NOT_ELIGIBLE,
    allocation_published,
    ranking_closed_reason,
)
from .search import search_text

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


@dataclass
class ParticipantData:
    """The personal part of a registration, already cleaned by the form."""

    first_name: str
    last_name: str
    email: str
    category: ParticipantCategory
    language: str = "pl"
    phone: str = ""
    organisation: str = ""
    position: str = ""
    city: str = ""
    has_marketing_consent: bool = False
    # Answers to the event's own questions, by question id (registration.questions).
    answers: dict[int, str] = field(default_factory=dict)


@dataclass
class Choices:
    """What a participant picks: instant sessions, and ranked choices per block key."""

    session_ids: list[int] = field(default_factory=list)
    rankings: dict[str, list[int]] = field(default_factory=dict)
    # Typed by a participant invited to a session outside their category.
    invitation_code: str = ""


@dataclass
class RegistrationResult:
    """A new registration and its private token (shown once, never stored)."""

    registration: Registration
    token: str


@dataclass
class ChangeResult:
    """What a change of choices did."""

    added: list[Booking] = field(default_factory=list)
    cancelled: list[Booking] = field(default_factory=list)
    promoted: list[Booking] = field(default_factory=list)


def hash_token(token: str) -> str:
    """Return the stored form of a manage token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_token() -> str:
    """Return a fresh manage token with 256 random bits."""
    return secrets.token_urlsafe(32)


def submission_token(event_id: int, email: str, form_token: str) -> str:
    """Return the manage token for one submission of a registration form (256 bits, unguessable).

    Derived by HMAC from the app's secret, the event, the email and the form's
    own CSRF token (signed and timestamped per rendering, checked against the
    browser's session before this is called): a double-click sends the same
    form twice, and the second request can then recognise the registration the
    first one made and show its private link, while any other browser or form
    gets another token.
    """
    secret = str(current_app.config["SECRET_KEY"]).encode()
    message = f"{event_id}:{normalize_email(email)}:{form_token}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()).rstrip(b"=").decode()


# With the sessions (and groups) of its bookings and ranked choices, which every page of it shows.
_REGISTRATION_BY_TOKEN = (
    select(Registration)
    .where(Registration.manage_token_hash == bindparam("digest"))
    .options(  # one query: a registration has a handful of bookings and ranked choices, and one event
        joinedload(Registration.event),
        joinedload(Registration.bookings).options(joinedload(Booking.session), joinedload(Booking.group)),
        joinedload(Registration.preferences).joinedload(Preference.session),
    )
)


def find_registration_by_token(token: str) -> Registration | None:
    """Return the registration whose manage token is ``token``, or None."""
    if not TOKEN_PATTERN.match(token or ""):
        return None
    digest = hash_token(token)
    registration = db.session.execute(_REGISTRATION_BY_TOKEN, {"digest": digest}).unique().scalar_one_or_none()
    if registration is None or not hmac.compare_digest(registration.manage_token_hash, digest):
        return None
    return registration


def check_registration_window(event: Event, now: datetime | None = None) -> None:
    """Refuse when the event does not take registrations at ``now``.

    :raises RegistrationClosed: or its subclass RegistrationNotOpenYet.
    """
    now = now or utcnow()
    if event.is_registration_open(now):
        return
    if event.registration_opens_at and now < event.registration_opens_at and event.status.value == "published":
        raise RegistrationNotOpenYet()
    raise RegistrationClosed()


@retry_on_contention()
def register(
    event: Event,
    participant: ParticipantData,
    choices: Choices,
    now: datetime | None = None,
    sessions: dict[int, Session] | None = None,
    token: str | None = None,
) -> RegistrationResult:
    """Register a participant at an event and book the chosen sessions.

    Places are taken atomically in ascending session id order; a full session
    puts the booking on its waiting list; a session outside the participant's
    category becomes a request for an organiser. Ranked choices are saved for
    the allocation; once it is published, the workshop chosen in a ranked block
    is booked first come instead (see :func:`validate_choices`).

    :raises RegistrationClosed: outside the registration window.
    :raises AlreadyRegistered: when the email has a live registration here.
    :raises TimeClash, InvalidChoice: for choices that cannot be booked together.

    ``sessions``: what :func:`choosable_sessions` returned for these choices, when the
    caller has read it already. Read again if it lacks a chosen session, or on a retry
    after a lost lock race (the rollback expired them; one may be gone meanwhile).
    ``token``: the manage token to give (:func:`submission_token`); a random one by default.
    A token given before (the same form sent twice) ends in AlreadyRegistered.
    """
    now = now or utcnow()
    check_registration_window(event, now)
    if sessions is None or not sessions.keys() >= set(choices.session_ids) or not _all_loaded(sessions.values()):
        sessions = choosable_sessions(event, choices.session_ids)
    # After publication a ranked block's choice is one workshop, booked first come like any session.
    first_come = allocation_published(event.id)
    chosen = validate_choices(event, sessions, choices, participant.category, first_come=first_come)
    if not chosen and not any(choices.rankings.values()) and (sessions or _has_sessions(event.id)):
        raise NothingChosen()
    invitation = invitations.check_code(choices.invitation_code, chosen)
    token = token or new_token()
    email_normalized = normalize_email(participant.email)
    with refusing_duplicates(), write_transaction():
        if live_registration_exists(event.id, email_normalized):
            raise AlreadyRegistered()
        registration = new_registration(
            event,
            participant,
            token,
            now,
            "form",
            confirmation_expires_at=(
                now + timedelta(hours=event.confirmation_hold_hours) if event.requires_email_confirmation else None
            ),
        )
        redeemed = _redeem_invitation(
            invitation, chosen, ParticipantCategory(participant.category).value, participant.email
        )
        db.session.add(registration)
        # Written before any session is locked: a second submission for the same email
        # then waits on the unique index holding no session, and ends in AlreadyRegistered
        # (written later, the two could deadlock: tests/test_lock_order.py).
        db.session.flush()
        with db.session.no_autoflush:  # the bookings are written together (see bookings.book for requests)
            for session in sorted(chosen, key=lambda s: s.id):
                bookings.book(registration, session, now, invitation_code_id=_code_for(redeemed, session))
        db.session.flush()
        if not first_come:
            _check_rankings_open(registration, sessions, choices.rankings, now)
            save_preferences(registration, sessions, choices.rankings)
        questions.save_answers(registration, participant.answers)
        emails.queue_registration_received(registration, token, now)
    return RegistrationResult(registration=registration, token=token)


@contextmanager
def refusing_duplicates() -> Iterator[None]:
    """Turn the unique indexes on live emails and on manage tokens into AlreadyRegistered.

    Two submissions for one email can both pass the check for a live
    registration; the partial unique index decides, and the loser is told as
    usual. The same form sent twice at once also carries the same token.
    """
    try:
        yield
    except IntegrityError as error:
        reason = str(error.orig).lower()
        if "email" in reason or "manage_token_hash" in reason:
            raise AlreadyRegistered() from error
        raise


def new_registration(
    event: Event, participant: ParticipantData, token: str, now: datetime, source: str, **extra: object
) -> Registration:
    """Return a new registration of ``participant`` (not yet added); ``source`` is "form" or "organiser"."""
    return Registration(
        event_id=event.id,
        first_name=participant.first_name,
        last_name=participant.last_name,
        email=participant.email,
        email_normalized=normalize_email(participant.email),
        phone=participant.phone,
        organisation=participant.organisation,
        position=participant.position,
        city=participant.city,
        category=participant.category,
        language=participant.language,
        consent_version=current_app.config["CONSENT_VERSION"],
        consent_at=now,
        consent_source=source,
        has_marketing_consent=participant.has_marketing_consent,
        marketing_consent_at=now if participant.has_marketing_consent else None,
        search_text=search_text(participant),
        manage_token_hash=hash_token(token),
        created_at=now,
        updated_at=now,
        # Empty, not unloaded: a new registration's lists need no query.
        bookings=[],
        preferences=[],
        **extra,
    )


@retry_on_contention()
def change_choices(registration: Registration, choices: Choices, now: datetime | None = None) -> ChangeResult:
    """Replace a registration's choices: cancel what was dropped, book what was added.

    After the allocation is published, a workshop chosen in a ranked block is
    booked first come (a place if free, else its waiting list), unless the
    registration already has it or holds a place at that time; ranked
    workshops are never cancelled from here (the booking's own cancel does).

    The registration is locked and read again first, so a second submission of
    the same change (a double-click) finds it done and changes nothing. Changes
    are applied in ascending session id order so that concurrent transactions
    lock sessions in the same order.

    :raises RegistrationClosed: outside the registration window or when cancelled.
    """
    now = now or utcnow()
    event = registration.event
    check_registration_window(event, now)
    if registration.status != RegistrationStatus.ACTIVE:
        raise RegistrationClosed()
    sessions = _sessions_by_id(event)
    first_come = allocation_published(event.id)
    wanted = {s.id: s for s in validate_choices(event, sessions, choices, registration.category, first_come=first_come)}
    invitation = invitations.check_code(choices.invitation_code, list(wanted.values()))
    result = ChangeResult()
    with write_transaction():
        registration = bookings.lock_registration(registration.id)
        if registration.status != RegistrationStatus.ACTIVE:
            raise RegistrationClosed()
        current = {
            b.session_id: b
            for b in registration.bookings
            if b.status in LIVE_BOOKING_STATUSES and sessions[b.session_id].booking_mode == BookingMode.INSTANT
        }
        if first_come:
            _keep_new_first_come_picks(registration, wanted, sessions)
        added = [wanted[sid] for sid in wanted if sid not in current]
        redeemed = _redeem_invitation(invitation, added, registration.category.value, registration.email)
        for session_id in sorted(set(current) | set(wanted)):
            if session_id in current and session_id not in wanted:
                promoted = bookings.cancel(current[session_id], now)
                if promoted is not None:
                    result.promoted += promoted
                    result.cancelled.append(current[session_id])
            elif session_id in wanted and session_id not in current:
                result.added.append(
                    bookings.book(
                        registration,
                        wanted[session_id],
                        now,
                        invitation_code_id=_code_for(redeemed, wanted[session_id]),
                    )
                )
        db.session.flush()
        ranking_changed = False
        if not first_come:
            _check_rankings_open(registration, sessions, choices.rankings, now)
            ranking_changed = save_preferences(registration, sessions, choices.rankings)
        if result.added or result.cancelled or ranking_changed:
            registration.updated_at = now
            emails.queue_changes_confirmed(registration, result.added, result.cancelled, now)
    return result


@retry_on_contention()
def cancel_booking(registration: Registration, booking_id: int, now: datetime | None = None) -> list[Booking]:
    """Cancel one booking of the registration; return the bookings promoted in its place.

    Cancelling a booking that this registration has already cancelled (the
    second click of a double-click) succeeds without doing or sending anything.

    :raises NotCancellable: when the booking is not the registration's or the event is over.
    """
    now = now or utcnow()
    _check_cancellable(registration, now)
    with write_transaction():
        registration = bookings.lock_registration(registration.id)
        booking = next((b for b in registration.bookings if b.id == booking_id), None)
        if booking is None or registration.status != RegistrationStatus.ACTIVE:
            raise NotCancellable()
        if booking.status == BookingStatus.CANCELLED:
            return []
        if booking.status not in LIVE_BOOKING_STATUSES:
            raise NotCancellable()
        promoted = bookings.cancel(booking, now)
        if promoted is None:  # pragma: no cover - the registration's lock keeps its bookings still
            return []
        registration.updated_at = now
        emails.queue_booking_cancelled(registration, booking, now)
    return promoted


@retry_on_contention()
def cancel_registration(registration: Registration, now: datetime | None = None) -> list[Booking]:
    """Cancel the whole registration and every live booking; return those promoted.

    Cancelling a registration that is already cancelled (the second click of a
    double-click) succeeds without doing or sending anything.

    :raises NotCancellable: when the event is over or the data was erased.
    """
    now = now or utcnow()
    if now >= registration.event.ends_at:
        raise NotCancellable()
    with write_transaction():
        registration = bookings.lock_registration_places(registration.id)
        if registration.anonymised_at is not None:
            raise NotCancellable()
        if registration.status != RegistrationStatus.ACTIVE:
            return []
        promoted: list[Booking] = []
        for booking in sorted(registration.live_bookings, key=lambda b: b.session_id):
            promoted += bookings.cancel(booking, now) or []
        for preference in list(registration.preferences):
            db.session.delete(preference)
        registration.status = RegistrationStatus.CANCELLED
        registration.updated_at = now
        emails.queue_registration_cancelled(registration, now)
    return promoted


def normalize_email(email: str) -> str:
    """Return the form of an email address used to recognise a participant."""
    return email.strip().lower()


def validate_choices(
    event: Event,
    sessions: dict[int, Session],
    choices: Choices,
    category: ParticipantCategory | str,
    first_come: bool = False,
) -> list[Session]:
    """Check the choices against the programme; return the sessions to book.

    With ``first_come`` (the allocation is published), each ranked block's
    choice is a single workshop to book at once, returned with the instant
    sessions; otherwise ranked choices are only checked (they are saved, not booked).

    :raises InvalidChoice: for unknown sessions, ranked duplicates or ineligible ranks;
        for ranked fields, the first refusal, carrying every other ranked field's in ``also``.
    :raises TimeClash: when two chosen sessions (or ranked blocks) overlap.
    """
    category_value = category.value if isinstance(category, ParticipantCategory) else category
    chosen: list[Session] = []
    for session_id in dict.fromkeys(choices.session_ids):
        session = sessions.get(session_id)
        if session is None or session.booking_mode != BookingMode.INSTANT:
            raise InvalidChoice()
        chosen.append(session)

    blocks = {block.key: block for block in ranked_blocks(list(sessions.values()))}
    ranked_slots: list[RankedBlock] = []
    # Every ranked field's refusal at once: the first is raised, the others ride along (``also``).
    refusals: list[InvalidChoice] = []
    for key, ranked_ids in choices.rankings.items():
        block = blocks.get(key)
        if block is None:
            refusals.append(InvalidChoice(field=f"rank_{key}_1"))
            continue
        if not ranked_ids:
            continue
        if first_come:
            try:
                chosen.append(_first_come_pick(block, ranked_ids, sessions, category_value, f"rank_{key}_1"))
            except InvalidChoice as refusal:
                refusals.append(refusal)
            continue
        if len(ranked_ids) > event.max_ranked_choices:
            refusals.append(InvalidChoice(field=f"rank_{key}_1"))
            continue
        block_refusals = _ranking_refusals(key, block, ranked_ids, sessions, category_value)
        refusals.extend(block_refusals)
        if not block_refusals:
            ranked_slots.append(block)
    if refusals:
        first, *others = refusals
        raise InvalidChoice(first.message, field=first.field, also=tuple(others))

    _check_no_clash(chosen, ranked_slots)
    return chosen


def _ranking_refusals(
    key: str, block: RankedBlock, ranked_ids: list[int], sessions: dict[int, Session], category: str
) -> list[InvalidChoice]:
    """Return the refusals of one ranked block's choices, one per position in error."""
    block_ids = {s.id for s in block.sessions}
    seen: set[int] = set()
    refusals = []
    for position, session_id in enumerate(ranked_ids, start=1):
        field_name = f"rank_{key}_{position}"
        if session_id not in block_ids:
            refusals.append(InvalidChoice(field=field_name))
        elif session_id in seen:
            refusals.append(InvalidChoice(_l("You chose the same workshop twice."), field=field_name))
        elif not sessions[session_id].is_eligible(category):
            refusals.append(InvalidChoice(RANKED_NOT_ELIGIBLE, field=field_name))
        seen.add(session_id)
    return refusals


def _first_come_pick(
    block: RankedBlock, ranked_ids: list[int], sessions: dict[int, Session], category: str, field_name: str
) -> Session:
    """Return the one workshop picked in a ranked block after the allocation was published.

    :raises InvalidChoice: for several picks (a form from before the publication), an
        unknown workshop or one outside the participant's category (as for ranking).
    """
    if len(ranked_ids) > 1:
        raise InvalidChoice(PICK_ONE, field=field_name)
    session_id = ranked_ids[0]
    if session_id not in {s.id for s in block.sessions}:
        raise InvalidChoice(field=field_name)
    if not sessions[session_id].is_eligible(category):
        raise InvalidChoice(RANKED_NOT_ELIGIBLE, field=field_name)
    return sessions[session_id]


def _keep_new_first_come_picks(
    registration: Registration, wanted: dict[int, Session], sessions: dict[int, Session]
) -> None:
    """Leave out of ``wanted`` the ranked workshops the (locked) registration already has, live.

    :raises InvalidChoice: when it holds (or has asked for) a place in another
        workshop at the same time: that one is cancelled first, by its own button.
    """
    live = {b.session_id: b for b in registration.live_bookings}
    for session_id, session in list(wanted.items()):
        if session.booking_mode != BookingMode.RANKED:
            continue
        if session_id in live:
            del wanted[session_id]  # already booked or waiting there: nothing to do
            continue
        for booking in live.values():
            other = sessions[booking.session_id]
            if (
                booking.status != BookingStatus.WAITLISTED
                and other.booking_mode == BookingMode.RANKED
                and other.overlaps(session)
            ):
                block = next(b for b in ranked_blocks(list(sessions.values())) if session in b.sessions)
                raise InvalidChoice(HOLDS_PLACE, field=f"rank_{block.key}_1")


def _check_no_clash(chosen: list[Session], ranked_slots: list[RankedBlock]) -> None:
    """Refuse overlapping sessions, and sessions overlapping a ranked block."""
    ordered = sorted(chosen, key=lambda s: (s.starts_at, s.id))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.starts_at >= first.ends_at:
                break
            raise TimeClash(
                _l('"%(first)s" and "%(second)s" take place at the same time.', first=first.title, second=second.title)
            )
        for block in ranked_slots:
            if first.starts_at < block.ends_at and block.starts_at < first.ends_at:
                raise TimeClash(
                    _l(
                        '"%(first)s" takes place at the same time as the workshops you ranked.',
                        first=first.title,
                    )
                )


def _code_for(redeemed: tuple[int, int] | None, session: Session) -> int | None:
    """Return the id of the redeemed code if it was for ``session``."""
    return redeemed[1] if redeemed and redeemed[0] == session.id else None


def _redeem_invitation(
    invitation: InvitationCode | None, sessions: Iterable[Session], category: str, email: str
) -> tuple[int, int] | None:
    """Use the code if one of ``sessions`` (to be booked) needs it; return (session id, code id).

    Called first in the transaction, so that the code's row is always locked
    before any session's (one lock order for everyone).

    :raises InvalidInvitationCode: when the code was revoked or used up meanwhile.
    """
    if invitation is None:
        return None
    for session in sessions:
        if session.id == invitation.session_id and not bookings.books_directly(category, email, session):
            invitations.redeem(invitation.id)
            return session.id, invitation.id
    return None


def _check_rankings_open(
    registration: Registration, sessions: dict[int, Session], rankings: dict[str, list[int]], now: datetime
) -> None:
    """Refuse a change of ranked choices after the preference deadline or the publication.

    ``sessions`` holds at least the event's ranked workshops (see :func:`choosable_sessions`).

    :raises RankingClosed:
    """
    if not rankings:
        return
    current: dict[int, int] = {p.session_id: p.rank for p in registration.preferences}
    blocks = {b.key: b for b in ranked_blocks(list(sessions.values()))}
    for key, ranked_ids in rankings.items():
        block_ids = {s.id for s in blocks[key].sessions} if key in blocks else set()
        before = sorted((sid for sid in current if sid in block_ids), key=current.__getitem__)
        if list(ranked_ids) == before:
            continue
        reason = ranking_closed_reason(registration.event, now)
        if reason is AFTER_PUBLICATION and not before:
            # Published since the choices were checked: nothing of theirs to keep, and what
            # is left goes first come (never "your ranking can no longer be changed").
            raise InvalidChoice(PICK_ONE, field=f"rank_{key}_1")
        if reason is not None:
            raise RankingClosed(reason, field=f"rank_{key}_1")


def save_preferences(registration: Registration, sessions: dict[int, Session], rankings: dict[str, list[int]]) -> bool:
    """Replace the registration's ranked choices of the given blocks (``sessions`` as for the check above).

    Tells whether they changed.
    """
    if not rankings:
        return False
    block_session_ids = set()
    blocks = {b.key: b for b in ranked_blocks(list(sessions.values()))}
    for key in rankings:
        block_session_ids |= {s.id for s in blocks[key].sessions}
    before = {(p.session_id, p.rank) for p in registration.preferences if p.session_id in block_session_ids}
    after = {(sid, rank) for ranked_ids in rankings.values() for rank, sid in enumerate(ranked_ids, start=1)}
    if before == after:
        return False
    for preference in list(registration.preferences):
        if preference.session_id in block_session_ids:
            registration.preferences.remove(preference)
    db.session.flush()
    for ranked_ids in rankings.values():
        for rank, session_id in enumerate(ranked_ids, start=1):
            registration.preferences.append(Preference(session_id=session_id, rank=rank))
    db.session.flush()
    return True


def _sessions_by_id(event: Event) -> dict[int, Session]:
    """Return the event's sessions by id."""
    return {s.id: s for s in event.sessions}


MAX_ID = 2**31 - 1  # the largest id an INTEGER primary key holds on PostgreSQL


def _all_loaded(objects: Iterable[object]) -> bool:
    """Tell whether every object is in the session and not expired."""
    return all(state.persistent and not state.expired for state in map(inspect, objects))


def posted_ids(values: Iterable[str]) -> list[int]:
    """Return the whole numbers among posted values (the rest are the form's to refuse)."""
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids


def choosable_sessions(event: Event, session_ids: Iterable[int]) -> dict[int, Session]:
    """Return by id the sessions a registration may name: ``session_ids`` of the event and every ranked workshop.

    One query (their groups joined) instead of the whole programme: what
    :func:`validate_choices` needs to check a choice, and unknown ids stay unknown.
    """
    # Ids no session can have (the databases' integer range) stay unknown instead of failing the query.
    wanted = sorted({i for i in session_ids if isinstance(i, int) and 0 < i <= MAX_ID})
    rows = db.session.execute(_CHOOSABLE_SESSIONS, {"event_id": event.id, "ids": wanted}).unique().scalars()
    return {session.id: session for session in rows}


_CHOOSABLE_SESSIONS = (
    select(Session)
    .where(
        Session.event_id == bindparam("event_id"),
        or_(Session.id.in_(bindparam("ids", expanding=True)), Session.booking_mode == BookingMode.RANKED),
    )
    .options(joinedload(Session.groups))
)


def _has_sessions(event_id: int) -> bool:
    """Tell whether the event has any session (asked only when nothing was chosen)."""
    return db.session.execute(select(Session.id).where(Session.event_id == event_id).limit(1)).first() is not None


def live_registration_exists(event_id: int, email_normalized: str) -> bool:
    """Tell whether a live registration with this email exists at the event."""
    found = db.session.execute(_LIVE_REGISTRATION, {"event_id": event_id, "email": email_normalized}).first()
    return found is not None


_LIVE_REGISTRATION = select(Registration.id).where(
    Registration.event_id == bindparam("event_id"),
    Registration.email_normalized == bindparam("email"),
    Registration.status == RegistrationStatus.ACTIVE,
)


def _reload(registration_id: int) -> Registration:
    """Load the registration afresh inside the current transaction."""
    registration = db.session.execute(
        select(Registration)
        .where(Registration.id == registration_id)
        .options(selectinload(Registration.bookings), selectinload(Registration.preferences))
        .execution_options(populate_existing=True)
    ).scalar_one()
    return registration


def _check_cancellable(registration: Registration, now: datetime) -> None:
    """Refuse cancellations of a cancelled registration or after the event ended."""
    if registration.status != RegistrationStatus.ACTIVE or now >= registration.event.ends_at:
        raise NotCancellable()


def send_manage_link(event: Event, email: str, client_ip: str, now: datetime | None = None) -> None:
    """Mail a new private link to the live registration of ``email`` at ``event``, if there is one.

    The manage token is stored only as a hash, so a new token replaces the old
    one (the old link stops working). Says nothing about whether a registration
    exists; requests over the per-IP or per-registration limits do nothing.
    """
    now = now or utcnow()
    config = current_app.config
    throttle = _resend_throttle()
    ip_key = f"resend-link-ip:{client_ip}"
    with write_transaction():
        over_ip_limit = throttle.count(ip_key) >= config["OUTBOX_RESEND_MAX_PER_IP"]
        throttle.hit(ip_key)
        if over_ip_limit:
            current_app.logger.warning("Resend-link requests over the limit from %s", client_ip)
            return
        registration = db.session.execute(
            select(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.email_normalized == normalize_email(email),
                Registration.status == RegistrationStatus.ACTIVE,
            )
            .with_for_update()
        ).scalar_one_or_none()
        if registration is None:
            return
        recent = db.session.execute(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.registration_id == registration.id,
                OutboxMessage.kind == MessageKind.MANAGE_LINK,
                OutboxMessage.created_at >= now - timedelta(hours=1),
            )
        ).scalar_one()
        if recent >= config["OUTBOX_RESEND_MAX_PER_HOUR"]:
            return
        token = new_token()
        registration.manage_token_hash = hash_token(token)
        registration.updated_at = now
        emails.queue_message(
            MessageKind.MANAGE_LINK,
            registration,
            now,
            redact=[token],
            manage_url=absolute_url("registration.manage", token=token),
        )


def _resend_throttle() -> DatabaseThrottle | RedisThrottle:
    """Return the counter of resend requests per IP: the login throttle's store, one-hour window."""
    return _throttle(timedelta(hours=1))


def _throttle(window: timedelta) -> DatabaseThrottle | RedisThrottle:
    """Return a counter in the login throttle's store (Redis when REDIS_URL is set, else the database)."""
    url = current_app.config.get("REDIS_URL")
    return RedisThrottle(url, window) if url else DatabaseThrottle(window)


def refusal_for_duplicate(email: str) -> RegistrationError:
    """Return the form's answer to ``email`` registered already at the event, and count it.

    Saying so helps a person who forgot they registered, but lets anyone check
    an address: the form says it ``ALREADY_REGISTERED_ANSWERS`` times per
    address within ``ALREADY_REGISTERED_WINDOW`` seconds (across events and
    visitors), then gives the neutral RegistrationRefused. Both point to the
    resend-link page. The counter is keyed by an HMAC of the address, never by
    the address itself.
    """
    config = current_app.config
    throttle = _throttle(timedelta(seconds=config["ALREADY_REGISTERED_WINDOW"]))
    secret = str(config["SECRET_KEY"]).encode()
    key = "registered-answer:" + hmac.new(secret, normalize_email(email).encode(), hashlib.sha256).hexdigest()[:32]
    with write_transaction():
        if throttle.count(key) >= config["ALREADY_REGISTERED_ANSWERS"]:
            return RegistrationRefused()
        throttle.hit(key)  # only the answers given: an address being probed adds no rows
    return AlreadyRegistered()
