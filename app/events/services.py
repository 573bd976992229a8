"""Read-side use cases of the programme: public events, programme and availability."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext, ngettext
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from ..db import utcnow
from ..extensions import db
from ..i18n import TIMEZONE, current_language, format_clock, format_when, group_label
from ..labels import PARTNER_KIND_LABELS, SESSION_KIND_LABELS, eligible_label
from ..markup import render_markdown
from ..registration.models import Booking, BookingStatus
from .models import (
    PARTNER_KINDS,
    BookingMode,
    Event,
    EventStatus,
    Group,
    Partner,
    Series,
    Session,
    SessionKind,
    Speaker,
    initials_of,
    session_speaker,
)

PUBLIC_STATUSES = (EventStatus.PUBLISHED, EventStatus.CLOSED)


class EventNotFound(Exception):
    """No public event has this slug."""


@dataclass
class RankedBlock:
    """The ranked workshops of one time slot, among which participants rank choices."""

    key: str
    starts_at: datetime
    ends_at: datetime
    sessions: list[Any] = field(default_factory=list)  # Session, or PublicSession on the public pages


@dataclass
class Availability:
    """Counts of one session or group, as the public sees them."""

    capacity: int | None
    confirmed: int
    waitlisted: int

    @property
    def places_left(self) -> int | None:
        """Free places, or None when unlimited."""
        return None if self.capacity is None else max(self.capacity - self.confirmed, 0)


def get_public_event(slug: str) -> Event:
    """Return the published or closed event with ``slug``, with its programme loaded.

    :raises EventNotFound: for unknown slugs and drafts.
    """
    event = db.session.execute(
        select(Event)
        .where(Event.slug == slug, Event.status.in_(PUBLIC_STATUSES))
        .options(
            selectinload(Event.sessions).selectinload(Session.groups),
            selectinload(Event.partners),
            selectinload(Event.series),
        )
    ).scalar_one_or_none()
    if event is None:
        raise EventNotFound(slug)
    return event


def get_public_event_row(slug: str) -> Event:
    """Return the published or closed event with ``slug`` and its series, without the programme.

    The public pages read the programme with :func:`public_programme` instead.

    :raises EventNotFound: for unknown slugs and drafts.
    """
    event = db.session.execute(_PUBLIC_EVENT_ROW, {"slug": slug}).scalar_one_or_none()
    if event is None:
        raise EventNotFound(slug)
    return event


# Built once: every public request runs it.
_PUBLIC_EVENT_ROW = (
    select(Event)
    .where(Event.slug == bindparam("slug"), Event.status.in_(PUBLIC_STATUSES))
    .options(joinedload(Event.series))
)


def list_public_events(now: datetime | None = None) -> tuple[list[Event], dict[Series, list[Event]]]:
    """Return upcoming events (soonest first) and past events grouped by series."""
    now = now or utcnow()
    events = (
        db.session.execute(
            select(Event)
            .where(Event.status.in_(PUBLIC_STATUSES))
            .options(selectinload(Event.series))
            .order_by(Event.starts_at)
        )
        .scalars()
        .all()
    )
    upcoming = [e for e in events if e.ends_at >= now]
    past: dict[Series, list[Event]] = defaultdict(list)
    for event in sorted((e for e in events if e.ends_at < now), key=lambda e: e.starts_at, reverse=True):
        past[event.series].append(event)
    return upcoming, dict(past)


def waitlist_counts(event_id: int, session_ids: Collection[int] | None = None) -> dict[int, int]:
    """Return the number of waiting people per session id of the event, in one query.

    With ``session_ids``, count only those sessions (none: no query at all).
    """
    if session_ids is not None:
        if not session_ids:
            return {}
        query = select(Booking.session_id, func.count()).where(Booking.session_id.in_(sorted(session_ids)))
    else:
        query = (
            select(Booking.session_id, func.count())
            .join(Session, Session.id == Booking.session_id)
            .where(Session.event_id == event_id)
        )
    rows = db.session.execute(
        query.where(Booking.status == BookingStatus.WAITLISTED).group_by(Booking.session_id)
    ).all()
    return {session_id: count for session_id, count in rows}


def ranked_blocks(sessions: list[Session]) -> list[RankedBlock]:
    """Group ranked sessions by time slot; each slot is one block of choices."""
    blocks: dict[tuple[datetime, datetime], RankedBlock] = {}
    for session in sorted(sessions, key=lambda s: (s.starts_at, s.id)):
        if session.booking_mode != BookingMode.RANKED:
            continue
        slot = (session.starts_at, session.ends_at)
        if slot not in blocks:
            key = session.starts_at.astimezone(TIMEZONE).strftime("%Y%m%d%H%M")
            blocks[slot] = RankedBlock(key=key, starts_at=slot[0], ends_at=slot[1])
        blocks[slot].sessions.append(session)
    return list(blocks.values())


def instant_sessions(sessions: list[Session]) -> list[Session]:
    """Return the sessions booked first come, first served."""
    return [s for s in sessions if s.booking_mode == BookingMode.INSTANT]


def event_summary(event: Event) -> dict:
    """Return the public fields of an event as JSON-ready data."""
    return {
        "slug": event.slug,
        "series": event.series.slug,
        "title": {"pl": event.title_pl, "en": event.title_en or event.title_pl},
        "edition": event.edition_label,
        "city": event.city,
        "venue": event.venue,
        "starts_at": event.starts_at.isoformat(),
        "ends_at": event.ends_at.isoformat(),
        "registration_opens_at": _iso(event.registration_opens_at),
        "registration_closes_at": _iso(event.registration_closes_at),
        "status": event.status.value,
        "registration_open": event.is_registration_open(utcnow()),
        "partners": [{"name": p.name, "url": p.url} for p in event.partners],
    }


def _iso(value: datetime | None) -> str | None:
    """Format an optional datetime as ISO 8601."""
    return value.isoformat() if value else None


# --- the public programme: static fields cached per process, counters read per request ---------------
#
# The public pages (event page, registration form, its re-render) show 200 sessions and
# 400 groups; loading them as ORM objects and translating them row by row cost most of
# those requests. The static fields (titles, times, kinds, eligibility, booking mode,
# group names) are therefore read with one Core query per table and kept per process,
# per event and language, for EVENT_PAGE_CACHE_SECONDS; the schema has no version column
# to key them by. Every request still reads the counters (capacity, taken) live in one
# narrow query, and a session or group added or deleted since (a changed set of ids)
# rebuilds the cache at once, so only an edited title, time or room can lag, by at most
# that many seconds. Places are never decided here: bookings re-check capacity atomically.

_session_table = Session.__table__
_group_table = Group.__table__
_speaker_table = Speaker.__table__


@dataclass(frozen=True)
class PublicSpeaker:
    """A speaker as the public event page shows them, in one language; ``bio`` is sanitised HTML."""

    id: int
    name: str
    affiliation: str  # "urban planner, City of Nijmegen"
    bio: str
    photo: str | None
    initials: str
    session_titles: tuple[str, ...]


class PublicGroup:
    """A group of a session as the public pages show it, with this request's counters."""

    __slots__ = ("id", "name", "facilitator", "room", "capacity", "taken", "places_text")

    def __init__(
        self, id: int, name: str, facilitator: str, room: str, capacity: int, taken: int, places_text: str
    ) -> None:
        self.id, self.name, self.facilitator, self.room = id, name, facilitator, room
        self.capacity, self.taken, self.places_text = capacity, taken, places_text

    @property
    def places_left(self) -> int:
        """Free places in the group."""
        return max(self.capacity - self.taken, 0)


