"""Back-office forms of series, events, sessions, groups and accounts; field-level validation only."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..auth.models import Role
from ..auth.services import MIN_PASSWORD_LENGTH
from ..events.models import DEFAULT_REMINDER_HOURS, BookingMode, ParticipantCategory, SessionKind
from ..forms import Form
from ..i18n import TIMEZONE
from ..labels import CATEGORY_LABELS, LANGUAGE_LABELS, SESSION_KIND_LABELS
from ..notifications.services import is_plain_address
from ..registration.forms import MultiCheckboxField
from ..registration.invitations import InvitationRequest
from ..registration.reminders import MAX_REMINDER_HOURS, MAX_REMINDERS
from ..validators import PlainText, normalize_text
from .programme import DOMAIN_PATTERN, CloneData, EventData, GroupData, SeriesData, SessionData

SLUG_HELP = _l("Part of the web address: lower-case letters, digits and hyphens, e.g. dialogue-lodz-2026.")
BOOKING_MODE_LABELS = {
    BookingMode.INSTANT: _l("Instant: first come, first served"),
    BookingMode.RANKED: _l("Ranked: participants rank workshops, an allocation decides"),
}
ROLE_LABELS = {
    Role.ADMIN: _l("Administrator: everything, including accounts"),
    Role.ORGANISER: _l("Organiser: manages the events assigned"),
    Role.STAFF: _l("Staff: reads lists of the events assigned, checks people in"),
}
MAX_DESCRIPTION = 20000
MARKDOWN_HELP = _l(
    "Markdown: **bold**, *italics*, [a link](https://example.org), lists with “- ” at the start of a line; "
    "an empty line starts a new paragraph."
)


def _text(label: object, max_length: int, required: bool = True, **kwargs: Any) -> StringField:
    """Return a single-line text field, cleaned and checked."""
    first = InputRequired() if required else Optional()
    return StringField(
        label, validators=[first, Length(max=max_length), PlainText()], filters=[normalize_text], **kwargs
    )


def _area(label: object, markdown: bool = False) -> TextAreaField:
    """Return an optional multi-line text field (``markdown``: shown on the pages as Markdown, and says so)."""
    return TextAreaField(
        label,
        validators=[Optional(), Length(max=MAX_DESCRIPTION), PlainText(allow_newlines=True)],
        filters=[normalize_text],
        description=MARKDOWN_HELP if markdown else None,
        render_kw={"rows": 4},
    )


def _slug(max_length: int) -> StringField:
    """Return a slug field: 3 to ``max_length`` lower-case letters, digits and hyphens."""
    return StringField(
        _l("Address (slug)"),
        validators=[
            InputRequired(),
            Regexp(
                rf"^[a-z0-9-]{{3,{max_length}}}$",
                message=_l("Use 3 to %(max)s lower-case letters, digits and hyphens.", max=max_length),
            ),
        ],
        filters=[normalize_text],
        description=SLUG_HELP,
    )


def _enum_value(value: object) -> str:
    """Coerce a select's value: an enum member or a string becomes the string value."""
    return value.value if isinstance(value, enum.Enum) else str(value)


def _not_negative(required: bool) -> list:
    """Return the validators of a capacity."""
    return [
        InputRequired() if required else Optional(),
        NumberRange(min=0, max=100000, message=_l("Enter a whole number from 0 to 100000.")),
    ]


class DomainListField(TextAreaField):
    """Email domains, one per line or separated by commas; the data is a list of lower-case names."""

    def process_formdata(self, valuelist: list) -> None:
        """Split the text into domains, dropping a leading @ and duplicates."""
        text = valuelist[0] if valuelist else ""
        names = (part.strip().lower().lstrip("@") for part in re.split(r"[\s,;]+", text or ""))
        self.data = list(dict.fromkeys(name for name in names if name))

    def _value(self) -> str:
        return "\n".join(self.data or [])

    def pre_validate(self, form) -> None:  # type: ignore[no-untyped-def]
        """Refuse anything that is not a domain name or ``*.`` and a domain name."""
        for name in self.data or []:
            if not DOMAIN_PATTERN.match(name):
                raise ValidationError(_l("“%(name)s” is not an email domain, e.g. um.lodz.pl or *.gov.pl.", name=name))


