"""Back-office forms of the import of invited participants from a file."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Regexp

from ..events.models import BookingMode, Event
from ..forms import Form
from ..labels import LANGUAGE_LABELS
from ..registration.import_files import MAX_ROWS
from ..registration.imports import INVITATIONS, REFUSE, REGISTRATIONS, WAITLIST, ImportOptions


class ImportForm(Form):
    """Upload a CSV or XLSX list and say how to import it."""

    file = FileField(
        _l("File (.csv or .xlsx)"),
        validators=[FileRequired(message=_l("Choose a file."))],
        description=_l(
            "At most 1 MB and %(max)s participants, with the template's column headers (Polish or English).",
            max=MAX_ROWS,
        ),
    )
    mode = RadioField(
        _l("Import as"),
        choices=[
            SelectChoice(
                REGISTRATIONS,
                _l("Registrations: each person is registered and gets the confirmation with a private link"),
            ),
            SelectChoice(
                INVITATIONS, _l("Invitation codes: each person gets a single-use code to register themselves")
            ),
        ],
        default=REGISTRATIONS,
        validators=[InputRequired()],
    )
    language = SelectField(
        _l("Language of rows without one"),
        choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()],
        default="pl",
    )
    book_directly = BooleanField(
        _l("Book directly: confirm places in sessions outside a person's category instead of making requests")
    )
    when_full = RadioField(
        _l("When a session is full"),
        choices=[
            SelectChoice(WAITLIST, _l("put the person on its waiting list")),
            SelectChoice(REFUSE, _l("leave the row out (it is shown as an error)")),
        ],
        default=WAITLIST,
        validators=[InputRequired()],
    )
    session_id = SelectField(_l("Session of the invitations (for rows that name none)"), default="")
    consent = BooleanField(
        _l(
            "The people on the list have agreed to the processing of their personal data "
            "(or the organiser has another legal basis) and may be emailed about this event."
        ),
        validators=[DataRequired(message=_l("Confirm the legal basis for processing these people's data."))],
    )

    def __init__(self, event: Event, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.session_id.choices = [SelectChoice("", _l("— none —"))] + [
            SelectChoice(str(s.id), f"{s.id}: {s.title}")
            for s in event.sessions
            if s.booking_mode == BookingMode.INSTANT
        ]

    def options(self) -> ImportOptions:
        """Return the choices as service input."""
        return ImportOptions(
            mode=self.mode.data,
            language=self.language.data,
            book_directly=bool(self.book_directly.data),
            when_full=self.when_full.data,
            session_id=int(self.session_id.data) if self.session_id.data else None,
        )


class ConfirmImportForm(Form):
    """Confirm the import shown in the preview; ``fingerprint`` says which preview was seen."""

    fingerprint = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f]{64}$")])
