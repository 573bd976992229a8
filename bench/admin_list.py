"""Benchmark the back office's registrations list at 50,000 registrations of one event.

Run as: .venv/bin/python bench/admin_list.py [--people 50000] [--db /tmp/zapisy-bench.sqlite] [--repeat 5]

Builds (once; reused while the size and the schema are unchanged) a SQLite file with
one event, a few sessions and groups, and ``--people`` registrations with one to
three bookings each, then times ``admin_services.list_registrations`` (the page
query, its count and the bookings' extra query) for searches, filters, sorts and
pages, printing the median and the worst of ``--repeat`` runs in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.events.models import BookingMode, Event, EventStatus, Group, Series, Session, SessionKind  # noqa: E402
from app.extensions import db  # noqa: E402
from app.registration.admin_services import RegistrationFilters, list_registrations  # noqa: E402
from app.registration.models import Booking, BookingStatus, Registration  # noqa: E402
from app.registration.search import search_text  # noqa: E402
from config import TestingConfig  # noqa: E402

FIRST = ["Anna", "Łukasz", "Małgorzata", "Piotr", "Zofia", "Jan", "Ewa", "Michał", "Katarzyna", "Paweł", "Żaneta"]
LAST = [
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Wójcik",
    "Kowalczyk",
    "Kamiński",
    "Lewandowska",
    "Zieliński",
    "Szymańska",
    "Woźniak",
    "Dąbrowski",
    "Kozłowska",
    "Jankowski",
    "Mazur",
    "Krawczyk",
    "Żółkiewski",
]
CITIES = [
    "Łódź",
    "Kraków",
    "Gdańsk",
    "Wrocław",
    "Poznań",
    "Kutno",
    "Zgierz",
    "Bełchatów",
    "Sieradz",
    "Płock",
    "Radom",
    "Kielce",
    "Lublin",
    "Białystok",
    "Olsztyn",
    "Rzeszów",
    "Opole",
    "Toruń",
    "Bydgoszcz",
    "Szczecin",
]
ORGS = [
    "Urząd Miasta",
    "Urząd Gminy",
    "Starostwo Powiatowe",
    "Fundacja Rozwoju",
    "Stowarzyszenie Miast",
    "Uniwersytet",
    "Spółka Komunalna",
    "Rada Miejska",
]
CATEGORIES = ["mayor", "deputy_mayor", "city_official", "councillor", "business", "ngo", "academia", "media", "other"]


def build(path: Path, people: int, seed: int = 1) -> None:
    """Create the database file with one event and ``people`` registrations."""
    rng = random.Random(seed)
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    start = datetime(2030, 5, 10, 8, tzinfo=timezone.utc)
    with app.app_context():
        db.create_all()
        series = Series(slug="bench", name_pl="Benchmark")
        event = Event(
            series=series,
            slug="bench",
            title_pl="Benchmark",
            city="Łódź",
            starts_at=start,
            ends_at=start + timedelta(days=1),
            status=EventStatus.PUBLISHED,
        )
        sessions = []
        for hour in range(6):
            session = Session(
                event=event,
                kind=SessionKind.WORKSHOP,
                title_pl=f"Warsztat {hour}",
                starts_at=start + timedelta(hours=hour),
                ends_at=start + timedelta(hours=hour, minutes=50),
                booking_mode=BookingMode.INSTANT,
                capacity=None,
            )
            if hour % 2 == 0:
                session.groups = [Group(name=f"Grupa {g}", capacity=people) for g in range(4)]
                session.capacity = 4 * people
            sessions.append(session)
        db.session.add(event)
        db.session.commit()
        groups = {s.id: [g.id for g in s.groups] for s in sessions}
        session_ids = [s.id for s in sessions]
        created = start - timedelta(days=60)
        rows, bookings = [], []
        for n in range(1, people + 1):
            person = {
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST) + ("" if n % 7 else f"-{rng.choice(LAST)}"),
                "email": f"osoba{n}@example.com",
                "organisation": f"{rng.choice(ORGS)} {rng.choice(CITIES)}",
                "city": rng.choice(CITIES),
            }
            rows.append(
                {
                    **person,
                    "id": n,
                    "event_id": event.id,
                    "email_normalized": person["email"],
                    "category": rng.choice(CATEGORIES),
                    "consent_version": "bench",
                    "consent_at": created,
                    "manage_token_hash": f"{n:064x}",
                    "checkin_code": f"B{n:07d}",
                    "search_text": search_text(SimpleNamespace(**person)),  # type: ignore[arg-type]
                    "created_at": created + timedelta(seconds=n * 60),
                    "updated_at": created,
                }
            )
            for session_id in rng.sample(session_ids, rng.randint(1, 3)):
                status = rng.choices(
                    [
                        BookingStatus.CONFIRMED,
                        BookingStatus.WAITLISTED,
                        BookingStatus.REQUESTED,
                        BookingStatus.CANCELLED,
                    ],
                    weights=[80, 10, 3, 7],
                )[0]
                group_id = (
                    rng.choice(groups[session_id]) if groups[session_id] and status == BookingStatus.CONFIRMED else None
                )
                bookings.append(
                    {
                        "registration_id": n,
                        "session_id": session_id,
                        "group_id": group_id,
                        "status": status,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
            if len(rows) >= 5000:
                _flush(rows, bookings)
        _flush(rows, bookings)
        db.session.commit()
        db.session.execute(select(func.count()).select_from(Registration))
        db.session.connection().exec_driver_sql("ANALYZE")
        db.session.commit()
        db.engine.dispose()


def _flush(rows: list[dict], bookings: list[dict]) -> None:
    """Insert a batch of registrations and bookings."""
    if rows:
        db.session.execute(insert(Registration), rows)
        db.session.execute(insert(Booking), bookings)
        rows.clear()
        bookings.clear()


def measure(path: Path, repeat: int) -> None:
    """Time the list for a set of typical requests and print a table."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        event = db.session.execute(select(Event)).scalar_one()
        event_id = event.id
        session_id = event.sessions[0].id
        group_id = event.sessions[0].groups[1].id
        cases = [
            ("first page, by last name", RegistrationFilters(), 1),
            ("page 500 (rows 24,951-25,000)", RegistrationFilters(), 500),
            ("last page", RegistrationFilters(), 1000),
            ("newest first", RegistrationFilters(sort="created", descending=True), 1),
            ("by city, page 300", RegistrationFilters(sort="city"), 300),
            ("by organisation desc", RegistrationFilters(sort="organisation", descending=True), 1),
            ('search "łukasz"', RegistrationFilters(text="łukasz"), 1),
            ('search "lodz" page 20', RegistrationFilters(text="lodz"), 20),
            ('search "zolkiewski lodz"', RegistrationFilters(text="zolkiewski lodz"), 1),
            ('search "osoba49999@"', RegistrationFilters(text="osoba49999@"), 1),
            ('search "nobody-at-all"', RegistrationFilters(text="nobody-at-all"), 1),
            ("category = mayor", RegistrationFilters(category="mayor"), 1),
            ("waiting list", RegistrationFilters(booking_status="waitlisted"), 1),
            ("session", RegistrationFilters(session_id=session_id), 1),
            ("group, page 10", RegistrationFilters(group_id=group_id), 10),
            (
                "requests of mayors, by city",
                RegistrationFilters(booking_status="requested", category="mayor", sort="city"),
                1,
            ),
            ('search "kowal" + session', RegistrationFilters(text="kowal", session_id=session_id), 1),
        ]
        total = db.session.execute(select(func.count()).select_from(Registration)).scalar_one()
        print(f"{total:,} registrations, 50 per page, {repeat} runs each (SQLite file {path})")
        print(f"{'request':38} {'matches':>8} {'median ms':>10} {'worst ms':>9}")
        for label, filters, page in cases:
            times = []
            for _ in range(repeat):
                db.session.expunge_all()
                event = db.session.get(Event, event_id)
                started = time.perf_counter()
                result = list_registrations(event, filters, page=page, per_page=50)
                for registration in result.items:
                    [b.session.title for b in registration.live_bookings]
                times.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            print(f"{label:38} {result.total:>8,} {statistics.median(times):>10.1f} {max(times):>9.1f}")


def _schema_fingerprint() -> str:
    """Return a short digest of the models' tables and columns (a changed schema means a rebuild)."""
    import hashlib

    create_app(TestingConfig)  # imports every model
    names = sorted(f"{t.name}.{c.name}" for t in db.metadata.sorted_tables for c in t.columns)
    return hashlib.sha256(" ".join(names).encode()).hexdigest()[:16]


def main() -> None:
    """Build the database when needed, then measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/zapisy-bench-admin-list.sqlite"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    stamp = args.db.with_suffix(".stamp")
    fingerprint = f"{args.people} {_schema_fingerprint()}"
    if args.rebuild or not args.db.exists() or not stamp.exists() or stamp.read_text() != fingerprint:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        started = time.perf_counter()
        build(args.db, args.people)
        stamp.write_text(fingerprint)
        print(f"built in {time.perf_counter() - started:.1f} s")
    measure(args.db, args.repeat)


if __name__ == "__main__":
    main()
