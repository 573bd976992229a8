"""Pure builders of export headers and rows from plain records (no Flask, no SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from .cells import Cell

WARSAW = ZoneInfo("Europe/Warsaw")


@dataclass
class BookingRecord:
    """One booking as exported."""

    session_id: int
    session_title: str
    group_name: str
    status: str
    waitlist_position: int | None
    attended: bool = False


@dataclass
class PersonRecord:
    """One registration as exported, with its bookings."""

    registration_id: int
    last_name: str
    first_name: str
    organisation: str
    position: str
    city: str
    category: str
    email: str
    phone: str
    language: str
    status: str
    created_at: datetime
    bookings: list[BookingRecord] = field(default_factory=list)
    checked_in: bool = False
    # Answers to the event's own questions as readable text, by question id.
    answers: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QuestionColumn:
    """One of the event's own questions: a column of its own at the end of a list."""

    question_id: int
    header: str


Translate = Callable[[str], str]


def N_(text: str) -> str:  # noqa: N802 - the conventional name of a gettext marker
    """Mark a header for message extraction; translated later by the caller's ``t``."""
    return text


def local_time(moment: datetime) -> datetime:
    """Return a naive Warsaw wall-clock time (spreadsheets have no time zones)."""
    return moment.astimezone(WARSAW).replace(tzinfo=None)


def person_headers(t: Translate, questions: Iterable[QuestionColumn] = ()) -> list[str]:
    """Return the header of an event export (one column per question at the end)."""
    return [
        t(N_("Last name")),
        t(N_("First name")),
        t(N_("Organisation")),
        t(N_("Position")),
        t(N_("City")),
        t(N_("Category")),
        t(N_("Email")),
        t(N_("Phone")),
        t(N_("Language")),
        t(N_("Status")),
        t(N_("Bookings")),
        t(N_("Attended")),
        t(N_("Registered at")),
        *(q.header for q in questions),
    ]


def person_rows(
    records: Iterable[PersonRecord],
    t: Translate,
    label: Callable[[str, str], str],
    questions: Iterable[QuestionColumn] = (),
) -> Iterator[list[Cell]]:
    """Yield one row per participant with their bookings summarised in one cell.

    ``label(kind, value)`` turns a category or status value into readable text.
    "Attended" is the person's check-in for the event (``checked_in``).
    """
    yes = t(N_("Yes"))
    question_ids = [q.question_id for q in questions]
    for r in records:
        bookings = "; ".join(
            f"{b.session_title}"
            + (f" / {b.group_name}" if b.group_name else "")
            + f" ({label('status', b.status)}"
            + (f" {b.waitlist_position}" if b.waitlist_position else "")
            + ")"
            for b in r.bookings
        )
        yield [
            r.last_name,
            r.first_name,
            r.organisation,
            r.position,
            r.city,
            label("category", r.category),
            r.email,
            r.phone,
            r.language,
            label("registration", r.status),
            bookings,
            yes if r.checked_in else "",
            local_time(r.created_at),
            *(r.answers.get(question_id, "") for question_id in question_ids),
        ]


def booking_headers(t: Translate, questions: Iterable[QuestionColumn] = ()) -> list[str]:
    """Return the header of a session or group export (one column per question at the end)."""
    return [
        t(N_("Last name")),
        t(N_("First name")),
        t(N_("Organisation")),
        t(N_("Position")),
        t(N_("City")),
        t(N_("Category")),
        t(N_("Email")),
        t(N_("Phone")),
        t(N_("Language")),
        t(N_("Status")),
        t(N_("Session")),
        t(N_("Group")),
        t(N_("Waiting-list position")),
        t(N_("Attended")),
        t(N_("Registered at")),
        *(q.header for q in questions),
    ]


def booking_rows(
    records: Iterable[PersonRecord],
    t: Translate,
    label: Callable[[str, str], str],
    questions: Iterable[QuestionColumn] = (),
) -> Iterator[list[Cell]]:
    """Yield one row per booking (records carry the bookings of one list only).

    "Attended" is the booking's ``attended`` (see exports.services.iter_people for its rule).
    """
    yes = t(N_("Yes"))
    question_ids = [q.question_id for q in questions]
    for r in records:
        for b in r.bookings:
            yield [
                r.last_name,
                r.first_name,
                r.organisation,
                r.position,
                r.city,
                label("category", r.category),
                r.email,
                r.phone,
                r.language,
                label("status", b.status),
                b.session_title,
                b.group_name,
                b.waitlist_position,
                yes if b.attended else "",
                local_time(r.created_at),
                *(r.answers.get(question_id, "") for question_id in question_ids),
            ]