class PublicSession:
    """A session as the public pages show it: text in one language, counters of this request.

    It answers the same attributes as :class:`Session` that the templates and the
    forms read (``title``, ``places_left``, ``is_eligible`` …), and its texts already
    translated and formatted, so that a page of 200 rows makes no Babel call per row.
    """

    id: int
    kind: SessionKind
    booking_mode: BookingMode
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    room: str
    eligible_categories: list[str]
    capacity: int | None
    taken: int
    groups: list[PublicGroup]
    schedule: str  # "23.12.2026, 09:00–09:30"
    times: str  # "09:00–09:30"
    kind_label: str
    only_for: str  # "Only for: mayors, …", or "" when everyone may book
    availability_text: str  # "3 places left", "Full — waiting list (2 waiting)" …
    description_html: str  # the description as sanitised HTML (app.markup)
    speakers: tuple[PublicSpeaker, ...]

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)

    @property
    def places_left(self) -> int | None:
        """Free places, or None when the session is unlimited."""
        return None if self.capacity is None else max(self.capacity - self.taken, 0)

    @property
    def is_restricted(self) -> bool:
        """Tell whether only some categories may book directly."""
        return bool(self.eligible_categories)

    def is_eligible(self, category: str) -> bool:
        """Tell whether a participant of ``category`` may book directly."""
        return not self.eligible_categories or category in self.eligible_categories

    def __repr__(self) -> str:
        return f"<PublicSession {self.id} {self.title!r}>"


