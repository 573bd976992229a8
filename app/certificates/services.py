"""Certificates of attendance: who gets one and from when, what it says, and the email offering it.

The rules, as the README says them:

- **Who**: a live (not cancelled, not erased) registration with at least one live
  check-in at the event (``app.checkin``: arrival or a session's door).
- **From when**: once the event has ended (``Event.ends_at``), for everybody at once; the
  manage page says before then that the certificate will come.
- **Sessions attended**: check-in is recorded for the event (a day), and only at the doors
  where staff scanned; so the certificate lists the sessions of the participant's confirmed
  places, leaving out a session whose door was scanned when they were not scanned there
  (the same rule as the "Attended" column of the exports). The certificate says so.
- **Language**: the participant's (``Registration.language``), whoever downloads it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..checkin.models import CheckIn
from ..db import polish, utcnow, write_transaction
from ..errors import DomainError
from ..events.models import Event
from ..extensions import db
from ..i18n import TIMEZONE, format_clock, format_day, localized
from ..notifications.services import email_language
from ..registration.models import Booking, BookingStatus, Registration, RegistrationStatus
from ..registration.services import hash_token, new_token
from . import emails
from .pdf import Certificate, SessionLine, build_pdf


class CertificateError(DomainError):
    """A certificate that cannot be given (yet), with a translatable message."""

    message: Any = _l("The certificate could not be made.")


class NotAvailableYet(CertificateError):
    """The event has not ended yet."""

    message = _l("Certificates of attendance are available once the event has ended.")


class NotCheckedIn(CertificateError):
    """The participant was not checked in at the event (or the registration is cancelled)."""

    message = _l("There is no certificate of attendance: presence at the event was not recorded.")


class NobodyCheckedIn(CertificateError):
    """No participant of the event was checked in."""

    message = _l("Nobody was checked in at this event, so there are no certificates of attendance.")


class EventNotFound(CertificateError):
    """No event has the id or slug."""

    message = _l("No such event.")


class Availability(str, enum.Enum):
    """What the manage page says about the certificate."""

    AVAILABLE = "available"  # checked in, and the event has ended
    AFTER_EVENT = "after_event"  # checked in, the event is still on
    NOT_CHECKED_IN = "not_checked_in"  # the event has ended, no check-in recorded
    NONE = "none"  # nothing to say (cancelled, or the event has not ended and no check-in yet)


def has_ended(event: Event, now: datetime | None = None) -> bool:
    """Tell whether the event's certificates can be downloaded at ``now``: from its end."""
    return (now or utcnow()) >= event.ends_at


def _is_live(registration: Registration) -> bool:
    """Tell whether the registration may have a certificate at all (not cancelled, not erased)."""
    return registration.status == RegistrationStatus.ACTIVE and registration.anonymised_at is None


def was_checked_in(registration: Registration) -> bool:
    """Tell whether the registration has a live check-in at its event."""
    found = db.session.execute(
        select(CheckIn.id).where(CheckIn.registration_id == registration.id, CheckIn.undone_at.is_(None)).limit(1)
    ).first()
    return found is not None


def availability(registration: Registration, now: datetime | None = None) -> Availability:
    """Return what the participant's manage page says about their certificate."""
    if not _is_live(registration):
        return Availability.NONE
    ended = has_ended(registration.event, now)
    present = was_checked_in(registration)
    if present:
        return Availability.AVAILABLE if ended else Availability.AFTER_EVENT
    return Availability.NOT_CHECKED_IN if ended else Availability.NONE


def present_registrations(event: Event, *, not_offered: bool = False) -> list[Registration]:
    """Return the event's live registrations with a live check-in, in Polish alphabetical order.

    ``not_offered``: only those whose certificate was not emailed yet.
    """
    checked = select(CheckIn.registration_id).where(CheckIn.event_id == event.id, CheckIn.undone_at.is_(None))
    query = (
        select(Registration)
        .where(
            Registration.event_id == event.id,
            Registration.status == RegistrationStatus.ACTIVE,
            Registration.anonymised_at.is_(None),
            Registration.id.in_(checked),
        )
        .options(
            selectinload(Registration.bookings).options(selectinload(Booking.session), selectinload(Booking.group))
        )
        .order_by(polish(Registration.last_name), polish(Registration.first_name), Registration.id)
    )
    if not_offered:
        query = query.where(Registration.certificate_offered_at.is_(None))
    return list(db.session.execute(query).scalars())


def attended_bookings(event: Event, registrations: Sequence[Registration]) -> dict[int, list[Booking]]:
    """Return, per registration, its confirmed bookings of sessions it attended, by start time.

    A session whose door was scanned counts only for those scanned there; any other
    session of a confirmed place counts for everybody checked in at the event.
    """
    rows = db.session.execute(
        select(CheckIn.registration_id, CheckIn.session_id).where(
            CheckIn.event_id == event.id, CheckIn.undone_at.is_(None), CheckIn.session_id.is_not(None)
        )
    ).all()
    scanned_doors = {session_id for _registration_id, session_id in rows}
    scanned = {(registration_id, session_id) for registration_id, session_id in rows}
    result: dict[int, list[Booking]] = {}
    for registration in registrations:
        result[registration.id] = sorted(
            (
                booking
                for booking in registration.bookings
                if booking.status == BookingStatus.CONFIRMED
                and (booking.session_id not in scanned_doors or (registration.id, booking.session_id) in scanned)
            ),
            key=lambda b: (b.session.starts_at, b.session_id),
        )
    return result


def _local_day(value: datetime) -> Any:
    """Return the Warsaw calendar day of an instant."""
    return value.astimezone(TIMEZONE).date()