REMINDER_PATTERN = re.compile(r"^(\d{1,4})\s*([^\d\s]+)$")
# Organisers type English or Polish units: 7d, 7 days, 7 dni; 12h, 12 hours, 12 godz.
DAY_UNITS = frozenset({"d", "day", "days", "dni", "dzień", "dzien"})
HOUR_UNITS = frozenset({"h", "hour", "hours", "g", "godz", "godz.", "godzina", "godziny", "godzin"})


def reminder_text(hours: int) -> str:
    """Write a reminder as the organiser types it: ``7d`` for whole days, else ``12h``."""
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


class ReminderListField(StringField):
    """Reminders before the event, e.g. "7d, 1d, 3h"; the data is a list of hours, longest first."""

    def process_formdata(self, valuelist: list) -> None:
        """Split the text into items (days ``d`` or hours ``h``); keep the words that do not parse for validation."""
        text = (valuelist[0] if valuelist else "") or ""
        self.unreadable = []
        hours = []
        for part in re.split(r"[,;]+", text.lower()):
            part = part.strip()
            if not part:
                continue
            match = REMINDER_PATTERN.match(part)
            unit = match.group(2) if match else ""
            if match is None or unit not in DAY_UNITS | HOUR_UNITS:
                self.unreadable.append(part)
                continue
            number = int(match.group(1))
            hours.append(number * 24 if unit in DAY_UNITS else number)
        self.data = sorted(set(hours), reverse=True)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return ", ".join(reminder_text(hours) for hours in self.data or [])

    def pre_validate(self, form) -> None:  # type: ignore[no-untyped-def]
        """Refuse words that are not reminders, zero, more than 60 days, and more than 5 reminders."""
        unreadable = getattr(self, "unreadable", [])
        if unreadable:
            raise ValidationError(
                _l("“%(text)s” is not a reminder: write days as 7d and hours as 12h.", text=unreadable[0][:20])
            )
        if any(not 1 <= hours <= MAX_REMINDER_HOURS for hours in self.data or []):
            raise ValidationError(_l("Each reminder must be from 1 hour (1h) to 60 days (60d) before the start."))
        if len(self.data or []) > MAX_REMINDERS:
            raise ValidationError(_l("Enter at most 5 reminders."))


class WarsawDateTimeField(DateTimeLocalField):
    """A date-and-time input in Warsaw time whose data is an aware UTC datetime."""

    def __init__(self, label: object = None, validators: list | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault("invalid_value_message", _l("Enter a date and time."))
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist: list) -> None:
        """Read the local time and convert it to UTC, refusing times the clock change skips."""
        super().process_formdata(valuelist)
        naive: object = self.data  # type: ignore[has-type]
        if not isinstance(naive, datetime):
            return
        local = naive.replace(tzinfo=TIMEZONE)
        if local.astimezone(UTC).astimezone(TIMEZONE).replace(tzinfo=None) != naive:
            self.data = None
            raise ValueError(_l("This time does not exist in Warsaw: the clocks move forward then."))
        self.data = local.astimezone(UTC)

    def _value(self) -> str:
        """Show the stored time in Warsaw time."""
        if self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, datetime):
            value = self.data if self.data.tzinfo else self.data.replace(tzinfo=UTC)
            return value.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")
        return ""


class SeriesForm(Form):
    """A series of events."""

    slug = _slug(80)
    name_pl = _text(_l("Name (Polish)"), 200)
    name_en = _text(_l("Name (English)"), 200, required=False)
    description_pl = _area(_l("Description (Polish)"))
    description_en = _area(_l("Description (English)"))
    organiser_name = _text(_l("Organiser"), 200, required=False)

    layout = [("slug",), ("name_pl", "name_en"), ("description_pl", "description_en"), ("organiser_name",)]

    def series_data(self) -> SeriesData:
        """Return the fields as service input."""
        return SeriesData(
            slug=self.slug.data,
            name_pl=self.name_pl.data,
            name_en=self.name_en.data or "",
            description_pl=self.description_pl.data or "",
            description_en=self.description_en.data or "",
            organiser_name=self.organiser_name.data or "",
        )


