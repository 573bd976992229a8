"""Organiser use cases of an event's speakers and partners.

A speaker belongs to one event and speaks at any of its sessions; a partner is
listed on the event page in the group of its kind. Pictures (a speaker's
photo, a partner's logo) are checked and stored by ``app.media`` before the
transaction; a picture replaced or removed is deleted only after the change
is committed, and a new one is deleted again when the change is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..audit.services import record
from ..db import write_transaction
from ..events.models import PARTNER_KINDS, Event, Partner, Session, Speaker
from ..extensions import db
from ..media import InvalidImage, delete_image, save_image
from .programme import ManagementError, NotFound


@dataclass
class SpeakerData:
    """What the speaker form gives; ``photo`` is a new upload, ``remove_photo`` drops the current one."""

    name: str
    role_pl: str = ""
    role_en: str = ""
    organisation: str = ""
    bio_pl: str = ""
    bio_en: str = ""
    position: int = 0
    session_ids: list[int] = field(default_factory=list)
    photo: IO[bytes] | None = None
    remove_photo: bool = False


@dataclass
class PartnerData:
    """What the partner form gives; ``logo`` is a new upload, ``remove_logo`` drops the current one."""

    name: str
    role: str = "partner"
    url: str = ""
    position: int = 0
    logo: IO[bytes] | None = None
    remove_logo: bool = False


def create_speaker(event_id: int, data: SpeakerData) -> Speaker:
    """Add a speaker to the event and attach them to the chosen sessions.

    :raises NotFound: for an unknown event.
    :raises ManagementError: for a session of another event, or a bad photo (field ``photo``).
    """
    with _picture(data.photo, "photo") as photo:
        with write_transaction():
            if db.session.get(Event, event_id) is None:
                raise NotFound()
            speaker = Speaker(event_id=event_id, photo=photo)
            _fill_speaker(speaker, data)
            db.session.add(speaker)
            db.session.flush()
            record("speaker.created", event_id=event_id, name=speaker.name)
    return speaker


def update_speaker(speaker_id: int, data: SpeakerData) -> Speaker:
    """Change a speaker, their sessions and their photo.

    :raises NotFound: for an unknown speaker.
    :raises ManagementError: for a session of another event, or a bad photo (field ``photo``).
    """
    with _picture(data.photo, "photo") as photo:
        with write_transaction():
            speaker = _get(Speaker, speaker_id)
            old_photo = speaker.photo
            _fill_speaker(speaker, data)
            if photo or data.remove_photo:
                speaker.photo = photo
            record("speaker.updated", event_id=speaker.event_id, name=speaker.name)
    if old_photo != speaker.photo:
        delete_image(old_photo)
    return speaker


def delete_speaker(speaker_id: int) -> None:
    """Delete a speaker (their sessions stay) and their photo.

    :raises NotFound: for an unknown speaker.
    """
    with write_transaction():
        speaker = _get(Speaker, speaker_id)
        photo = speaker.photo
        record("speaker.deleted", event_id=speaker.event_id, name=speaker.name)
        db.session.delete(speaker)
    delete_image(photo)


def create_partner(event_id: int, data: PartnerData) -> Partner:
    """Add a partner to the event.

    :raises NotFound: for an unknown event.
    :raises ManagementError: for an unknown kind, an address that is not http(s), or a bad logo.
    """
    _check_partner(data)
    with _picture(data.logo, "logo") as logo:
        with write_transaction():
            if db.session.get(Event, event_id) is None:
                raise NotFound()
            partner = Partner(event_id=event_id, logo=logo)
            _fill_partner(partner, data)
            db.session.add(partner)
            db.session.flush()
            record("partner.created", event_id=event_id, name=partner.name)
    return partner


def update_partner(partner_id: int, data: PartnerData) -> Partner:
    """Change a partner and its logo.

    :raises NotFound: for an unknown partner.
    :raises ManagementError: for an unknown kind, an address that is not http(s), or a bad logo.
    """
    _check_partner(data)
    with _picture(data.logo, "logo") as logo:
        with write_transaction():
            partner = _get(Partner, partner_id)
            old_logo = partner.logo
            _fill_partner(partner, data)
            if logo or data.remove_logo:
                partner.logo = logo
            record("partner.updated", event_id=partner.event_id, name=partner.name)
    if old_logo != partner.logo:
        delete_image(old_logo)
    return partner


def delete_partner(partner_id: int) -> None:
    """Delete a partner and its logo.

    :raises NotFound: for an unknown partner.
    """
    with write_transaction():
        partner = _get(Partner, partner_id)
        logo = partner.logo
        record("partner.deleted", event_id=partner.event_id, name=partner.name)
        db.session.delete(partner)
    delete_image(logo)


@contextmanager
def _picture(upload: IO[bytes] | None, field_name: str) -> Iterator[str | None]:
    """Store an uploaded picture for the block; delete it again when the block fails.

    :raises ManagementError: when it is not a picture this application keeps (``field_name``).
    """
    if upload is None:
        yield None
        return
    try:
        name = save_image(upload, field_name)
    except InvalidImage as error:
        raise ManagementError(error.message, field_name) from error
    try:
        yield name
    except BaseException:
        delete_image(name)
        raise


def _fill_speaker(speaker: Speaker, data: SpeakerData) -> None:
    """Copy the form's fields onto the speaker and set their sessions (all of the speaker's event)."""
    speaker.name = data.name.strip()
    speaker.role_pl, speaker.role_en = data.role_pl.strip(), data.role_en.strip()
    speaker.organisation = data.organisation.strip()
    speaker.bio_pl, speaker.bio_en = data.bio_pl.strip(), data.bio_en.strip()
    speaker.position = data.position
    wanted = sorted(set(data.session_ids))
    sessions = (
        db.session.execute(select(Session).where(Session.id.in_(wanted), Session.event_id == speaker.event_id))
        .scalars()
        .all()
        if wanted
        else []
    )
    if len(sessions) != len(wanted):
        raise ManagementError(_l("Choose sessions of this event only."), "session_ids")
    speaker.sessions = sorted(sessions, key=lambda s: (s.starts_at, s.id))


def _check_partner(data: PartnerData) -> None:
    """Refuse an unknown kind of partner or a web address that is not http or https.

    :raises ManagementError:
    """
    if data.role not in PARTNER_KINDS:
        raise ManagementError(_l("Choose one of the kinds of partner."), "role")
    url = data.url.strip()
    if url and (urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).netloc):
        raise ManagementError(_l("Enter a web address starting with https:// or http://."), "url")


def _fill_partner(partner: Partner, data: PartnerData) -> None:
    """Copy the form's fields onto the partner."""
    partner.name = data.name.strip()
    partner.role = data.role
    partner.url = data.url.strip() or None
    partner.position = data.position


def _get(model: Callable[..., Any], row_id: int) -> Any:
    """Return the row or raise NotFound."""
    row = db.session.get(model, row_id)  # type: ignore[arg-type]
    if row is None:
        raise NotFound()
    return row
