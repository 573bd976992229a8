"""Export use cases: consistent snapshots of attendee lists, streamed to CSV or written to XLSX."""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import xlsxwriter
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..audit.services import record
from ..checkin.services import attended_ids
from ..db import polish, write_transaction
from ..errors import DomainError
from ..events.models import Event, Group, ParticipantCategory, Session
from ..events.services import group_labels
from ..extensions import db
from ..labels import BOOKING_STATUS_LABELS, category_label
from ..registration import questions as registration_questions
from ..registration.models import Booking, BookingStatus, Question, Registration, RegistrationStatus
from .cells import Cell, neutralise_for_csv, strip_control
from .rows import (
    BookingRecord,
    PersonRecord,
    QuestionColumn,
    booking_headers,
    booking_rows,
    local_time,
    person_headers,
    person_rows,
)

STATUSES = ("all", "confirmed", "waitlisted", "requested", "cancelled")
CHUNK = 1000


class ExportError(DomainError):
    """A refused export request, with a translatable message."""


@dataclass(frozen=True)
class ExportRequest:
    """Which list to export."""

    event_id: int
    session_id: int | None = None
    group_id: int | None = None
    status: str = "all"

    @property
    def is_booking_list(self) -> bool:
        """Tell whether the list has one row per booking (a session or group list)."""
        return self.session_id is not None


def build_request(event: Event, session_id: int | None, group_id: int | None, status: str | None) -> ExportRequest:
    """Check the options of an export against the event.

    :raises ExportError: for a session or group of another event, or an unknown status.
    """
    status = status or "all"
    if status not in STATUSES:
        raise ExportError(
            _l("Unknown status %(status)s: use one of %(allowed)s.", status=status, allowed=", ".join(STATUSES))
        )
    if group_id is not None:
        group = db.session.get(Group, group_id)
        if (
            group is None
            or group.session.event_id != event.id
            or (session_id is not None and group.session_id != session_id)
        ):
            raise ExportError(_l("Group %(id)s is not part of this event.", id=group_id))
        session_id = group.session_id
    if session_id is not None:
        session = db.session.get(Session, session_id)
        if session is None or session.event_id != event.id:
            raise ExportError(_l("Session %(id)s is not part of this event.", id=session_id))
    return ExportRequest(event.id, session_id, group_id, status)


def begin_snapshot() -> None:
    """Start a read transaction that sees one consistent state of the database.

    PostgreSQL: REPEATABLE READ (readers never block writers). SQLite in WAL
    mode: every read of one transaction sees the same snapshot.
    """
    session = db.session()
    if session.in_transaction():
        session.rollback()
    if db.engine.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.connection()


def end_snapshot() -> None:
    """End the snapshot's read transaction."""
    db.session.rollback()


def audit_export(request: ExportRequest, kind: str, actor: object = None) -> None:
    """Record who exported which list, in its own transaction."""
    with write_transaction():
        record(
            "export",
            event_id=request.event_id,
            session_id=request.session_id,
            actor=actor,
            format=kind,
            group_id=request.group_id,
            status=request.status,
        )


def start_export(
    event: Event, session_id: int | None, group_id: int | None, status: str | None, kind: str, actor: object = None
) -> ExportRequest:
    """Check which list is asked for and record who exports it, in which format.

    :raises ExportError: for a session or group not of this event, or an unknown status.
    """
    request = build_request(event, session_id, group_id, status)
    audit_export(request, kind, actor=actor)
    return request


def csv_stream(request: ExportRequest, delimiter: str = ";") -> Iterator[str]:
    """Yield a CSV export as text chunks, all read from one consistent snapshot (begun and ended here)."""
    begin_snapshot()
    try:
        yield from csv_chunks(request, delimiter)
    finally:
        end_snapshot()


def xlsx_export(request: ExportRequest, event: Event) -> str:
    """Write an XLSX export of one consistent snapshot to a temporary file; return its path."""
    begin_snapshot()
    try:
        return write_xlsx(request, event)
    finally:
        end_snapshot()


