"""Back-office forms of speakers and partners; field-level validation only (the services check the rest)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from ..events.models import PARTNER_KINDS
from ..forms import Form
from ..labels import PARTNER_KIND_LABELS
from ..media import ACCEPT
from ..registration.forms import MultiCheckboxField
from ..validators import PlainText, normalize_text
from .forms_events import MARKDOWN_HELP, MAX_DESCRIPTION
from .lineup import PartnerData, SpeakerData

PICTURE_HELP = _l("JPEG, PNG or WebP. It is stored resized to at most 800 pixels, without its metadata.")


def _line(label: object, max_length: int, required: bool = False, **kwargs: Any) -> StringField:
    """Return a single-line text field, cleaned and checked."""
    first = InputRequired() if required else Optional()
    return StringField(
        label, validators=[first, Length(max=max_length), PlainText()], filters=[normalize_text], **kwargs
    )


def _markdown(label: object) -> TextAreaField:
    """Return an optional multi-line Markdown field."""
    return TextAreaField(
        label,
        validators=[Optional(), Length(max=MAX_DESCRIPTION), PlainText(allow_newlines=True)],
        filters=[normalize_text],
        description=MARKDOWN_HELP,
        render_kw={"rows": 5},
    )


def _position() -> IntegerField:
    """Return the field of the order on the page (smaller first)."""
    return IntegerField(
        _l("Order on the page"),
        validators=[Optional(), NumberRange(min=0, max=10_000)],
        default=0,
        description=_l("Smaller numbers come first."),
    )


def _upload(data: object) -> Any:
    """Return the uploaded file's stream, or None when nothing was chosen (or ``data`` is the stored name)."""
    return data.stream if isinstance(data, FileStorage) and data.filename else None


def _picture(label: object) -> FileField:
    """Return an optional picture upload; the server checks its content, not its name."""
    return FileField(label, description=PICTURE_HELP, render_kw={"accept": ACCEPT})


class SpeakerForm(Form):
    """A speaker: who they are in both languages, their photo and sessions."""

    name = _line(_l("Name"), 200, required=True)
    organisation = _line(_l("Organisation"), 200, description=_l("E.g. “Circle Economy” or “City of Nijmegen”."))
    role_pl = _line(_l("Role (Polish)"), 200, description=_l("E.g. “planista miejski”."))
    role_en = _line(_l("Role (English)"), 200, description=_l("E.g. “urban planner”."))
    bio_pl = _markdown(_l("Biography (Polish)"))
    bio_en = _markdown(_l("Biography (English)"))
    photo = _picture(_l("Photo"))
    remove_photo = BooleanField(_l("Remove the current photo"))
    position = _position()
    session_ids = MultiCheckboxField(
        _l("Speaks at"), coerce=int, description=_l("The sessions whose programme entry names this speaker.")
    )

    layout = [
        ("name", "organisation"),
        ("role_pl", "role_en"),
        ("bio_pl", "bio_en"),
        ("photo", "remove_photo"),
        ("position",),
        ("session_ids",),
    ]

    def speaker_data(self) -> SpeakerData:
        """Return the fields as service input."""
        return SpeakerData(
            name=self.name.data or "",
            role_pl=self.role_pl.data or "",
            role_en=self.role_en.data or "",
            organisation=self.organisation.data or "",
            bio_pl=self.bio_pl.data or "",
            bio_en=self.bio_en.data or "",
            position=self.position.data or 0,
            session_ids=list(self.session_ids.data or []),
            photo=_upload(self.photo.data),
            remove_photo=bool(self.remove_photo.data),
        )


class PartnerForm(Form):
    """A partner of the event, of one kind, with an optional web address and logo."""

    name = _line(_l("Name of the partner"), 200, required=True)
    role = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind, PARTNER_KIND_LABELS[kind]) for kind in PARTNER_KINDS],
        default="partner",
    )
    url = _line(_l("Web address"), 500, description=_l("Optional, starting with https://."))
    logo = _picture(_l("Logo"))
    remove_logo = BooleanField(_l("Remove the current logo"))
    position = _position()

    layout = [("name", "role"), ("url",), ("logo", "remove_logo"), ("position",)]

    def partner_data(self) -> PartnerData:
        """Return the fields as service input."""
        return PartnerData(
            name=self.name.data or "",
            role=self.role.data or "partner",
            url=self.url.data or "",
            position=self.position.data or 0,
            logo=_upload(self.logo.data),
            remove_logo=bool(self.remove_logo.data),
        )
