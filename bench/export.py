"""Benchmark: export 10,000 and 50,000 registrations of one event to CSV and XLSX.

Prints the time and the peak memory of each export, so that "memory flat as
rows grow" can be read off the two sizes. Each export runs in a forked child
process; its peak resident memory (ru_maxrss) above the memory it started
with is the export's own peak.

    .venv/bin/python bench/export.py [--sizes 10000 50000] [--db sqlite:///…]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
import resource
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from app import create_app  # noqa: E402
from app.events.models import BookingMode, Event, EventStatus, Group, Series, Session, SessionKind  # noqa: E402
from app.extensions import db  # noqa: E402
from app.registration.models import Booking, Registration  # noqa: E402
from config import TestingConfig  # noqa: E402

CATEGORIES = ["mayor", "deputy_mayor", "city_official", "councillor", "business", "ngo", "academia", "media", "other"]
CITIES = ["Łódź", "Kraków", "Sandomierz", "Rzeszów", "Kutno", "Poznań", "Wrocław", "Lublin", "Tarnów"]


def populate(size: int) -> Event:
    """Create an event with 20 sessions and ``size`` registrations, two bookings each."""
    now = datetime.now(timezone.utc)
    series = Series(slug=f"bench-{size}", name_pl="Bench")
    event = Event(
        series=series,
        slug=f"bench-{size}",
        title_pl="Bench",
        city="Łódź",
        starts_at=now,
        ends_at=now + timedelta(days=1),
        status=EventStatus.PUBLISHED,
    )
    db.session.add(event)
    sessions = []
    for n in range(20):
        session = Session(
            event=event,
            kind=SessionKind.WORKSHOP,
            title_pl=f"Warsztat {n}",
            starts_at=now + timedelta(hours=n),
            ends_at=now + timedelta(hours=n, minutes=50),
            capacity=size,
            taken=0,
            booking_mode=BookingMode.INSTANT,
        )
        session.groups = [Group(name="A", capacity=size // 2 + 1), Group(name="B", capacity=size // 2 + 1)]
        session.capacity = 2 * (size // 2 + 1)
        sessions.append(session)
    db.session.add_all(sessions)
    db.session.commit()
    rows = [
        {
            "event_id": event.id,
            "first_name": f"Imię{i}",
            "last_name": f"Nazwisko{i}",
            "email": f"p{i}@example.com",
            "email_normalized": f"p{i}@example.com",
            "phone": "",
            "organisation": f"=Urząd {i}",
            "position": "",
            "city": CITIES[i % len(CITIES)],
            "category": CATEGORIES[i % len(CATEGORIES)],
            "language": "pl",
            "consent_version": "bench",
            "consent_at": now,
            "consent_source": "form",
            "has_marketing_consent": False,
            "status": "active",
            "manage_token_hash": secrets.token_hex(32),
            "checkin_code": f"B{i:07d}",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(size)
    ]
    db.session.execute(insert(Registration), rows)
    ids = (
        db.session.execute(text("SELECT id FROM registration WHERE event_id = :e ORDER BY id"), {"e": event.id})
        .scalars()
        .all()
    )
    bookings = []
    for index, registration_id in enumerate(ids):
        for offset in (0, 7):
            session = sessions[(index + offset) % len(sessions)]
            bookings.append(
                {
                    "registration_id": registration_id,
                    "session_id": session.id,
                    "group_id": session.groups[index % 2].id,
                    "status": "confirmed" if index % 10 else "waitlisted",
                    "created_at": now,
                    "updated_at": now,
                }
            )
    db.session.execute(insert(Booking), bookings)
    db.session.commit()
    return event


def measure(label: str, run) -> None:  # type: ignore[no-untyped-def]
    """Run ``run`` in a forked child; print its time, peak memory growth and output size."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(reader)
        db.engine.dispose(close=False)  # never share the parent's connections
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        size = run()
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline
        os.write(writer, f"{elapsed} {peak} {size}".encode())
        os._exit(0)
    os.close(writer)
    elapsed, peak, size = (float(x) for x in os.read(reader, 200).decode().split())
    os.close(reader)
    os.waitpid(pid, 0)
    print(f"  {label:5s} {elapsed:7.2f} s   peak +{peak / 1024:6.1f} MB   file {size / 1e6:6.1f} MB", flush=True)


def main() -> None:
    """Populate and export each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="zapisy-bench-")
    url = args.db or f"sqlite:///{os.path.join(workdir, 'bench.sqlite')}"
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    from app.exports.services import begin_snapshot, build_request, csv_chunks, end_snapshot, write_xlsx

    with app.app_context(), app.test_request_context():
        db.drop_all()
        db.create_all()
        print(f"Export benchmark on {db.engine.dialect.name}; CSV target < 2 s, XLSX < 15 s at 50,000")
        for size in args.sizes:
            event = populate(size)
            print(f"{size:,} registrations (2 bookings each):")
            request = build_request(event, None, None, "all")

            def run_csv() -> int:
                begin_snapshot()
                written = 0
                with open(os.path.join(workdir, "out.csv"), "w", encoding="utf-8") as handle:
                    for chunk in csv_chunks(request):
                        written += len(chunk)
                        handle.write(chunk)
                end_snapshot()
                return written

            def run_xlsx() -> int:
                begin_snapshot()
                path = write_xlsx(request, event)
                end_snapshot()
                size_bytes = os.path.getsize(path)
                os.unlink(path)
                return size_bytes

            measure("CSV", run_csv)
            measure("XLSX", run_xlsx)


if __name__ == "__main__":
    main()
