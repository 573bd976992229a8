"""Registration and manage-page forms; field-level validation only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..events.models import Event, ParticipantCategory, Session
from ..events.services import RankedBlock
from ..forms import Form
from ..labels import CATEGORY_LABELS, LANGUAGE_LABELS
from ..validators import PlainText, normalize_text
from .models import Question, QuestionKind
from .questions import MAX_LONG_ANSWER, MAX_SHORT_ANSWER, NO, YES, markup_in, split_choices
from .ranked import RANKED_NOT_ELIGIBLE
from .services import Choices, ParticipantData

ORDINALS = {
    1: _l("1st choice"),
    2: _l("2nd choice"),
    3: _l("3rd choice"),
}


def ordinal_label(position: int) -> str:
    """Return "1st choice", "2nd choice", … in the current language."""
    return str(ORDINALS.get(position, _l("Choice %(number)s", number=position)))


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes for picking several options."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form) -> None:  # type: ignore[no-untyped-def]
        """Refuse values that are not among the choices, with a readable message.

        Without choices (None) the values are left to the service, which checks them against the programme.
        """
        if self.choices is None:
            return
        allowed = {choice.value for choice in self.choices}  # type: ignore[union-attr]
        for value in self.data or []:
            if value not in allowed:
                raise ValidationError(_l("This choice is not available."))


class OneChoiceField(RadioField):
    """Radio buttons that may be left empty (the form checks required answers), refusing unknown values clearly."""

    def pre_validate(self, form) -> None:  # type: ignore[no-untyped-def]
        """Accept no choice; refuse a value that is not among the options."""
        if self.data in (None, "", "None"):
            self.data = ""
            return
        if self.data not in {str(choice.value) for choice in self.choices or []}:  # type: ignore[union-attr]
            raise ValidationError(_l("This option is not available."))


class NoMarkup:
    """Refuse text that looks like HTML: answers are plain text."""

    def __call__(self, form, field) -> None:  # type: ignore[no-untyped-def]
        if isinstance(field.data, str) and markup_in(field.data):
            raise ValidationError(_l("Please write plain text, without HTML tags (< and > around words)."))


def question_field(question: Question) -> Field:
    """Return the form field of one of the event's questions (whether it must be answered is checked by the form)."""
    label = question.label
    if question.kind == QuestionKind.SHORT_TEXT:
        return StringField(
            label,
            validators=[Optional(), Length(max=MAX_SHORT_ANSWER), PlainText(), NoMarkup()],
            filters=[normalize_text],
        )
    if question.kind == QuestionKind.LONG_TEXT:
        return TextAreaField(
            label,
            validators=[Optional(), Length(max=MAX_LONG_ANSWER), PlainText(allow_newlines=True), NoMarkup()],
            filters=[normalize_text],
        )
    if question.kind == QuestionKind.YES_NO:
        return OneChoiceField(label, choices=[SelectChoice(YES, _l("Yes")), SelectChoice(NO, _l("No"))], default="")
    options = [SelectChoice(o["id"], question.option_label(o["id"])) for o in question.options or []]
    if question.kind == QuestionKind.CHOICES:
        return MultiCheckboxField(label, choices=options, validate_choice=False)
    return OneChoiceField(label, choices=options, default="")


class AnswersMixin:
    """The event's own questions on a form: fields ``q_<id>`` added per event (:func:`build_choices_form`)."""

    question_field_names: list[tuple[Question, str]] = []

    def answers_data(self, category: str) -> dict[int, str]:
        """Return the answers as stored values by question id; questions not asked of ``category`` are left out."""
        answers: dict[int, str] = {}
        for question, name in self.question_field_names:
            if not question.applies_to(category):
                continue
            data = getattr(self, name).data
            if question.kind == QuestionKind.CHOICES:
                picked = set(data or [])
                answers[question.id] = ",".join(o["id"] for o in question.options or [] if o["id"] in picked)
            else:
                answers[question.id] = (data or "") if isinstance(data, str) else ""
        return answers

    def check_required_answers(self, category: str | None) -> bool:
        """Mark each required question asked of ``category`` and left unanswered; tell whether all are answered."""
        ok = True
        for question, name in self.question_field_names:
            field = getattr(self, name)
            if not question.is_required or field.errors or category is None or not question.applies_to(category):
                continue
            if not field.data:
                field.errors = [*field.errors, _l("Please answer this question.")]
                ok = False
        return ok

    def fill_answers(self, answers: dict[int, str]) -> None:
        """Show stored answers in the fields (the manage page's first view)."""
        for question, name in self.question_field_names:
            value = answers.get(question.id, "")
            getattr(self, name).data = split_choices(value) if question.kind == QuestionKind.CHOICES else value


