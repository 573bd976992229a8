"""Forms of organiser accounts: login, password change, forgotten password."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from ..forms import Form
from ..notifications.services import is_plain_address
from ..validators import normalize_text
from .services import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class LoginForm(Form):
    """Email and password of an organiser account."""

    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)], filters=[normalize_text])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


def new_password_fields() -> tuple[PasswordField, PasswordField]:
    """Return the fields of a new password and its repetition, with the accounts' length policy."""
    new_password = PasswordField(
        _l("New password"),
        description=_l("At least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
        validators=[
            InputRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
            ),
            Length(
                max=MAX_PASSWORD_LENGTH,
                message=_l("The password may have at most %(n)s characters.", n=MAX_PASSWORD_LENGTH),
            ),
        ],
    )
    repeated = PasswordField(
        _l("New password again"),
        validators=[InputRequired(), EqualTo("new_password", message=_l("The two new passwords are not the same."))],
    )
    return new_password, repeated


class ChangePasswordForm(Form):
    """A logged-in organiser's current password and the new one, twice."""

    current_password = PasswordField(
        _l("Current password"), validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )
    new_password, new_password_again = new_password_fields()


class ForgotPasswordForm(Form):
    """The email of an account whose password was forgotten."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)], filters=[normalize_text])

    def validate_email(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse what is not an email address (accounts' addresses may be at any domain, test ones too)."""
        if not is_plain_address(field.data or ""):
            raise ValidationError(_l("This is not an email address."))


class ResetPasswordForm(Form):
    """A new password, twice, set from an emailed link."""

    new_password, new_password_again = new_password_fields()
