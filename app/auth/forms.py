"""Login form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from ..forms import Form
from ..validators import normalize_text


class LoginForm(Form):
    """Email and password of an organiser account."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)], filters=[normalize_text])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()