class EventForm(Form):
    """An event: bilingual texts, place, times and registration settings."""

    series_id = SelectField(_l("Series"), coerce=int, validators=[InputRequired()])
    slug = _slug(120)
    title_pl = _text(_l("Title (Polish)"), 250)
    title_en = _text(_l("Title (English)"), 250, required=False)
    description_pl = _area(_l("Description (Polish)"), markdown=True)
    description_en = _area(_l("Description (English)"), markdown=True)
    edition_label = _text(
        _l("Edition"),
        80,
        required=False,
        description=_l("E.g. “XII” or “2026”: shown as “edition XII” in the reader's language."),
    )
    city = _text(_l("City"), 120)
    venue = _text(_l("Venue"), 250, required=False)
    starts_at = WarsawDateTimeField(_l("Starts (Warsaw time)"), validators=[InputRequired()])
    ends_at = WarsawDateTimeField(_l("Ends (Warsaw time)"), validators=[InputRequired()])
    registration_opens_at = WarsawDateTimeField(
        _l("Registration opens (Warsaw time)"),
        validators=[Optional()],
        description=_l("Empty: as soon as the event is published."),
    )
    registration_closes_at = WarsawDateTimeField(
        _l("Registration closes (Warsaw time)"),
        validators=[Optional()],
        description=_l("Empty: until an organiser closes it."),
    )
    preference_deadline = WarsawDateTimeField(
        _l("Ranked choices can change until (Warsaw time)"),
        validators=[Optional()],
        description=_l("Empty: until registration closes."),
    )
    max_ranked_choices = IntegerField(
        _l("Ranked choices per workshop block"),
        default=3,
        validators=[InputRequired(), NumberRange(min=1, max=10, message=_l("Enter a number from 1 to 10."))],
    )
    contact_email = EmailField(
        _l("Contact email"),
        validators=[Optional(), Length(max=254), Email(check_deliverability=False, granular_message=False)],
        filters=[normalize_text],
    )
    requires_email_confirmation = BooleanField(
        _l("Participants confirm by email"),
        description=_l("New registrations only hold their places until the participant confirms by the emailed link."),
    )
    confirmation_hold_hours = IntegerField(
        _l("Hours to confirm"),
        default=24,
        validators=[Optional(), NumberRange(min=1, max=720, message=_l("Enter a number from 1 to 720."))],
        description=_l("Unconfirmed registrations are cancelled after this time and their places released."),
    )
    certificate_signatory_name = _text(
        _l("Certificates signed by"),
        200,
        required=False,
        description=_l(
            "Name printed under the signature line of the certificates of attendance. Empty: the organiser only."
        ),
    )
    certificate_signatory_role_pl = _text(_l("Signatory's role (Polish)"), 200, required=False)
    certificate_signatory_role_en = _text(_l("Signatory's role (English)"), 200, required=False)
    reminder_hours = ReminderListField(
        _l("Reminder emails before the start"),
        default=list(DEFAULT_REMINDER_HOURS),
        description=_l(
            "Days (d) or hours (h) before the event, separated by commas, e.g. “7d, 1d”. Empty: no reminders."
        ),
    )

    layout = [
        ("series_id", "slug"),
        ("title_pl", "title_en"),
        ("description_pl", "description_en"),
        ("edition_label", "city", "venue"),
        ("starts_at", "ends_at"),
        ("registration_opens_at", "registration_closes_at"),
        ("max_ranked_choices", "preference_deadline", "contact_email"),
        ("requires_email_confirmation", "confirmation_hold_hours"),
        ("certificate_signatory_name", "certificate_signatory_role_pl", "certificate_signatory_role_en"),
        ("reminder_hours",),
    ]

    def validate_ends_at(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse an end before the start."""
        if field.data and self.starts_at.data and field.data < self.starts_at.data:
            raise ValidationError(_l("The end must not be before the start."))

    def validate_registration_closes_at(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse a registration window that closes before it opens."""
        if field.data and self.registration_opens_at.data and field.data <= self.registration_opens_at.data:
            raise ValidationError(_l("Registration must close after it opens."))

    def event_data(self) -> EventData:
        """Return the fields as service input."""
        assert self.starts_at.data is not None and self.ends_at.data is not None
        return EventData(
            series_id=self.series_id.data,
            slug=self.slug.data,
            title_pl=self.title_pl.data,
            title_en=self.title_en.data or "",
            description_pl=self.description_pl.data or "",
            description_en=self.description_en.data or "",
            edition_label=self.edition_label.data or "",
            city=self.city.data,
            venue=self.venue.data or "",
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            registration_opens_at=self.registration_opens_at.data,
            registration_closes_at=self.registration_closes_at.data,
            max_ranked_choices=self.max_ranked_choices.data,
            contact_email=self.contact_email.data or "",
            preference_deadline=self.preference_deadline.data,
            requires_email_confirmation=bool(self.requires_email_confirmation.data),
            confirmation_hold_hours=self.confirmation_hold_hours.data or 24,
            certificate_signatory_name=self.certificate_signatory_name.data or "",
            certificate_signatory_role_pl=self.certificate_signatory_role_pl.data or "",
            certificate_signatory_role_en=self.certificate_signatory_role_en.data or "",
            reminder_hours=list(self.reminder_hours.data or []),
        )


class CloneForm(Form):
    """Where and when the next meeting of a tour takes place."""

    slug = _slug(120)
    city = _text(_l("City"), 120)
    venue = _text(_l("Venue"), 250, required=False)
    starts_on = DateField(
        _l("New start date"),
        validators=[InputRequired()],
        description=_l("Every session and the registration window move by the same number of days."),
    )

    layout = [("slug",), ("city", "venue"), ("starts_on",)]

    def clone_data(self) -> CloneData:
        """Return the fields as service input."""
        return CloneData(
            slug=self.slug.data, city=self.city.data, venue=self.venue.data or "", starts_on=self.starts_on.data
        )


class SessionForm(Form):
    """A session of the programme."""

    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, label) for kind, label in SESSION_KIND_LABELS.items()],
        coerce=_enum_value,
        default=SessionKind.WORKSHOP.value,
    )
    title_pl = _text(_l("Title (Polish)"), 250)
    title_en = _text(_l("Title (English)"), 250, required=False)
    description_pl = _area(_l("Description (Polish)"), markdown=True)
    description_en = _area(_l("Description (English)"), markdown=True)
    starts_at = WarsawDateTimeField(_l("Starts (Warsaw time)"), validators=[InputRequired()])
    ends_at = WarsawDateTimeField(_l("Ends (Warsaw time)"), validators=[InputRequired()])
    room = _text(_l("Room"), 120, required=False)
    capacity = IntegerField(
        _l("Capacity"), validators=_not_negative(required=False), description=_l("Empty: unlimited places.")
    )
    booking_mode = SelectField(
        _l("Booking mode"),
        choices=[SelectChoice(mode.value, label) for mode, label in BOOKING_MODE_LABELS.items()],
        coerce=_enum_value,
        default=BookingMode.INSTANT.value,
    )
    eligible_categories = MultiCheckboxField(
        _l("Open to"),
        choices=[SelectChoice(category.value, label) for category, label in CATEGORY_LABELS.items()],
        description=_l("Tick none to open the session to every participant category."),
    )
    eligible_domains = DomainListField(
        _l("Official email domains"),
        description=_l(
            "With categories ticked, addresses at these domains also book directly, one per line: "
            "um.lodz.pl, or *.gov.pl for every subdomain of gov.pl."
        ),
        render_kw={"rows": 3},
    )

    layout = [
        ("kind", "booking_mode"),
        ("title_pl", "title_en"),
        ("description_pl", "description_en"),
        ("starts_at", "ends_at"),
        ("room", "capacity"),
        ("eligible_categories",),
        ("eligible_domains",),
    ]

    def validate_ends_at(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse an end at or before the start."""
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The end must be after the start."))

    def session_data(self) -> SessionData:
        """Return the fields as service input."""
        picked = set(self.eligible_categories.data or [])
        assert self.starts_at.data is not None and self.ends_at.data is not None
        return SessionData(
            kind=SessionKind(self.kind.data),
            title_pl=self.title_pl.data,
            title_en=self.title_en.data or "",
            description_pl=self.description_pl.data or "",
            description_en=self.description_en.data or "",
            starts_at=self.starts_at.data,
            ends_at=self.ends_at.data,
            room=self.room.data or "",
            capacity=self.capacity.data,
            eligible_categories=[c.value for c in ParticipantCategory if c.value in picked],
            eligible_domains=list(self.eligible_domains.data or []),
            booking_mode=BookingMode(self.booking_mode.data),
        )


class InvitationForm(Form):
    """Generate invitation codes for a session, optionally emailed one per address."""

    count = IntegerField(
        _l("Number of codes"),
        default=1,
        validators=[Optional(), NumberRange(min=1, max=200, message=_l("Enter a whole number from 1 to 200."))],
        description=_l("Ignored when you enter addresses: each address gets its own code."),
    )
    max_uses = IntegerField(
        _l("Uses per code"),
        default=1,
        validators=[
            InputRequired(),
            NumberRange(min=1, max=10000, message=_l("Enter a whole number from 1 to 10000.")),
        ],
        description=_l("1: single use. More: the code admits that many registrations."),
    )
    emails = TextAreaField(
        _l("Send to (optional)"),
        validators=[Optional(), Length(max=20000)],
        description=_l("One email address per line; each gets a code and the registration link."),
        render_kw={"rows": 4},
    )
    language = SelectField(
        _l("Language of the email"), choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()]
    )
    note = _text(_l("Note (for organisers)"), 200, required=False)

    layout = [("count", "max_uses"), ("emails",), ("language", "note")]

    def validate_emails(self, field) -> None:  # type: ignore[no-untyped-def]
        """Refuse a line that is not one email address."""
        for address in self.addresses():
            if not is_plain_address(address):
                raise ValidationError(_l("“%(address)s” is not an email address.", address=address))
        if len(self.addresses()) > 200:
            raise ValidationError(_l("Enter at most 200 addresses at once."))

    def addresses(self) -> list[str]:
        """Return the addresses typed, one per line, each once."""
        lines = (line.strip() for line in re.split(r"[\n,;]+", self.emails.data or ""))
        return list(dict.fromkeys(line for line in lines if line))

    def invitation_request(self) -> InvitationRequest:
        """Return the fields as service input."""
        return InvitationRequest(
            count=self.count.data or 1,
            max_uses=self.max_uses.data,
            emails=self.addresses(),
            note=self.note.data or "",
            language=self.language.data,
        )


class GroupForm(Form):
    """A small group of a workshop or a table of a round table."""

    name = _text(
        _l("Name"),
        120,
        required=False,
        description=_l("Leave empty to number the groups: “Grupa 1” in Polish, “Group 1” in English."),
    )
    capacity = IntegerField(_l("Capacity"), validators=_not_negative(required=True))
    facilitator = _text(_l("Facilitator"), 200, required=False)
    room = _text(_l("Room"), 120, required=False)

    layout = [("name", "capacity"), ("facilitator", "room")]

    def group_data(self) -> GroupData:
        """Return the fields as service input."""
        return GroupData(
            name=self.name.data or "",
            capacity=self.capacity.data,
            facilitator=self.facilitator.data or "",
            room=self.room.data or "",
        )


class AccountForm(Form):
    """A new back-office account."""

    email = EmailField(
        _l("Email"),
        validators=[InputRequired(), Length(max=254), Email(check_deliverability=False, granular_message=False)],
        filters=[normalize_text],
    )
    name = _text(_l("Name"), 200, required=False)
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        default=Role.ORGANISER.value,
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            InputRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                message=_l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH),
            ),
            Length(max=200),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    layout = [("email", "name"), ("role", "password")]


class AssignEventForm(Form):
    """Pick an event to give an account access to."""

    event_id = SelectField(_l("Event"), coerce=int, validators=[InputRequired()])