def labeller() -> Callable[[str, str], str]:
    """Return a function giving readable text of category and status values, translated once."""
    texts = {("category", c.value): category_label(c) for c in ParticipantCategory}
    texts.update({("status", b.value): str(BOOKING_STATUS_LABELS[b]) for b in BookingStatus})
    texts[("registration", RegistrationStatus.ACTIVE.value)] = gettext("Active")
    texts[("registration", RegistrationStatus.CANCELLED.value)] = gettext("Cancelled")
    return lambda kind, value: texts[(kind, value)]


def waitlist_positions(event_id: int) -> dict[int, int]:
    """Return the waiting-list position of every waitlisted booking of the event."""
    position = func.row_number().over(partition_by=Booking.session_id, order_by=Booking.id)
    rows = db.session.execute(
        select(Booking.id, position)
        .join(Session, Session.id == Booking.session_id)
        .where(Session.event_id == event_id, Booking.status == BookingStatus.WAITLISTED)
    ).all()
    return {booking_id: pos for booking_id, pos in rows}


def _registration_filter(request: ExportRequest):  # type: ignore[no-untyped-def]
    """Return the WHERE clauses selecting the registrations of a list."""
    clauses = [Registration.event_id == request.event_id]
    if request.is_booking_list:
        booking = select(Booking.registration_id).where(Booking.session_id == request.session_id)
        if request.group_id is not None:
            booking = booking.where(Booking.group_id == request.group_id)
        if request.status != "all":
            booking = booking.where(Booking.status == BookingStatus(request.status))
        else:
            booking = booking.where(Booking.status != BookingStatus.CANCELLED)
        clauses.append(Registration.id.in_(booking))
    elif request.status == "cancelled":
        clauses.append(Registration.status == RegistrationStatus.CANCELLED)
    elif request.status != "all":
        clauses.append(Registration.status == RegistrationStatus.ACTIVE)
        clauses.append(
            Registration.id.in_(select(Booking.registration_id).where(Booking.status == BookingStatus(request.status)))
        )
    return clauses


def question_columns(questions: list[Question]) -> list[QuestionColumn]:
    """Return the columns of the event's questions (hidden ones too: their answers are kept)."""
    return [QuestionColumn(q.id, q.label) for q in questions]


def iter_people(
    request: ExportRequest, positions: dict[int, int], questions: list[Question] | None = None
) -> Iterator[PersonRecord]:
    """Yield the list's registrations with their bookings, a chunk of rows at a time.

    Plain column rows, not ORM objects: nothing accumulates in the session,
    so memory stays flat however long the list is.

    Attendance: an event list marks people checked in for the event; a session
    (or group) list marks people checked in at that session's door or, when
    nobody was checked in there, people checked in for the event.
    """
    columns = (
        Registration.id,
        Registration.last_name,
        Registration.first_name,
        Registration.organisation,
        Registration.position,
        Registration.city,
        Registration.category,
        Registration.email,
        Registration.phone,
        Registration.language,
        Registration.status,
        Registration.created_at,
    )
    query = (
        select(*columns)
        .where(*_registration_filter(request))
        .order_by(polish(Registration.last_name), polish(Registration.first_name), Registration.id)
        .execution_options(yield_per=CHUNK)
    )
    groups = group_labels(request.event_id)
    for chunk in db.session.execute(query).partitions(CHUNK):
        ids = [row[0] for row in chunk]
        attended = attended_ids(request.event_id, request.session_id, ids)
        bookings: dict[int, list[BookingRecord]] = {}
        booking_query = (
            select(
                Booking.registration_id,
                Booking.id,
                Booking.session_id,
                Session.title_pl,
                Booking.group_id,
                Booking.status,
            )
            .join(Session, Session.id == Booking.session_id)
            .where(Booking.registration_id.in_(ids))
            .order_by(Booking.registration_id, Session.starts_at, Booking.id)
        )
        if request.is_booking_list:
            booking_query = booking_query.where(Booking.session_id == request.session_id)
            if request.group_id is not None:
                booking_query = booking_query.where(Booking.group_id == request.group_id)
            if request.status != "all":
                booking_query = booking_query.where(Booking.status == BookingStatus(request.status))
            else:
                booking_query = booking_query.where(Booking.status != BookingStatus.CANCELLED)
        for registration_id, booking_id, session_id, title, group_id, status in db.session.execute(booking_query):
            bookings.setdefault(registration_id, []).append(
                BookingRecord(
                    session_id,
                    title,
                    groups.get(group_id, ""),
                    status.value,
                    positions.get(booking_id),
                    attended=request.is_booking_list and registration_id in attended,
                )
            )
        answers = registration_questions.answers_for(ids) if questions else {}
        by_id = {q.id: q for q in questions or []}
        for (
            registration_id,
            last_name,
            first_name,
            organisation,
            position,
            city,
            category,
            email,
            phone,
            language,
            status,
            created_at,
        ) in chunk:
            yield PersonRecord(
                registration_id=registration_id,
                last_name=last_name,
                first_name=first_name,
                organisation=organisation,
                position=position,
                city=city,
                category=category.value,
                email=email,
                phone=phone,
                language=language,
                status=status.value,
                created_at=created_at,
                bookings=bookings.get(registration_id, []),
                checked_in=registration_id in attended,
                answers={
                    question_id: registration_questions.display_value(by_id[question_id], value)
                    for question_id, value in answers.get(registration_id, {}).items()
                    if question_id in by_id
                },
            )