def event_dates(event: Event) -> str:
    """Return the event's date, or its first and last days, in the current language."""
    first, last = _local_day(event.starts_at), _local_day(event.ends_at)
    if first == last:
        return format_day(first, "long")
    return f"{format_day(first, 'long')} – {format_day(last, 'long')}"


def certificate_texts(registration: Registration, bookings: Iterable[Booking]) -> Certificate:
    """Return the texts of a registration's certificate, in the participant's language."""
    event = registration.event
    language = email_language(registration.language)
    organiser = event.series.organiser_name if event.series else ""
    with force_locale(language):
        lines = []
        for booking in bookings:
            session = booking.session
            title = localized(session, "title", language)
            if booking.group is not None:
                title = f"{title} ({_('Group')}: {booking.group.name})"
            when = (
                f"{format_day(_local_day(session.starts_at), 'long')}, "
                f"{format_clock(session.starts_at)}–{format_clock(session.ends_at)}"
            )
            lines.append(SessionLine(when=when, title=title))
        place = ", ".join(part for part in (event.city, event.venue) if part)
        return Certificate(
            heading=_("CERTIFICATE OF ATTENDANCE"),
            intro=_("This is to certify that"),
            participant=registration.full_name,
            affiliation=", ".join(part for part in (registration.position, registration.organisation) if part),
            took_part=_("took part in the event"),
            event_title=localized(event, "title", language),
            details=[
                (_("Date"), event_dates(event)),
                (_("Place"), place),
                (_("Organiser"), organiser),
            ],
            sessions_heading=_("Sessions attended:"),
            sessions=lines,
            sessions_note=_(
                "Presence at the event was recorded at check-in. The sessions listed are those in which the "
                "participant held a confirmed place; where attendance was also taken at a session's door, only "
                "if the participant was checked in there."
            ),
            issued=f"{event.city}, {format_day(_local_day(event.ends_at), 'long')}",
            issued_label=_("place and date"),
            signature_label=_("signature"),
            signatory_name=event.certificate_signatory_name,
            signatory_role=localized(event, "certificate_signatory_role", language),
            organiser=organiser,
            reference=_("Certificate no. %(number)s", number=f"{event.id}/{registration.id}"),
        )


def _pdf(event: Event, certificates: Sequence[Certificate], language: str) -> bytes:
    """Return the PDF of ``certificates``, its title in ``language``."""
    with force_locale(language):
        title = f"{_('Certificate of attendance')} — {localized(event, 'title', language)}"
    organiser = event.series.organiser_name if event.series else ""
    return build_pdf(certificates, title=title, author=organiser, created_at=event.ends_at)


def certificate_pdf(registration: Registration, now: datetime | None = None) -> bytes:
    """Return the PDF certificate of one participant.

    :raises NotAvailableYet: before the event's end.
    :raises NotCheckedIn: for a registration without a check-in, cancelled or erased.
    """
    event = registration.event
    if not _is_live(registration) or not was_checked_in(registration):
        raise NotCheckedIn()
    if not has_ended(event, now):
        raise NotAvailableYet()
    bookings = attended_bookings(event, [registration])[registration.id]
    return _pdf(event, [certificate_texts(registration, bookings)], email_language(registration.language))


def event_certificates_pdf(event: Event, language: str, now: datetime | None = None) -> bytes:
    """Return one PDF with a page per checked-in participant, each in their own language.

    :raises NotAvailableYet: before the event's end.
    :raises NobodyCheckedIn: when there is no certificate to give.
    """
    if not has_ended(event, now):
        raise NotAvailableYet()
    registrations = present_registrations(event)
    if not registrations:
        raise NobodyCheckedIn()
    attended = attended_bookings(event, registrations)
    pages = [certificate_texts(r, attended[r.id]) for r in registrations]
    return _pdf(event, pages, language)


def find_event(key: str) -> Event:
    """Return the event with the slug (or numeric id) ``key``.

    :raises EventNotFound:
    """
    event = db.session.execute(select(Event).where(Event.slug == key)).scalar_one_or_none()
    if event is None and key.isdigit() and len(key) < 10:
        event = db.session.get(Event, int(key))
    if event is None:
        raise EventNotFound()
    return event


def offer_certificates(event_id: int, now: datetime | None = None, actor: Any = None) -> int:
    """Email every checked-in participant not emailed yet a new private link to their certificate; return how many.

    Once per participant: ``certificate_offered_at`` is set by a conditional
    UPDATE, so two organisers clicking at once (or the command run twice) send
    one email each. Only the link's hash is stored, so the email carries a new
    one and the earlier links stop working (the email says so).

    :raises NotAvailableYet: before the event's end.
    :raises EventNotFound:
    """
    now = now or utcnow()
    with write_transaction():
        event = db.session.get(Event, event_id)
        if event is None:
            raise EventNotFound()
        if not has_ended(event, now):
            raise NotAvailableYet()
        sent = 0
        for registration in present_registrations(event, not_offered=True):
            token = new_token()
            if not claim_offer(registration.id, hash_token(token), now):
                continue  # another request emailed this person in the meantime
            emails.queue_certificate_offer(registration, token, now)
            sent += 1
        if sent:
            record("certificates.offered", event_id=event.id, actor=actor, recipients=sent)
    return sent


def claim_offer(registration_id: int, token_hash: str, now: datetime) -> bool:
    """Mark a registration's certificate as emailed and give it a new link, unless it was emailed already.

    Tell whether this call did it: the UPDATE's condition is the guard, which a
    concurrent request that read the same list before our commit finds false.
    Flushes only.
    """
    claimed = db.session.execute(
        update(Registration)
        .where(Registration.id == registration_id, Registration.certificate_offered_at.is_(None))
        .values(certificate_offered_at=now, manage_token_hash=token_hash, updated_at=now)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    return bool(claimed == 1)