@dataclass
class PublicProgramme:
    """An event's programme for one request: sessions in order, with live counters."""

    sessions: list[PublicSession]
    waiting: dict[int, int]  # waiting people per full session
    speakers: tuple[PublicSpeaker, ...] = ()  # the event's speakers in their order

    @property
    def days(self) -> list[tuple[date, list[PublicSession]]]:
        """The sessions grouped by their day in Warsaw time."""
        return _by_day(self.sessions)

    @property
    def instant(self) -> list[PublicSession]:
        """The sessions booked first come, first served."""
        return instant_sessions(self.sessions)  # type: ignore[arg-type]

    @property
    def blocks(self) -> list[RankedBlock]:
        """The ranked blocks of the programme."""
        return ranked_blocks(self.sessions)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _CachedProgramme:
    """The static part of an event's programme in one language."""

    built_at: float
    session_ids: frozenset[int]
    group_ids: frozenset[int]
    sessions: tuple[dict[str, Any], ...]  # PublicSession fields without counters, in programme order
    groups: dict[int, tuple[tuple[int, str, str, str], ...]]  # session id -> (id, name, facilitator, room)
    speakers: tuple[PublicSpeaker, ...] = ()


def public_programme(event: Event, with_groups: bool = True) -> PublicProgramme:
    """Return the event's programme for the public pages in a constant number of queries.

    Static fields come from a per-process cache (see above); capacity and ``taken`` of
    every session (and group, ``with_groups``) are read now, and the waiting lists are
    counted for full sessions only, the only ones whose waiting list is shown.
    """
    live_sessions = {
        row.id: (row.capacity, row.taken)
        for row in db.session.execute(
            select(_session_table.c.id, _session_table.c.capacity, _session_table.c.taken).where(
                _session_table.c.event_id == event.id
            )
        )
    }
    live_groups: dict[int, tuple[int, int]] = {}
    if with_groups:
        live_groups = {
            row.id: (row.capacity, row.taken)
            for row in db.session.execute(
                select(_group_table.c.id, _group_table.c.capacity, _group_table.c.taken)
                .join(_session_table, _session_table.c.id == _group_table.c.session_id)
                .where(_session_table.c.event_id == event.id)
            )
        }
    cached = _cached_programme(event.id, live_sessions.keys(), live_groups.keys() if with_groups else None)
    counters = [
        (static, *live_sessions.get(static["id"], (static["capacity"], static["taken"]))) for static in cached.sessions
    ]
    waiting = waitlist_counts(
        event.id, [s["id"] for s, capacity, taken in counters if capacity is not None and taken >= capacity]
    )
    texts = _availability_texts()
    sessions = []
    for static, capacity, taken in counters:
        session_id = static["id"]
        groups = []
        if with_groups:
            for group_id, name, facilitator, room in cached.groups.get(session_id, ()):
                if group_id in live_groups:
                    group_capacity, group_taken = live_groups[group_id]
                    left = max(group_capacity - group_taken, 0)
                    groups.append(
                        PublicGroup(
                            group_id,
                            name,
                            facilitator,
                            room,
                            group_capacity,
                            group_taken,
                            texts(left, 0) if left else texts.none_left,
                        )
                    )
        left = None if capacity is None else max(capacity - taken, 0)
        sessions.append(
            PublicSession(
                {
                    **static,
                    "capacity": capacity,
                    "taken": taken,
                    "groups": groups,
                    "availability_text": texts(left, waiting.get(session_id, 0)),
                }
            )
        )
    return PublicProgramme(sessions=sessions, waiting=waiting, speakers=cached.speakers)


