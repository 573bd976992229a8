"""The "send me my link again" form; field-level validation only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

from ..forms import Form
from ..validators import normalize_text


class ResendLinkForm(Form):
    """The email address a registration was made with."""

    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False, granular_message=False)],
        filters=[normalize_text],
    )