class AnswersForm(AnswersMixin, Form):
    """The manage page's answers to the event's questions."""

    category: str = ""

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        """Also require the required answers of the registration's category."""
        ok = super().validate(extra_validators)
        return self.check_required_answers(self.category) and ok


def build_answers_form(questions: list[Question], category: str, **kwargs) -> AnswersForm:
    """Build the manage page's form of the questions asked of ``category``."""
    asked = [q for q in questions if q.applies_to(category)]
    fields: dict = {f"q_{q.id}": question_field(q) for q in asked}
    fields["question_field_names"] = [(q, f"q_{q.id}") for q in asked]
    form = type("AnswersForm", (AnswersForm,), fields)(**kwargs)
    form.category = category
    return form


def _text(label: object, max_length: int, required: bool = True) -> StringField:
    """Return a single-line text field with the house's cleaning and checks."""
    validators = [DataRequired() if required else Optional(), Length(max=max_length), PlainText()]
    return StringField(label, validators=validators, filters=[normalize_text])


class ChoicesForm(AnswersMixin, Form):
    """Session checkboxes; ranked-choice selects are added per event."""

    sessions = MultiCheckboxField(_l("Sessions"), coerce=int, validate_choice=False)
    invitation_code = StringField(
        _l("Invitation code (optional)"),
        validators=[Optional(), Length(max=40)],
        filters=[normalize_text],
        description=_l("If an organiser invited you to a session open only to some participants, enter the code here."),
    )

    rank_field_names: list[tuple[RankedBlock, list[str]]] = []

    def check_sessions_offered(self, instant: list) -> None:
        """Mark the sessions field when it names a session not among ``instant`` (after a failed validation)."""
        if self.sessions.errors:
            return
        self.sessions.choices = [SelectChoice(s.id, s.title) for s in instant]
        try:
            self.sessions.pre_validate(self)
        except ValidationError as error:
            self.sessions.errors = [*self.sessions.errors, str(error)]

    def check_ranks_eligible(self, sessions: dict[int, Session]) -> None:
        """Mark each ranked choice outside the chosen category (after a failed validation).

        The service refuses those too, but it is not reached while a rank is repeated or
        skipped: checked here, every ranked field's mistake shows at once.
        """
        category = self.category.data
        if category not in {c.value for c in ParticipantCategory}:
            return
        for _block, names in self.rank_field_names:
            for name in names:
                field = getattr(self, name)
                session = sessions.get(field.data) if isinstance(field.data, int) else None
                if session is not None and not field.errors and not session.is_eligible(category):
                    field.errors = [*field.errors, RANKED_NOT_ELIGIBLE]

    def choices_data(self) -> Choices:
        """Return the picked sessions and rankings as service input."""
        rankings: dict[str, list[int]] = {}
        for block, names in self.rank_field_names:
            if not any(getattr(self, name).raw_data for name in names):
                continue  # not on the page (e.g. ranking closed): leave the stored ranks alone
            picked = [getattr(self, name).data for name in names]
            rankings[block.key] = [value for value in picked if value]
        return Choices(
            session_ids=list(self.sessions.data or []),
            rankings=rankings,
            invitation_code=self.invitation_code.data or "",
        )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        """Also check that a ranked block has no gaps and no workshop twice."""
        ok = super().validate(extra_validators)
        for _block, names in self.rank_field_names:
            seen: set[int] = set()
            gap = False
            for name in names:
                field = getattr(self, name)
                if not field.data:
                    gap = True
                    continue
                if gap:
                    field.errors.append(_l("Fill in your choices in order, starting with the 1st."))
                    ok = False
                elif field.data in seen:
                    field.errors.append(_l("You chose the same workshop twice."))
                    ok = False
                seen.add(field.data)
        return ok