class _AvailabilityTexts:
    """The "places left" badges' texts in the current language, translated once per process."""

    MAX = 10_000  # distinct counts kept per language before starting afresh

    def __init__(self, cache: dict[tuple[int | None, int], str]) -> None:
        self.cache = cache
        self.none_left = gettext("No places left")

    def __call__(self, left: int | None, waiting: int) -> str:
        """Return the text for ``left`` places (None: unlimited) and ``waiting`` people."""
        key = (left, waiting)
        text = self.cache.get(key)
        if text is None:
            if left is None:
                text = gettext("Open seating")
            elif left > 0:
                text = ngettext("%(num)d place left", "%(num)d places left", left)
            else:
                text = gettext("Full — waiting list")
                if waiting:
                    text += " (" + ngettext("%(num)d waiting", "%(num)d waiting", waiting) + ")"
            if len(self.cache) >= self.MAX:
                self.cache.clear()
            self.cache[key] = text
        return text


def _availability_texts() -> _AvailabilityTexts:
    """Return the availability texts of the current language."""
    caches = current_app.extensions.setdefault("zapisy_availability_texts", {})
    return _AvailabilityTexts(caches.setdefault(current_language(), {}))


def _cached_programme(event_id: int, session_ids: Iterable[int], group_ids: Iterable[int] | None) -> _CachedProgramme:
    """Return the static programme of the event in the current language, rebuilt when stale."""
    store: dict[tuple[int, str], _CachedProgramme] = current_app.extensions.setdefault("zapisy_programme", {})
    key = (event_id, current_language())
    ttl = float(current_app.config.get("EVENT_PAGE_CACHE_SECONDS", 0))
    cached = store.get(key)
    if (
        cached is not None
        and time.monotonic() - cached.built_at < ttl
        and cached.session_ids == frozenset(session_ids)
        and (group_ids is None or cached.group_ids == frozenset(group_ids))
    ):
        return cached
    cached = _build_programme(event_id)
    if ttl > 0:
        store[key] = cached
    return cached


def _build_programme(event_id: int) -> _CachedProgramme:
    """Read the static fields of the event's sessions and groups in two queries."""

    language = current_language()
    s = _session_table.c
    sessions = []
    for row in db.session.execute(
        select(
            s.id,
            s.kind,
            s.booking_mode,
            s.title_pl,
            s.title_en,
            s.description_pl,
            s.description_en,
            s.starts_at,
            s.ends_at,
            s.room,
            s.eligible_categories,
            s.capacity,
            s.taken,
        )
        .where(s.event_id == event_id)
        .order_by(s.starts_at, s.id)
    ):
        sessions.append(
            {
                "id": row.id,
                "kind": row.kind,
                "booking_mode": row.booking_mode,
                # The same fallback as i18n.localized: the Polish text when the other is empty.
                "title": (row.title_en if language == "en" else None) or row.title_pl,
                "description": (row.description_en if language == "en" else None) or row.description_pl,
                "description_html": render_markdown(
                    (row.description_en if language == "en" else None) or row.description_pl
                ),
                "starts_at": row.starts_at,
                "ends_at": row.ends_at,
                "room": row.room,
                "eligible_categories": list(row.eligible_categories or []),
                "capacity": row.capacity,
                "taken": row.taken,
                "schedule": f"{format_when(row.starts_at, 'short')}–{format_clock(row.ends_at, 'short')}",
                "times": f"{format_clock(row.starts_at, 'short')}–{format_clock(row.ends_at, 'short')}",
                "kind_label": str(SESSION_KIND_LABELS[row.kind]),
                "only_for": (
                    gettext("Only for: %(who)s", who=eligible_label(row.eligible_categories))
                    if row.eligible_categories
                    else ""
                ),
            }
        )
    g = _group_table.c
    groups: dict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
    for row in db.session.execute(
        select(g.id, g.session_id, g.name, g.facilitator, g.room)
        .join(_session_table, s.id == g.session_id)
        .where(s.event_id == event_id)
        .order_by(g.id)
    ):
        session_groups = groups[row.session_id]
        session_groups.append((row.id, group_label(row.name, len(session_groups) + 1), row.facilitator, row.room))
    speakers, by_session = _read_speakers(event_id, language, {item["id"]: item["title"] for item in sessions})
    for item in sessions:
        item["speakers"] = by_session.get(item["id"], ())
    return _CachedProgramme(
        built_at=time.monotonic(),
        session_ids=frozenset(item["id"] for item in sessions),
        group_ids=frozenset(group[0] for items in groups.values() for group in items),
        sessions=tuple(sessions),
        groups={session_id: tuple(items) for session_id, items in groups.items()},
        speakers=speakers,
    )


