"""Import of invited participants from a file: preview every row, then import all valid rows or none.

An upload is kept on the server between the preview and the confirmation, as a
JSON file under ``IMPORT_DIR`` (default ``instance/imports/``) named by a random
token (256 bits), readable only by its organiser for its event, deleted after
the import and at the latest after ``IMPORT_KEEP_HOURS``. Nothing the browser
sends back is trusted: the confirmation reads the stored rows and checks them
again, and the import runs them in one transaction. Rows with errors are left
out; if any other row cannot be imported as the preview said (its email was
registered meanwhile, a place it was to get went to someone else), nothing is
stored and the organiser is told which rows and why.

Mode "registrations" adds confirmed registrations as an organiser does by hand
(``admin_services.insert_registration`` and ``book_added_registration``: the same
bookings, audit entries and confirmation emails with the private link). Mode
"invitations" sends each row a single-use invitation code to one session
(``invitations.add_emailed_code``) in the row's language.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..audit.services import record
from ..db import utcnow, write_transaction
from ..events.models import BookingMode, Event, ParticipantCategory, Session
from ..extensions import db
from ..labels import CATEGORY_LABELS, CATEGORY_SHORT_LABELS
from ..notifications.services import is_plain_address
from ..validators import has_forbidden_characters
from . import capacity, invitations
from .admin_services import book_added_registration, insert_registration
from .bookings import books_directly
from .errors import AlreadyRegistered, RegistrationError
from .import_files import ParsedFile, RawRow, fold
from .models import Registration, RegistrationStatus
from .services import Choices, ParticipantData, normalize_email, refusing_duplicates, validate_choices

REGISTRATIONS, INVITATIONS = "registrations", "invitations"
MODES = (REGISTRATIONS, INVITATIONS)
WAITLIST, REFUSE = "waitlist", "refuse"
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
REQUIRED_COLUMNS = {
    REGISTRATIONS: ("first_name", "last_name", "email", "category"),
    INVITATIONS: ("email",),
}
# The lengths of the registration's columns.
MAX_LENGTHS = {
    "first_name": 100,
    "last_name": 100,
    "email": 254,
    "organisation": 200,
    "position": 150,
    "city": 120,
    "phone": 32,
}
LANGUAGE_WORDS = {
    "pl": "pl",
    "pol": "pl",
    "polski": "pl",
    "polish": "pl",
    "polska": "pl",
    "en": "en",
    "eng": "en",
    "english": "en",
    "angielski": "en",
}
SESSION_SEPARATORS = re.compile(r"[;|\n]+")
COLUMN_LABELS = {
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "email": _l("Email"),
    "organisation": _l("Institution"),
    "position": _l("Position"),
    "city": _l("City"),
    "phone": _l("Phone"),
    "category": _l("Category"),
    "language": _l("Language"),
    "sessions": _l("Sessions"),
}


class ImportRefused(RegistrationError):
    """Base of the import's refusals."""


class UploadNotFound(ImportRefused):
    """The stored upload is unknown, expired, or another organiser's or event's."""

    message = _l("This import has expired or was done already. Upload the file again.")


class NothingToImport(ImportRefused):
    """No row of the file can be imported."""

    message = _l("No row can be imported: correct the file and upload it again.")


class ImportFailed(ImportRefused):
    """A row could not be imported as the preview said: nothing was stored."""

    message = _l("Nothing has been imported: some rows could not be imported as the preview showed.")

    def __init__(self, reasons: list[str]) -> None:
        super().__init__()
        self.reasons = reasons


@dataclass
class ImportOptions:
    """What the organiser chose on the upload form."""

    mode: str = REGISTRATIONS
    language: str = "pl"  # for rows without a language
    book_directly: bool = False  # places outside a row's category: approved, not requests
    when_full: str = WAITLIST  # a full session: the waiting list, or the row is refused
    session_id: int | None = None  # invitations: the session of rows that name none


@dataclass
class StoredImport:
    """An upload kept between the preview and the confirmation."""

    token: str
    event_id: int
    organiser_id: int | None
    created_at: str
    file_name: str
    file_sha256: str
    encoding: str
    delimiter: str
    sheet: str
    columns: list[str]
    ignored_columns: list[str]
    options: ImportOptions
    rows: list[RawRow]
    # What the organiser was last shown, per line: None for a row with errors, else its outcomes.
    seen: dict[str, dict[str, str] | None] = field(default_factory=dict)


