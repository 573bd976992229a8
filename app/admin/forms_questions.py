"""The organiser's form of an event's own registration question; field-level validation only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..events.models import ParticipantCategory
from ..forms import Form
from ..labels import CATEGORY_LABELS
from ..registration.forms import MultiCheckboxField
from ..registration.models import QuestionKind
from ..registration.questions import CHOICE_KINDS, MAX_LABEL, QuestionData, markup_in
from ..validators import PlainText, normalize_text

QUESTION_KIND_LABELS = {
    QuestionKind.SHORT_TEXT: _l("Short text"),
    QuestionKind.LONG_TEXT: _l("Long text"),
    QuestionKind.CHOICE: _l("One choice"),
    QuestionKind.CHOICES: _l("Several choices"),
    QuestionKind.YES_NO: _l("Yes / no"),
}


def _no_markup(form, field) -> None:  # type: ignore[no-untyped-def]
    """Refuse HTML in a label: labels are shown as plain text."""
    if isinstance(field.data, str) and markup_in(field.data):
        raise ValidationError(_l("Please write plain text, without HTML tags (< and > around words)."))


class QuestionForm(Form):
    """One question of an event's registration form."""

    kind = SelectField(
        _l("Kind of answer"),
        choices=[SelectChoice(kind.value, label) for kind, label in QUESTION_KIND_LABELS.items()],
        default=QuestionKind.SHORT_TEXT.value,
    )
    label_pl = StringField(
        _l("Question (Polish)"),
        validators=[InputRequired(), Length(max=MAX_LABEL), PlainText(), _no_markup],
        filters=[normalize_text],
    )
    label_en = StringField(
        _l("Question (English)"),
        validators=[Optional(), Length(max=MAX_LABEL), PlainText(), _no_markup],
        filters=[normalize_text],
        description=_l("Empty: English speakers see the Polish question."),
    )
    options = TextAreaField(
        _l("Options"),
        validators=[Optional(), Length(max=6000), PlainText(allow_newlines=True), _no_markup],
        filters=[normalize_text],
        description=_l(
            "For choice questions: one option per line, the Polish label, then “|” and the English one, "
            "e.g. Wegetariańska | Vegetarian."
        ),
        render_kw={"rows": 5},
    )
    categories = MultiCheckboxField(
        _l("Asked of"),
        choices=[SelectChoice(category.value, label) for category, label in CATEGORY_LABELS.items()],
        description=_l("Tick none to ask every participant category."),
    )
    is_required = BooleanField(_l("An answer is required"))
    is_special_category = BooleanField(
        _l("Special-category data (health)"),
        description=_l(
            "E.g. diet for medical reasons or accessibility needs: answers are erased soon after the event, "
            "before the rest of the registration."
        ),
    )
    is_active = BooleanField(_l("Shown on the registration form"), default=True)

    layout = [
        ("kind",),
        ("label_pl", "label_en"),
        ("options",),
        ("categories",),
        ("is_required", "is_special_category", "is_active"),
    ]

    def validate_kind(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse an unknown kind."""
        if field.data not in {kind.value for kind in QuestionKind}:
            raise ValidationError(_l("Choose the kind of answer."))

    def validate_options(self, field) -> None:  # type: ignore[no-untyped-def]
        """Ask for options when the question is a choice."""
        if self.kind.data in {kind.value for kind in CHOICE_KINDS} and not (field.data or "").strip():
            raise ValidationError(_l("A choice question needs at least two options, one per line."))

    def question_data(self) -> QuestionData:
        """Return the fields as service input."""
        picked = set(self.categories.data or [])
        return QuestionData(
            kind=QuestionKind(self.kind.data),
            label_pl=self.label_pl.data,
            label_en=self.label_en.data or "",
            options_text=self.options.data or "",
            categories=[c.value for c in ParticipantCategory if c.value in picked],
            is_required=bool(self.is_required.data),
            is_special_category=bool(self.is_special_category.data),
            is_active=bool(self.is_active.data),
        )