def group_labels(event_id: int) -> dict[int, str]:
    """Return every group of the event by id with its name as shown (:func:`i18n.group_label`)."""
    g, s = _group_table.c, _session_table.c
    numbers: dict[int, int] = defaultdict(int)
    labels = {}
    for row in db.session.execute(
        select(g.id, g.session_id, g.name)
        .join(_session_table, s.id == g.session_id)
        .where(s.event_id == event_id)
        .order_by(g.id)
    ):
        numbers[row.session_id] += 1
        labels[row.id] = group_label(row.name, numbers[row.session_id])
    return labels


def _read_speakers(
    event_id: int, language: str, titles: dict[int, str]
) -> tuple[tuple[PublicSpeaker, ...], dict[int, tuple[PublicSpeaker, ...]]]:
    """Read the event's speakers and the sessions they speak at in one query (sessions in programme order)."""
    sp = _speaker_table.c
    rows = db.session.execute(
        select(
            sp.id,
            sp.name,
            sp.role_pl,
            sp.role_en,
            sp.organisation,
            sp.bio_pl,
            sp.bio_en,
            sp.photo,
            session_speaker.c.session_id,
        )
        .outerjoin(session_speaker, session_speaker.c.speaker_id == sp.id)
        .where(sp.event_id == event_id)
        .order_by(sp.position, sp.id)
    ).all()
    order = {session_id: n for n, session_id in enumerate(titles)}
    fields: dict[int, Any] = {}
    sessions_of: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        fields.setdefault(row.id, row)
        if row.session_id in order:
            sessions_of[row.id].append(row.session_id)
    speakers = []
    by_session: dict[int, list[PublicSpeaker]] = defaultdict(list)
    for speaker_id, row in fields.items():
        # The same fallback as i18n.localized: the Polish text when the other is empty.
        role = (row.role_en if language == "en" else None) or row.role_pl
        session_ids = sorted(sessions_of[speaker_id], key=order.__getitem__)
        speaker = PublicSpeaker(
            id=speaker_id,
            name=row.name,
            affiliation=", ".join(part for part in (role, row.organisation) if part),
            bio=render_markdown((row.bio_en if language == "en" else None) or row.bio_pl),
            photo=row.photo,
            initials=initials_of(row.name),
            session_titles=tuple(titles[session_id] for session_id in session_ids),
        )
        speakers.append(speaker)
        for session_id in session_ids:
            by_session[session_id].append(speaker)
    return tuple(speakers), {session_id: tuple(items) for session_id, items in by_session.items()}


def partners_by_kind(event: Event) -> list[tuple[str, list[Partner]]]:
    """Return the event's partners grouped by kind, in the order of PARTNER_KINDS (other kinds last)."""
    groups: dict[str, list[Partner]] = defaultdict(list)
    for partner in event.partners:
        groups[partner.role if partner.role in PARTNER_KIND_LABELS else "partner"].append(partner)
    return [(kind, groups[kind]) for kind in PARTNER_KINDS if groups.get(kind)]


def _by_day(sessions: Iterable[Any]) -> list[tuple[date, list[Any]]]:
    """Group sessions by their day in Warsaw time."""
    days: dict[date, list[Any]] = defaultdict(list)
    for session in sessions:
        days[session.starts_at.astimezone(TIMEZONE).date()].append(session)
    return sorted(days.items())


class SeriesNotFound(Exception):
    """No series has this slug."""


def get_public_series(slug: str) -> tuple[Series, list[Event]]:
    """Return the series with ``slug`` and its public events (soonest first) with their sessions.

    :raises SeriesNotFound: for unknown slugs.
    """
    series = db.session.execute(select(Series).where(Series.slug == slug)).scalar_one_or_none()
    if series is None:
        raise SeriesNotFound(slug)
    events = list(
        db.session.execute(
            select(Event)
            .where(Event.series_id == series.id, Event.status.in_(PUBLIC_STATUSES))
            .options(selectinload(Event.sessions))
            .order_by(Event.starts_at, Event.id)
        ).scalars()
    )
    return series, events