class RegistrationForm(ChoicesForm):
    """The public registration form."""

    first_name = _text(_l("First name"), 100)
    last_name = _text(_l("Last name"), 100)
    email = EmailField(
        _l("Email"),
        validators=[DataRequired(), Length(max=254), Email(check_deliverability=False, granular_message=False)],
        filters=[normalize_text],
    )
    phone = StringField(
        _l("Phone (optional)"),
        validators=[
            Optional(),
            Length(max=32),
            Regexp(r"^\+?[0-9 ()\-]{3,32}$", message=_l("Enter a phone number: digits, spaces, +, - and brackets.")),
        ],
        filters=[normalize_text],
    )
    organisation = _text(_l("Organisation / municipality office"), 200)
    position = _text(_l("Position (optional)"), 150, required=False)
    city = _text(_l("City or municipality"), 120)
    category = SelectField(
        _l("Participant category"),
        choices=[SelectChoice("", _l("— choose —"))]
        + [SelectChoice(c.value, label) for c, label in CATEGORY_LABELS.items()],
        validators=[InputRequired()],
    )
    language = SelectField(
        _l("Language of emails"),
        choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()],
        validators=[InputRequired()],
    )
    consent = BooleanField(validators=[DataRequired(message=_l("Your consent is required to register."))])
    marketing_consent = BooleanField(_l("I want to receive news about future events (optional)."))

    def validate_category(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse a missing or unknown category."""
        if field.data not in {c.value for c in ParticipantCategory}:
            raise ValidationError(_l("Choose your participant category."))

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        """Also require the answers to the required questions asked of the chosen category."""
        ok = super().validate(extra_validators)
        category = self.category.data if not self.category.errors else None
        return self.check_required_answers(category) and ok

    def participant_data(self) -> ParticipantData:
        """Return the personal fields (and the answers to the event's questions) as service input."""
        return ParticipantData(
            first_name=self.first_name.data,
            last_name=self.last_name.data,
            email=self.email.data,
            phone=self.phone.data or "",
            organisation=self.organisation.data,
            position=self.position.data or "",
            city=self.city.data,
            category=ParticipantCategory(self.category.data),
            language=self.language.data,
            has_marketing_consent=bool(self.marketing_consent.data),
            answers=self.answers_data(self.category.data),
        )


class ConfirmForm(Form):
    """An empty form: a button whose POST confirms an action (CSRF-protected)."""


def build_choices_form(
    base: type[ChoicesForm],
    event: Event,
    instant: list[Session] | None,
    blocks: list[RankedBlock],
    category: str | None = None,
    questions: list[Question] | None = None,
    **kwargs,
) -> ChoicesForm:
    """Build a form of ``base`` with this event's sessions and ranked blocks.

    ``instant`` None leaves the picked sessions unchecked here (the service checks them).

    With ``category``, ranked selects offer only the workshops open to it.
    ``questions``: the event's own questions, as fields ``q_<id>`` (the registration form's).
    """
    fields: dict = {}
    rank_field_names: list[tuple[RankedBlock, list[str]]] = []
    for block in blocks:
        offered = [s for s in block.sessions if category is None or s.is_eligible(category)]
        options = [SelectChoice(0, _l("— none —"))] + [SelectChoice(s.id, s.title) for s in offered]
        names = []
        for position in range(1, min(event.max_ranked_choices, len(offered)) + 1):
            name = f"rank_{block.key}_{position}"
            fields[name] = SelectField(ordinal_label(position), choices=options, coerce=_int_or_zero, default=0)
            names.append(name)
        rank_field_names.append((block, names))
    fields["rank_field_names"] = rank_field_names
    for question in questions or []:
        fields[f"q_{question.id}"] = question_field(question)
    fields["question_field_names"] = [(q, f"q_{q.id}") for q in questions or []]
    # A new class scans its fields again on first use: the usual event, without ranked
    # workshops or questions, uses ``base`` itself instead of a new class per request.
    form_class = type(base.__name__, (base,), fields) if blocks or questions else base
    form = form_class(**kwargs)
    form.sessions.choices = None if instant is None else [SelectChoice(s.id, s.title) for s in instant]
    return form


def _int_or_zero(value: object) -> int:
    """Coerce a select's value to int; junk becomes 0 (no choice), caught by validation."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