@dataclass
class PreviewRow:
    """One row as it would be imported now: its errors, or what it would get."""

    line: int
    values: dict[str, str]
    errors: list[Any] = field(default_factory=list)
    participant: ParticipantData | None = None
    language: str = "pl"
    session_ids: list[int] = field(default_factory=list)
    # Per session id: "confirmed", "waitlisted", "requested" (registrations) or "invited".
    outcomes: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether the row would be imported."""
        return not self.errors


@dataclass
class Preview:
    """Every row of an upload checked against the event as it is now."""

    stored: StoredImport
    rows: list[PreviewRow]
    sessions: dict[int, Session]
    file_errors: list[Any] = field(default_factory=list)

    @property
    def valid_rows(self) -> list[PreviewRow]:
        """The rows that would be imported."""
        return [] if self.file_errors else [row for row in self.rows if row.ok]

    @property
    def error_rows(self) -> list[PreviewRow]:
        """The rows that would be left out."""
        return [row for row in self.rows if not row.ok]

    def count(self, outcome: str) -> int:
        """Count the places of valid rows with this outcome."""
        return sum(1 for row in self.valid_rows for value in row.outcomes.values() if value == outcome)

    def per_session(self) -> list[tuple[Session, dict[str, int]]]:
        """Return each session the valid rows name, with its outcomes counted, in programme order."""
        counts: dict[int, dict[str, int]] = {}
        for row in self.valid_rows:
            for session_id, outcome in row.outcomes.items():
                counts.setdefault(session_id, {}).setdefault(outcome, 0)
                counts[session_id][outcome] += 1
        ordered = sorted(counts, key=lambda sid: (self.sessions[sid].starts_at, sid))
        return [(self.sessions[sid], counts[sid]) for sid in ordered]

    @property
    def fingerprint(self) -> str:
        """A digest of what the import would do: the confirmation must see the same."""
        summary = [
            self.stored.file_sha256,
            asdict(self.stored.options),
            [(row.line, row.ok, sorted(row.outcomes.items())) for row in self.rows],
            bool(self.file_errors),
        ]
        return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


@dataclass
class ImportResult:
    """What an import stored."""

    mode: str
    imported: int
    skipped: int
    confirmed: int = 0
    waitlisted: int = 0
    requested: int = 0
    emails: int = 0


# --- keeping an upload between the two requests -----------------------------------------


def upload_dir(create: bool = True) -> Path:
    """Return the directory of stored uploads (created on demand, readable by the app's user only)."""
    path = Path(current_app.config.get("IMPORT_DIR") or Path(current_app.instance_path) / "imports")
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def keep_hours() -> float:
    """Return how long an upload is kept for its confirmation."""
    return float(current_app.config.get("IMPORT_KEEP_HOURS", 24))


def save_upload(
    event: Event,
    organiser_id: int | None,
    file_name: str,
    data: bytes,
    parsed: ParsedFile,
    options: ImportOptions,
    now: datetime | None = None,
) -> StoredImport:
    """Keep a parsed upload on the server under a new random token; return it.

    Uploads older than ``IMPORT_KEEP_HOURS`` are deleted on the way.
    """
    now = now or utcnow()
    purge_uploads(now)
    stored = StoredImport(
        token=secrets.token_urlsafe(32),
        event_id=event.id,
        organiser_id=organiser_id,
        created_at=now.isoformat(),
        file_name=Path(file_name.replace("\\", "/")).name[:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        sheet=parsed.sheet,
        columns=list(parsed.columns),
        ignored_columns=list(parsed.ignored_columns)[:20],
        options=options,
        rows=parsed.rows,
    )
    _write(stored)
    return stored


def _write(stored: StoredImport) -> None:
    """Write the upload's file whole (readers never see half of it)."""
    path = upload_dir() / f"{stored.token}.json"
    temporary = path.with_name(f"{stored.token}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(stored), handle, ensure_ascii=False)
    os.replace(temporary, path)


def remember_seen(preview: Preview) -> None:
    """Note what the preview shows the organiser, to tell them later what changed."""
    stored = preview.stored
    stored.seen = {
        str(row.line): ({str(sid): outcome for sid, outcome in row.outcomes.items()} if row.ok else None)
        for row in preview.rows
    }
    _write(stored)


def changes_since_seen(preview: Preview) -> list[str]:
    """Say, row by row, how ``preview`` differs from what the organiser was last shown."""
    changes = []
    for row in preview.rows:
        key = str(row.line)
        if key not in preview.stored.seen:
            continue
        before = preview.stored.seen[key]
        if before is not None and not row.ok:
            changes.append(_reason(row, row.errors[0]))
            continue
        if before is None:
            continue
        for sid, outcome in sorted(row.outcomes.items()):
            previous = before.get(str(sid))
            if previous is not None and previous != outcome:
                changes.append(
                    _reason(
                        row,
                        _l(
                            "“%(title)s”: %(actual)s instead of %(expected)s.",
                            title=preview.sessions[sid].title,
                            actual=OUTCOME_WORDS[outcome],
                            expected=OUTCOME_WORDS.get(previous, previous),
                        ),
                    )
                )
    return changes


def load_upload(token: str, event_id: int, organiser_id: int | None, now: datetime | None = None) -> StoredImport:
    """Return the stored upload of this organiser for this event.

    :raises UploadNotFound: for an unknown or malformed token, another organiser's or
        event's upload, or one older than ``IMPORT_KEEP_HOURS``.
    """
    now = now or utcnow()
    if not TOKEN_PATTERN.match(token or ""):
        raise UploadNotFound()
    try:
        raw = json.loads((upload_dir() / f"{token}.json").read_text(encoding="utf-8"))
        created_at = datetime.fromisoformat(raw["created_at"])
        stored = StoredImport(
            **{
                **raw,
                "options": ImportOptions(**raw["options"]),
                "rows": [RawRow(line=int(r["line"]), values=dict(r["values"])) for r in raw["rows"]],
            }
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise UploadNotFound() from None
    if stored.event_id != event_id or stored.organiser_id != organiser_id:
        raise UploadNotFound()
    if now - created_at > timedelta(hours=keep_hours()):
        discard_upload(token)
        raise UploadNotFound()
    return stored


def discard_upload(token: str) -> None:
    """Delete a stored upload (after its import); nothing happens for an unknown token."""
    if TOKEN_PATTERN.match(token or ""):
        (upload_dir() / f"{token}.json").unlink(missing_ok=True)


def purge_uploads(now: datetime | None = None) -> int:
    """Delete uploads older than ``IMPORT_KEEP_HOURS`` (they hold personal data); return how many."""
    now = now or utcnow()
    limit = now.timestamp() - keep_hours() * 3600
    removed = 0
    for path in upload_dir(create=False).glob("*.*"):
        try:
            if path.suffix in {".json", ".tmp"} and path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


# --- checking the rows ----------------------------------------------------------------------


# Words a Polish list may use for a category, beyond the labels of the registration form.
CATEGORY_WORDS = {
    "burmistrz": ParticipantCategory.MAYOR,
    "prezydent": ParticipantCategory.MAYOR,
    "prezydent miasta": ParticipantCategory.MAYOR,
    "wójt": ParticipantCategory.MAYOR,
    "włodarz": ParticipantCategory.MAYOR,
    "zastępca": ParticipantCategory.DEPUTY_MAYOR,
    "wiceprezydent": ParticipantCategory.DEPUTY_MAYOR,
    "wiceburmistrz": ParticipantCategory.DEPUTY_MAYOR,
    "zastępca wójta": ParticipantCategory.DEPUTY_MAYOR,
    "radny": ParticipantCategory.COUNCILLOR,
    "radna": ParticipantCategory.COUNCILLOR,
    "urzędnik": ParticipantCategory.CITY_OFFICIAL,
    "urzędniczka": ParticipantCategory.CITY_OFFICIAL,
    "biznes": ParticipantCategory.BUSINESS,
    "firma": ParticipantCategory.BUSINESS,
    "ngo": ParticipantCategory.NGO,
    "media": ParticipantCategory.MEDIA,
    "ekspert": ParticipantCategory.ACADEMIA,
    "nauka": ParticipantCategory.ACADEMIA,
    "inne": ParticipantCategory.OTHER,
}


def category_lookup() -> dict[str, ParticipantCategory]:
    """Return the participant categories by every name a file may give them (code, Polish and English labels)."""
    lookup = {fold(category.value): category for category in ParticipantCategory}
    lookup.update({fold(word): category for word, category in CATEGORY_WORDS.items()})
    for locale in ("en", "pl"):
        with force_locale(locale):
            for labels in (CATEGORY_LABELS, CATEGORY_SHORT_LABELS):
                for category, label in labels.items():
                    text = str(label)
                    lookup.setdefault(fold(text), category)
                    lookup.setdefault(fold(text.split("(")[0]), category)
    return lookup


def event_sessions(event_id: int) -> dict[int, Session]:
    """Return the event's sessions with their groups, by id."""
    rows = db.session.execute(
        select(Session)
        .where(Session.event_id == event_id)
        .options(selectinload(Session.groups))
        .execution_options(populate_existing=True)  # places taken meanwhile count
    ).scalars()
    return {session.id: session for session in rows}


def live_emails(event_id: int, emails: list[str]) -> set[str]:
    """Return which of the (normalised) addresses have a live registration at the event."""
    found: set[str] = set()
    for start in range(0, len(emails), 500):
        chunk = emails[start : start + 500]
        found |= set(
            db.session.execute(
                select(Registration.email_normalized).where(
                    Registration.event_id == event_id,
                    Registration.status == RegistrationStatus.ACTIVE,
                    Registration.email_normalized.in_(bindparam("emails", expanding=True)),
                ),
                {"emails": chunk},
            ).scalars()
        )
    return found


def validate(event: Event, stored: StoredImport) -> Preview:
    """Check every stored row against the event as it is now; book and send nothing."""
    options = stored.options
    sessions = event_sessions(event.id)
    missing = [c for c in REQUIRED_COLUMNS[options.mode] if c not in stored.columns]
    preview = Preview(stored=stored, rows=[], sessions=sessions)
    if missing:
        preview.file_errors.append(
            _l(
                "The file has no column “%(columns)s”: use the headers of the template.",
                columns=", ".join(str(COLUMN_LABELS[c]) for c in missing),
            )
        )
    titles = _session_titles(sessions)
    categories = category_lookup()
    emails = [normalize_email(row.values.get("email", "")) for row in stored.rows]
    registered = live_emails(event.id, [e for e in emails if e])
    invited = invitations.unused_invitations(list(sessions)) if options.mode == INVITATIONS else set()
    places_left = {sid: s.places_left for sid, s in sessions.items()}
    first_line: dict[str, int] = {}
    for raw, email in zip(stored.rows, emails, strict=True):
        row = PreviewRow(line=raw.line, values=raw.values)
        preview.rows.append(row)
        _check_text(row, options.mode)
        if email:
            if email in first_line:
                row.errors.append(_l("The same email address as row %(line)s.", line=first_line[email]))
            else:
                first_line[email] = raw.line
            if email in registered:
                row.errors.append(_l("This email address is already registered for this event."))
        row.language = _language(row, options.language)
        category = _category(row, categories, required=options.mode == REGISTRATIONS)
        row.session_ids = _session_ids(row, sessions, titles)
        if options.mode == INVITATIONS:
            _check_invitation(row, options, sessions, invited, email)
            continue
        if row.errors or category is None:
            continue
        row.participant = ParticipantData(
            first_name=raw.values.get("first_name", ""),
            last_name=raw.values.get("last_name", ""),
            email=raw.values.get("email", ""),
            category=category,
            language=row.language,
            phone=raw.values.get("phone", ""),
            organisation=raw.values.get("organisation", ""),
            position=raw.values.get("position", ""),
            city=raw.values.get("city", ""),
        )
        try:
            chosen = validate_choices(event, sessions, Choices(session_ids=row.session_ids), category)
        except RegistrationError as error:
            row.errors.append(error.message)
            continue
        _expect_places(row, chosen, options, places_left)
    return preview


def _check_text(row: PreviewRow, mode: str) -> None:
    """Refuse missing names and emails, cells too long, and control characters."""
    values = row.values
    required = ("first_name", "last_name", "email") if mode == REGISTRATIONS else ("email",)
    for column in required:
        if not values.get(column):
            row.errors.append(_l("“%(column)s” is empty.", column=COLUMN_LABELS[column]))
    for column, value in values.items():
        limit = MAX_LENGTHS.get(column, 1000)
        if len(value) > limit:
            row.errors.append(
                _l("“%(column)s” is longer than %(max)s characters.", column=COLUMN_LABELS[column], max=limit)
            )
        elif has_forbidden_characters(value):
            row.errors.append(
                _l("“%(column)s” contains characters that are not allowed.", column=COLUMN_LABELS[column])
            )
    email = values.get("email", "")
    if email and len(email) <= MAX_LENGTHS["email"] and not is_plain_address(email):
        row.errors.append(_l("“%(email)s” is not an email address.", email=email))


def _language(row: PreviewRow, default: str) -> str:
    """Return the row's language code (``default`` for an empty cell); note an unknown one."""
    text = row.values.get("language", "")
    if not text:
        return default
    code = LANGUAGE_WORDS.get(fold(text))
    if code is None:
        row.errors.append(_l("Unknown language “%(value)s”: write pl or en.", value=text))
        return default
    return code


def _category(row: PreviewRow, lookup: dict[str, ParticipantCategory], required: bool) -> ParticipantCategory | None:
    """Return the row's participant category; note an empty or unknown one."""
    text = row.values.get("category", "")
    if not text:
        if required:
            row.errors.append(_l("“%(column)s” is empty.", column=COLUMN_LABELS["category"]))
        return None
    category = lookup.get(fold(text))
    if category is None:
        row.errors.append(
            _l(
                "Unknown category “%(value)s”: use one of %(allowed)s.",
                value=text,
                allowed=", ".join(c.value for c in ParticipantCategory),
            )
        )
    return category


def _session_titles(sessions: dict[int, Session]) -> dict[str, list[int]]:
    """Return session ids by folded title, Polish and English."""
    titles: dict[str, list[int]] = {}
    for session in sessions.values():
        for title in {fold(session.title_pl), fold(session.title_en or "")} - {""}:
            titles.setdefault(title, []).append(session.id)
    return titles


def _session_ids(row: PreviewRow, sessions: dict[int, Session], titles: dict[str, list[int]]) -> list[int]:
    """Return the sessions the row names by number or title; note unknown, ambiguous and ranked ones."""
    found: list[int] = []
    for name in (n.strip() for n in SESSION_SEPARATORS.split(row.values.get("sessions", ""))):
        if not name:
            continue
        number = name.lstrip("#")
        if number.isdigit() and int(number) in sessions:
            ids = [int(number)]
        else:
            ids = titles.get(fold(name), [])
        if not ids:
            row.errors.append(_l("Unknown session “%(name)s”: write its title or number.", name=name))
            continue
        if len(ids) > 1:
            row.errors.append(
                _l("Several sessions are called “%(name)s”: write the number of the one you mean.", name=name)
            )
            continue
        if sessions[ids[0]].booking_mode == BookingMode.RANKED:
            row.errors.append(
                _l(
                    "“%(name)s” is a ranked workshop: participants rank those themselves from their private link.",
                    name=name,
                )
            )
            continue
        if ids[0] not in found:
            found.append(ids[0])
    return found


def _check_invitation(
    row: PreviewRow,
    options: ImportOptions,
    sessions: dict[int, Session],
    invited: set[tuple[int, str]],
    email: str,
) -> None:
    """Find the one session of an invitation row; note a second one, none, or an unused invitation sent before."""
    if len(row.session_ids) > 1:
        row.errors.append(_l("An invitation is for one session: name only one."))
        return
    session_id = row.session_ids[0] if row.session_ids else options.session_id
    if session_id is None or session_id not in sessions:
        if not row.values.get("sessions"):  # else its unknown name is noted already
            row.errors.append(_l("Name the session of the invitation, or choose one on the upload form."))
        return
    row.session_ids = [session_id]
    if (session_id, email) in invited:
        row.errors.append(_l("An unused invitation to this session was already sent to this address."))
    if not row.errors:
        row.outcomes = {session_id: "invited"}


def _expect_places(
    row: PreviewRow, chosen: list[Session], options: ImportOptions, places_left: dict[int, int | None]
) -> None:
    """Say what each chosen session would give the row, counting the places earlier rows take."""
    assert row.participant is not None
    outcomes: dict[int, str] = {}
    for session in sorted(chosen, key=lambda s: s.id):
        category = row.participant.category.value
        if not (options.book_directly or books_directly(category, row.participant.email, session)):
            outcomes[session.id] = "requested"
        elif places_left[session.id] is None or (places_left[session.id] or 0) > 0:
            outcomes[session.id] = "confirmed"
        elif options.when_full == REFUSE:
            row.errors.append(_l("“%(title)s” has no free place.", title=session.title))
        else:
            outcomes[session.id] = "waitlisted"
    if row.errors:
        return
    for session_id, outcome in outcomes.items():
        left = places_left[session_id]
        if outcome == "confirmed" and left is not None:
            places_left[session_id] = left - 1
    row.outcomes = outcomes


# --- the import -------------------------------------------------------------------------------


def commit(event: Event, preview: Preview, now: datetime | None = None) -> ImportResult:
    """Import every valid row of ``preview`` in one transaction, or nothing.

    :raises NothingToImport: when no row is valid.
    :raises ImportFailed: with a reason per row, when a row would not be imported as
        the preview said (registered meanwhile, a place gone); nothing is stored then.
    """
    now = now or utcnow()
    rows = preview.valid_rows
    if not rows:
        raise NothingToImport()
    try:
        if preview.stored.options.mode == INVITATIONS:
            result = _send_invitations(event, preview, rows, now)
        else:
            result = _add_registrations(event, preview, rows, now)
    except IntegrityError:
        # A row deleted or written meanwhile that no check above saw (a session deleted, say).
        raise ImportFailed([str(_l("The event's programme or registrations changed meanwhile."))]) from None
    return result


def _add_registrations(event: Event, preview: Preview, rows: list[PreviewRow], now: datetime) -> ImportResult:
    """Register every row, booking its sessions as the preview said, or raise ImportFailed."""
    result = ImportResult(mode=REGISTRATIONS, imported=len(rows), skipped=len(preview.rows) - len(rows))
    try:
        with refusing_duplicates(), write_transaction():
            _register_rows(event, preview, rows, now, result)
    except AlreadyRegistered:  # the unique index decided a race with another registration
        raise ImportFailed([str(_l("An email address of the file has been registered meanwhile."))]) from None
    return result


def _register_rows(event: Event, preview: Preview, rows: list[PreviewRow], now: datetime, result: ImportResult) -> None:
    """Write the registrations and their places in the caller's transaction, or raise ImportFailed."""
    options = preview.stored.options
    reasons: list[str] = []
    # The lock order of everyone: registrations first (new rows here), then sessions ascending.
    added = []
    for row in rows:
        assert row.participant is not None
        try:
            added.append((row, insert_registration(event, row.participant, now, source="import")))
        except AlreadyRegistered:
            reasons.append(_reason(row, _l("this email address has been registered meanwhile.")))
    if reasons:
        raise ImportFailed(reasons)
    lock_sessions(sorted({sid for row in rows for sid in row.session_ids}))
    for row, registration in added:
        chosen = [preview.sessions[sid] for sid in row.session_ids]
        booked = book_added_registration(
            registration,
            preview.sessions,
            chosen,
            Choices(session_ids=row.session_ids),
            options.book_directly,
            now,
            imported=True,
        )
        for booking in booked:
            expected, actual = row.outcomes.get(booking.session_id), booking.status.value
            if actual == expected or (expected == "waitlisted" and actual == "confirmed"):
                result.confirmed += actual == "confirmed"
                result.waitlisted += actual == "waitlisted"
                result.requested += actual == "requested"
                continue
            reasons.append(
                _reason(
                    row,
                    _l(
                        "“%(title)s”: %(actual)s instead of %(expected)s.",
                        title=preview.sessions[booking.session_id].title,
                        actual=OUTCOME_WORDS.get(actual, actual),
                        expected=OUTCOME_WORDS.get(expected or "", expected),
                    ),
                )
            )
    if reasons:
        raise ImportFailed(reasons)
    result.emails = len(added)
    _record_import(event, preview, result)


OUTCOME_WORDS = {
    "confirmed": _l("a confirmed place"),
    "waitlisted": _l("the waiting list"),
    "requested": _l("a request for the organiser"),
    "invited": _l("an invitation code"),
}


def _send_invitations(event: Event, preview: Preview, rows: list[PreviewRow], now: datetime) -> ImportResult:
    """Create and email one invitation code per row, or raise ImportFailed."""
    result = ImportResult(mode=INVITATIONS, imported=len(rows), skipped=len(preview.rows) - len(rows))
    session_ids = sorted({row.session_ids[0] for row in rows})
    with write_transaction():
        reasons: list[str] = []
        # Two imports of the same list at once (a double-click) must not both send: the second
        # waits for the first here, then sees its codes (PostgreSQL reads what is committed).
        lock_sessions(session_ids)
        emails = [normalize_email(row.values["email"]) for row in rows]
        registered = live_emails(event.id, emails)
        invited = invitations.unused_invitations(session_ids)
        for row, email in zip(rows, emails, strict=True):
            if email in registered:
                reasons.append(_reason(row, _l("this email address has been registered meanwhile.")))
            elif (row.session_ids[0], email) in invited:
                reasons.append(_reason(row, _l("an invitation has been sent to this address meanwhile.")))
        if reasons:
            raise ImportFailed(reasons)
        codes: dict[int, list[int]] = {}
        for row in rows:
            session_id = row.session_ids[0]
            values = row.values
            note = " ".join(
                v for v in (values.get("first_name"), values.get("last_name"), values.get("organisation")) if v
            )
            code = invitations.add_emailed_code(
                preview.sessions[session_id], values["email"], note[:200], row.language, now
            )
            codes.setdefault(session_id, []).append(code.id)
        for session_id, ids in sorted(codes.items()):
            record(
                "invitation.created",
                event_id=event.id,
                session_id=session_id,
                codes=ids,
                max_uses=1,
                emailed=len(ids),
                imported=True,
            )
        result.emails = len(rows)
        _record_import(event, preview, result)
    return result


def lock_sessions(session_ids: list[int]) -> None:
    """Lock the sessions in ascending id order (the booking core's order)."""
    for session_id in sorted(session_ids):
        capacity.lock_session(session_id)


def _reason(row: PreviewRow, text: object) -> str:
    """Return why a row failed, naming its line and email."""
    return str(
        _l("Row %(line)s (%(email)s): %(reason)s", line=row.line, email=row.values.get("email", ""), reason=text)
    )


def _record_import(event: Event, preview: Preview, result: ImportResult) -> None:
    """Write the audit entry of a whole import, with its counts."""
    record(
        "registration.imported",
        event_id=event.id,
        mode=result.mode,
        rows=len(preview.rows),
        imported=result.imported,
        skipped=result.skipped,
        places=result.confirmed or None,
        waitlisted=result.waitlisted or None,
        requested=result.requested or None,
        emailed=result.emails,
        file_sha256=preview.stored.file_sha256,
    )


# --- the template ------------------------------------------------------------------------------


def template_table(event: Event) -> list[list[str]]:
    """Return the template's header row (in the current language) and two example rows."""
    sessions = [s for s in event_sessions(event.id).values() if s.booking_mode == BookingMode.INSTANT]
    sessions.sort(key=lambda s: (s.starts_at, s.id))
    example = sessions[0].title if sessions else ""
    pair = sessions[:1] + [s for s in sessions[1:] if not s.overlaps(sessions[0])][:1]
    both = "; ".join(s.title for s in pair)
    return [
        [str(COLUMN_LABELS[column]) for column in COLUMN_LABELS],
        ["Anna", "Kowalska", "anna.kowalska@example.org", "Urząd Miasta Sandomierza", "Burmistrz", "Sandomierz",
         "", "mayor", "pl", both],
        ["John", "Smith", "john.smith@example.org", "City of Example", "Deputy mayor", "Example", "", "deputy_mayor",
         "en", example],
    ]  # fmt: skip


def template_csv(event: Event) -> bytes:
    """Return the template as CSV: UTF-8 with a byte order mark and semicolons, as Polish Excel opens it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows(template_table(event))
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


def template_xlsx(event: Event) -> bytes:
    """Return the template as an XLSX workbook."""
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(str(_l("Participants")))
    for row in template_table(event):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