def list_title(event: Event, request: ExportRequest) -> str:
    """Return a short name of the list, used in file names."""
    parts = [event.slug]
    if request.session_id:
        parts.append(f"session-{request.session_id}")
    if request.group_id:
        parts.append(f"group-{request.group_id}")
    if request.status != "all":
        parts.append(request.status)
    return "-".join(parts)


def safe_filename(name: str, extension: str) -> str:
    """Return an ASCII file name safe for a Content-Disposition header."""
    ascii_name = (
        unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L")).encode("ascii", "ignore").decode()
    )
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.") or "export"
    return f"{ascii_name[:100]}.{extension}"


def csv_chunks(request: ExportRequest, delimiter: str = ";") -> Iterator[str]:
    """Yield a CSV export as text chunks: UTF-8 BOM first, formula triggers neutralised.

    The caller must have begun a snapshot and ends it after the last chunk.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    positions = waitlist_positions(request.event_id)
    questions = registration_questions.event_questions(request.event_id, include_hidden=True)
    columns = question_columns(questions)
    if request.is_booking_list:
        writer.writerow(booking_headers(gettext, columns))
        rows = booking_rows(iter_people(request, positions, questions), gettext, labeller(), columns)
    else:
        writer.writerow(person_headers(gettext, columns))
        rows = person_rows(iter_people(request, positions, questions), gettext, labeller(), columns)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(cell) for cell in row])
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_value(cell: Cell) -> Cell:
    """Format a CSV cell: dates as ISO text, strings neutralised."""
    if isinstance(cell, datetime):
        return cell.strftime("%Y-%m-%d %H:%M")
    return neutralise_for_csv(cell)


def write_xlsx(request: ExportRequest, event: Event) -> str:
    """Write an XLSX export to a temporary file and return its path.

    XlsxWriter in constant-memory mode keeps memory flat; every string is
    written with write_string (never a formula, whatever it starts with) and
    times as real date cells. An event export has a summary sheet, one sheet
    per session and a sheet of all participants.
    """
    positions = waitlist_positions(request.event_id)
    questions = registration_questions.event_questions(request.event_id, include_hidden=True)
    columns = question_columns(questions)
    label = labeller()
    handle = tempfile.NamedTemporaryFile(prefix="zapisy-", suffix=".xlsx", delete=False)
    handle.close()
    workbook = xlsxwriter.Workbook(
        handle.name,
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
    )
    styles = {
        "bold": workbook.add_format({"bold": True}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    sessions = (
        [db.session.get(Session, request.session_id)]
        if request.is_booking_list
        else list(
            db.session.execute(
                select(Session).where(Session.event_id == event.id).order_by(Session.starts_at, Session.id)
            ).scalars()
        )
    )
    _summary_sheet(workbook, styles, event, sessions)
    names: set[str] = {_sheet_name(gettext("Summary"), set())}
    for session in sessions:
        sub = ExportRequest(event.id, session.id, request.group_id, request.status)
        sheet = _sheet(
            workbook,
            styles,
            _sheet_name(f"{session.id} {session.title_pl}", names),
            booking_headers(gettext, columns),
            [14, 14, 28, 18, 16, 18, 28, 14, 6, 16, 30, 14, 10, 9, 18] + [24] * len(columns),
        )
        _write_rows(sheet, styles, booking_rows(iter_people(sub, positions, questions), gettext, label, columns))
    if not request.is_booking_list:
        sheet = _sheet(
            workbook,
            styles,
            _sheet_name(gettext("Participants"), names),
            person_headers(gettext, columns),
            [14, 14, 28, 18, 16, 18, 28, 14, 6, 12, 60, 9, 18] + [24] * len(columns),
        )
        _write_rows(sheet, styles, person_rows(iter_people(request, positions, questions), gettext, label, columns))
    workbook.close()
    return handle.name


def _summary_sheet(workbook, styles: dict, event: Event, sessions: list[Session]) -> None:  # type: ignore[no-untyped-def]
    """Add the summary sheet: per session capacity and counts by status."""
    counts = dict(
        ((session_id, status.value), n)
        for session_id, status, n in db.session.execute(
            select(Booking.session_id, Booking.status, func.count())
            .where(Booking.session_id.in_([s.id for s in sessions]))
            .group_by(Booking.session_id, Booking.status)
        ).all()
    )
    sheet = _sheet(
        workbook,
        styles,
        _sheet_name(gettext("Summary"), set()),
        [
            gettext("Session"),
            gettext("Start"),
            gettext("Capacity"),
            gettext("Confirmed"),
            gettext("Waiting list"),
            gettext("Requests"),
            gettext("Cancelled"),
        ],
        [50, 18, 10, 11, 11, 11, 11],
    )
    rows: list[list[Cell]] = [[event.title_pl, local_time(event.starts_at), None, None, None, None, None]]
    for session in sessions:
        rows.append(
            [
                session.title_pl,
                local_time(session.starts_at),
                session.capacity,
                counts.get((session.id, "confirmed"), 0),
                counts.get((session.id, "waitlisted"), 0),
                counts.get((session.id, "requested"), 0),
                counts.get((session.id, "cancelled"), 0),
            ]
        )
    _write_rows(sheet, styles, rows)


def _sheet(workbook, styles: dict, title: str, headers: list[str], widths: list[int]):  # type: ignore[no-untyped-def]
    """Add a sheet with a bold, frozen header row and column widths."""
    sheet = workbook.add_worksheet(title)
    sheet.freeze_panes(1, 0)
    for index, width in enumerate(widths):
        sheet.set_column(index, index, width)
    for column, text in enumerate(headers):
        sheet.write_string(0, column, text, styles["bold"])
    return sheet


def _write_rows(sheet, styles: dict, rows) -> None:  # type: ignore[no-untyped-def]
    """Write rows below the header; strings always as text, never as formulas."""
    date_style = styles["date"]
    for row_number, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                sheet.write_string(row_number, column, strip_control(value))
            elif isinstance(value, datetime):
                sheet.write_datetime(row_number, column, value, date_style)
            else:
                sheet.write_number(row_number, column, value)


def _sheet_name(name: str, taken: set[str]) -> str:
    """Return a unique, valid Excel sheet name (31 characters, no []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\']", " ", name).strip()[:31] or "Sheet"
    candidate, n = base, 2
    while candidate in taken:
        suffix = f" ({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate
