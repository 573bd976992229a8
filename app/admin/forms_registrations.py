"""Forms of the registrations back office: the list's filters, actions and sign-ups by hand."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional, Regexp

from ..events.models import Event
from ..forms import Form
from ..labels import BOOKING_STATUS_LABELS, CATEGORY_LABELS
from ..registration.admin_services import DEFAULT_SORT, PER_PAGE, RegistrationFilters
from ..registration.forms import RegistrationForm
from ..registration.models import RegistrationStatus

SORT_LABELS = {
    "last_name": _l("Last name"),
    "created": _l("Registration time"),
    "organisation": _l("Organisation"),
    "city": _l("City"),
}
PER_PAGE_CHOICES = (25, 50, 100, 200)


class RegistrationFilterForm(Form):
    """The list's search, filters and order, read from the query string (no CSRF: it only reads)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=200)])
    category = SelectField(_l("Category"), validate_choice=False)
    registration_status = SelectField(_l("Registration"), validate_choice=False)
    booking_status = SelectField(_l("Place"), validate_choice=False)
    session = SelectField(_l("Session"), validate_choice=False)
    group = SelectField(_l("Group"), validate_choice=False)
    sort = SelectField(_l("Sort by"), validate_choice=False)
    direction = SelectField(_l("Order"), validate_choice=False)
    per_page = SelectField(_l("Per page"), validate_choice=False)
    page = IntegerField(validators=[Optional()])

    def __init__(self, event: Event, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        anything = SelectChoice("", _l("— any —"))
        self.category.choices = [anything] + [SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()]
        self.registration_status.choices = [
            anything,
            SelectChoice(RegistrationStatus.ACTIVE.value, _l("Active")),
            SelectChoice(RegistrationStatus.CANCELLED.value, _l("Cancelled")),
        ]
        self.booking_status.choices = [anything] + [
            SelectChoice(s.value, label) for s, label in BOOKING_STATUS_LABELS.items()
        ]
        self.session.choices = [anything] + [SelectChoice(str(s.id), s.title) for s in event.sessions]
        self.group.choices = [anything] + [
            SelectChoice(str(g.id), f"{s.title} — {g.label}") for s in event.sessions for g in s.groups
        ]
        self.sort.choices = [SelectChoice(key, label) for key, label in SORT_LABELS.items()]
        self.direction.choices = [SelectChoice("asc", _l("Ascending")), SelectChoice("desc", _l("Descending"))]
        self.per_page.choices = [SelectChoice(str(n), str(n)) for n in PER_PAGE_CHOICES]

    def _allowed(self, field: SelectField, default: str = "") -> str:
        """Return the field's value when it is one of its choices, else ``default``."""
        values = {choice.value for choice in field.choices}  # type: ignore[union-attr]
        if field.data in values:
            return field.data
        field.data = default
        return default

    def filters(self) -> RegistrationFilters:
        """Return the filters asked for; anything unknown falls back to its default."""
        session, group = self._allowed(self.session), self._allowed(self.group)
        q = self.q.data if isinstance(self.q.data, str) else ""
        return RegistrationFilters(
            text=q[:200],
            category=self._allowed(self.category) or None,
            registration_status=self._allowed(self.registration_status) or None,
            booking_status=self._allowed(self.booking_status) or None,
            session_id=int(session) if session else None,
            group_id=int(group) if group else None,
            sort=self._allowed(self.sort, DEFAULT_SORT),
            descending=self._allowed(self.direction, "asc") == "desc",
        )

    def page_number(self) -> int:
        """Return the page asked for (1 for junk)."""
        raw = self.page.raw_data[0] if self.page.raw_data else "1"
        return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1

    def page_size(self) -> int:
        """Return the page size asked for, among the allowed ones."""
        return int(self._allowed(self.per_page, str(PER_PAGE)))


class MoveGroupForm(Form):
    """Move a confirmed place to another group of the same session."""

    group_id = StringField(
        _l("New group"),
        validators=[InputRequired(message=_l("Choose a group.")), Regexp(r"^\d{1,10}$", message=_l("Choose a group."))],
    )
    override = BooleanField(_l("Add a place if the group is full"))


class PromoteForm(Form):
    """Promote one waiting booking by hand."""

    override = BooleanField(_l("Add a place if the session is full"))


class AdminRegistrationForm(RegistrationForm):
    """The public form's fields, filled in by an organiser for a phone or paper sign-up."""

    consent = BooleanField(
        _l("The participant has consented to the processing of their personal data (on paper, by email or by phone)."),
        validators=[DataRequired(message=_l("The participant's consent is required."))],
    )
    book_directly = BooleanField(
        _l("Book directly: confirm places in sessions outside the participant's category instead of making requests")
    )


class ConfirmedActionForm(Form):
    """The form of a confirmation page: its hidden field shows the POST comes from the page that said what happens."""

    confirmed = HiddenField(default="yes", validators=[AnyOf(["yes"])])
