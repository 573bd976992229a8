"""The bulk email form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..forms import Form
from ..validators import PlainText, normalize_text


def _int_or_none(value: object) -> int | None:
    """Coerce a select's value; empty or junk means "none"."""
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class BulkEmailForm(Form):
    """Who gets the message and what it says, in Polish and English."""

    status = SelectField(
        _l("Recipients"),
        choices=[
            SelectChoice("confirmed", _l("Confirmed participants")),
            SelectChoice("waitlisted", _l("Waiting list")),
        ],
    )
    session_id = SelectField(_l("Session"), coerce=_int_or_none, validate_choice=False)
    group_id = SelectField(_l("Group"), coerce=_int_or_none, validate_choice=False)
    subject_pl = StringField(
        _l("Subject (Polish)"), validators=[DataRequired(), Length(max=200), PlainText()], filters=[normalize_text]
    )
    body_pl = TextAreaField(
        _l("Text (Polish)"), validators=[DataRequired(), Length(max=20000), PlainText(allow_newlines=True)]
    )
    subject_en = StringField(
        _l("Subject (English)"), validators=[Optional(), Length(max=200), PlainText()], filters=[normalize_text]
    )
    body_en = TextAreaField(
        _l("Text (English)"),
        validators=[Optional(), Length(max=20000), PlainText(allow_newlines=True)],
        description=_l("Empty: participants who chose English get the Polish text."),
    )
    has_greeting = BooleanField(
        _l("Start with a greeting"),
        default=True,
        description=_l(
            "Adds “Dzień dobry, {first name},” (in English “Hello {first name},”) above your text: "
            "do not write a greeting of your own, or untick this."
        ),
    )
    # What the preview showed ("status:session:group:count"): sending needs the audience the organiser saw.
    previewed = HiddenField()
    preview = SubmitField(_l("Preview"))
    send = SubmitField(_l("Send"))
