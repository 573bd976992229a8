"""Benchmark the participant flow on a real server, against the bare-stack ceiling (issue 8).

Serves Zapisy and bench/ceiling_app.py under gunicorn (gunicorn.conf.py, the
same settings for both) on free loopback ports, on SQLite (WAL) or on a fresh
PostgreSQL database, with a generated event: 200 sessions with groups and
10,000 existing registrations. Concurrent clients (async httpx, one cookie jar
each) GET the registration form, POST it with its CSRF token and three session
choices, and follow the redirect; a registration counts only when the success
page came back. Short windows of Zapisy and of the ceiling alternate (A B A B
…) so that drift cancels out; the headline is the median of the per-pair
ratios of registrations per second. Then an open loop: registrations offered
at a fixed rate (``--open-rate``, Poisson arrivals, each a new participant
doing the three requests) to Zapisy and the ceiling in alternating windows,
with each step's p50/p95/p99 as the client sees them; with ``--knee`` the
offered rate is raised until a step's p99 reaches 100 ms, for both servers.
Then a race for the last places of a group, and the event page of an event
with 200 sessions and 50,000 registrations.

Run as: .venv/bin/python bench/load.py [--quick] [--workers 2] [--clients 32]
        [--db postgresql+psycopg://user@host/any_db]   (a fresh database is created next to it and dropped)
        [--open-rate 50] [--knee] [--no-closed]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from tests.loadclient import (  # noqa: E402
    GunicornServer,
    Outcome,
    Participant,
    Stats,
    make_client,
    percentile,
    production_env,
    register,
    registration_form,
)

SLOTS = 20  # time slots of the programme; each participant picks three sessions in different slots
GROUPS_PER_SESSION = 2
CHOICES = 3
RACE_GROUP_CAPACITY = 40
MAX_ATTEMPTS_PER_WINDOW = 100_000  # a bound, whatever the speed


@dataclass
class Window:
    """One timed window of one server: what came back and how fast."""

    name: str
    registrations: int
    seconds: float
    client_cpu: float  # share of one core used by this (client) process
    stats: Stats

    @property
    def rate(self) -> float:
        """Registrations per second."""
        return self.registrations / self.seconds if self.seconds else 0.0


@dataclass
class Fixture:
    """Ids of the generated data the clients need."""

    slug: str
    slots: list[list[int]]  # session ids per time slot
    race_session_id: int = 0
    race_group_id: int = 0
    page_slug: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# --- data -----------------------------------------------------------------------------------------


def generate(url: str, sessions: int, existing: int, page_registrations: int) -> Fixture:
    """Create the schema and the events of the benchmark, inserting registrations in bulk."""
    from app import create_app
    from app.extensions import db
    from config import TestingConfig

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        # The models' schema, which tests/test_migrations.py checks the migrations build.
        db.create_all()
        now = datetime.now(UTC).replace(microsecond=0)
        with db.engine.begin() as connection:
            series_id = _insert_id(
                connection,
                "series",
                slug="bench",
                name_pl="Seria",
                name_en="Series",
                description_pl="",
                description_en="",
                organiser_name="Bench",
            )
            fixture = _event(connection, series_id, now, "bench-load", sessions, capacity_per_group=10**6)
            fixture.race_session_id, fixture.race_group_id = _race_session(connection, fixture, now)
            _registrations(
                connection,
                fixture.extra["event_id"],
                fixture.slots,
                existing,
                race=(fixture.race_session_id, fixture.race_group_id),
                now=now,
            )
            page = _event(
                connection,
                series_id,
                now,
                "bench-event-page",
                sessions,
                capacity_per_group=max(1, page_registrations * CHOICES // sessions * 4 // 10),
            )
            _registrations(connection, page.extra["event_id"], page.slots, page_registrations, now=now)
            fixture.page_slug = page.slug
        db.engine.dispose()
    return fixture


def _insert_id(connection: Any, table_name: str, **values: Any) -> int:
    """Insert one row into a table of the models; return its id."""
    from app.extensions import db

    table = db.metadata.tables[table_name]
    return int(connection.execute(table.insert().values(**values).returning(table.c.id)).scalar_one())


def _event(
    connection: Any, series_id: int, now: datetime, slug: str, sessions: int, capacity_per_group: int
) -> Fixture:
    """Insert a published event open for registration with ``sessions`` instant sessions, two groups each."""
    from app.events.models import BookingMode, EventStatus, SessionKind

    starts = (now + timedelta(days=30)).replace(hour=7, minute=0, second=0)
    event_id = _insert_id(
        connection,
        "event",
        series_id=series_id,
        slug=slug,
        title_pl=f"Benchmark {slug}",
        title_en=f"Benchmark {slug}",
        description_pl="",
        description_en="",
        edition_label="",
        city="Łódź",
        venue="",
        starts_at=starts,
        ends_at=starts + timedelta(hours=14),
        registration_opens_at=now - timedelta(days=1),
        registration_closes_at=starts - timedelta(days=1),
        status=EventStatus.PUBLISHED,
        contact_email="",
        max_ranked_choices=3,
        created_at=now,
    )
    slots: list[list[int]] = [[] for _ in range(SLOTS)]
    for n in range(sessions):
        slot = n % SLOTS
        begins = starts + timedelta(minutes=30 * slot)
        session_id = _insert_id(
            connection,
            "session",
            event_id=event_id,
            kind=SessionKind.WORKSHOP,
            title_pl=f"Warsztat {n + 1}",
            title_en=f"Workshop {n + 1}",
            description_pl="",
            description_en="",
            starts_at=begins,
            ends_at=begins + timedelta(minutes=30),
            room=f"Sala {n % 12 + 1}",
            capacity=capacity_per_group * GROUPS_PER_SESSION,
            taken=0,
            eligible_categories=[],
            booking_mode=BookingMode.INSTANT,
        )
        for g in range(GROUPS_PER_SESSION):
            _insert_id(
                connection,
                "session_group",
                session_id=session_id,
                name=f"Grupa {g + 1}",
                facilitator="",
                room="",
                capacity=capacity_per_group,
                taken=0,
            )
        slots[slot].append(session_id)
    return Fixture(slug=slug, slots=slots, extra={"event_id": event_id, "starts": starts})


def _race_session(connection: Any, fixture: Fixture, now: datetime) -> tuple[int, int]:
    """Insert the race session: one group of RACE_GROUP_CAPACITY places, after every other slot."""
    from app.events.models import BookingMode, SessionKind

    begins = fixture.extra["starts"] + timedelta(minutes=30 * SLOTS)
    session_id = _insert_id(
        connection,
        "session",
        event_id=fixture.extra["event_id"],
        kind=SessionKind.ROUND_TABLE,
        title_pl="Ostatnie miejsca",
        title_en="Last places",
        description_pl="",
        description_en="",
        starts_at=begins,
        ends_at=begins + timedelta(minutes=30),
        room="",
        capacity=RACE_GROUP_CAPACITY,
        taken=0,
        eligible_categories=[],
        booking_mode=BookingMode.INSTANT,
    )
    group_id = _insert_id(
        connection,
        "session_group",
        session_id=session_id,
        name="Stół 1",
        facilitator="",
        room="",
        capacity=RACE_GROUP_CAPACITY,
        taken=0,
    )
    return session_id, group_id


def _registrations(
    connection: Any,
    event_id: int,
    slots: list[list[int]],
    count: int,
    now: datetime,
    race: tuple[int, int] | None = None,
) -> None:
    """Insert ``count`` registrations with three bookings each, in chunks; keep the counters right."""
    from app.events.models import ParticipantCategory
    from app.extensions import db
    from app.registration.models import BookingStatus, RegistrationStatus

    registration = db.metadata.tables["registration"]
    booking = db.metadata.tables["booking"]
    session_table = db.metadata.tables["session"]
    group_table = db.metadata.tables["session_group"]
    groups: dict[int, list[tuple[int, int]]] = {}  # session id -> [(group id, capacity)]
    for group_id, session_id, capacity in connection.execute(
        select(group_table.c.id, group_table.c.session_id, group_table.c.capacity).order_by(group_table.c.id)
    ):
        groups.setdefault(session_id, []).append((group_id, capacity))
    taken_session: dict[int, int] = {}
    taken_group: dict[int, int] = {}
    first_id = int(connection.execute(select(func.coalesce(func.max(registration.c.id), 0))).scalar_one()) + 1
    # The first registrations also hold all but the last RACE_PLACES places of the race group.
    race_prefill = RACE_GROUP_CAPACITY - RACE_PLACES if race is not None else 0
    chunk = 2000
    for start in range(0, count, chunk):
        people, places = [], []
        for n in range(start, min(count, start + chunk)):
            reg_id = first_id + n
            people.append(
                {
                    "id": reg_id,
                    "event_id": event_id,
                    "first_name": "Jan",
                    "last_name": f"Istniejący{n}",
                    "email": f"existing{n}.{event_id}@example.com",
                    "email_normalized": f"existing{n}.{event_id}@example.com",
                    "phone": "",
                    "organisation": "Urząd Gminy",
                    "position": "",
                    "city": "Sandomierz",
                    "category": ParticipantCategory.CITY_OFFICIAL,
                    "language": "pl",
                    "consent_version": "2026-11",
                    "consent_at": now,
                    "consent_source": "form",
                    "has_marketing_consent": False,
                    "status": RegistrationStatus.ACTIVE,
                    "manage_token_hash": hashlib.sha256(f"bench-{event_id}-{n}".encode()).hexdigest(),
                    "checkin_code": f"B{n:07d}",
                    "search_text": f"jan istniejacy{n} urzad gminy sandomierz",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            chosen = [slots[(n + k * 7) % SLOTS][n % len(slots[0])] for k in range(CHOICES)]
            if race is not None and n < race_prefill:
                chosen.append(race[0])
            for session_id in chosen:
                status, group_id = BookingStatus.WAITLISTED, None
                session_groups = groups[session_id]
                free = [(cap - taken_group.get(g, 0), -g) for g, cap in session_groups if taken_group.get(g, 0) < cap]
                if free:
                    group_id = -max(free)[1]
                    taken_group[group_id] = taken_group.get(group_id, 0) + 1
                    taken_session[session_id] = taken_session.get(session_id, 0) + 1
                    status = BookingStatus.CONFIRMED
                places.append(
                    {
                        "registration_id": reg_id,
                        "session_id": session_id,
                        "group_id": group_id,
                        "status": status,
                        "is_approved": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        connection.execute(registration.insert(), people)
        connection.execute(booking.insert(), places)
    if connection.dialect.name == "postgresql":
        # The ids were given explicitly: move the sequence past them for the app's inserts.
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('registration', 'id'), (SELECT max(id) FROM registration))")
        )
    for session_id, taken in taken_session.items():
        connection.execute(update(session_table).where(session_table.c.id == session_id).values(taken=taken))
    for group_id, taken in taken_group.items():
        connection.execute(update(group_table).where(group_table.c.id == group_id).values(taken=taken))


RACE_PLACES = 10  # set from --race-places before generate()


# --- servers ----------------------------------------------------------------------------------------


@contextmanager
def database(url: str | None, workdir: Path) -> Iterator[str]:
    """Yield a fresh database URL: a SQLite file in ``workdir``, or a new PostgreSQL database, dropped after."""
    if not url:
        yield f"sqlite:///{workdir / 'bench.sqlite'}"
        return
    if not url.startswith("postgresql"):
        raise SystemExit("--db must be a PostgreSQL URL (postgresql+psycopg://user@host/db); the default is SQLite")
    host = url.split("@")[-1].split("/")[0].split(":")[0]
    if host not in {"127.0.0.1", "localhost", "::1", "[::1]"}:
        raise SystemExit("--db must point to a PostgreSQL server on the loopback interface")
    name = f"zapisy_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- clients -----------------------------------------------------------------------------------------


async def registration_window(
    url: str,
    slug: str,
    choose: Callable[[int], list[int]],
    clients: int,
    seconds: float,
    numbers: Iterator[int],
    stats: Stats,
    name: str,
) -> Window:
    """Register from ``clients`` concurrent participants for ``seconds``; count the success pages."""
    loop = asyncio.get_running_loop()
    completed = 0
    attempts = 0

    async def participant_loop(client: Any, deadline: float) -> None:
        nonlocal completed, attempts
        while loop.time() < deadline and attempts < MAX_ATTEMPTS_PER_WINDOW:
            attempts += 1
            n = next(numbers)
            outcome = await register(
                Participant(client, url, stats), slug, registration_form(f"bench{n}@example.com", choose(n), n)
            )
            if outcome.ok:
                completed += 1
            else:
                stats.errors.append(outcome.error)

    async with make_client(clients) as client:
        cpu, started = time.process_time(), time.perf_counter()
        deadline = loop.time() + seconds
        await asyncio.wait_for(
            asyncio.gather(*(participant_loop(client, deadline) for _ in range(clients))), seconds + 120
        )
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return Window(name, completed, elapsed, cpu / elapsed, stats)


@dataclass
class OpenLoopRun:
    """One server at one offered rate: what the client measured."""

    name: str
    offered: float  # registrations per second offered (Poisson arrivals)
    seconds: float
    arrivals: int
    completed: int
    late: int  # arrivals the client started more than LATE_START after their time (the client fell behind)
    stats: Stats
    elapsed: float = 0.0  # from the first arrival's time to the last flow's end

    @property
    def achieved(self) -> float:
        """Registrations per second that ended on a success page, over the window or until the last one ended."""
        span = max(self.seconds, self.elapsed)
        return self.completed / span if span else 0.0

    @property
    def failed(self) -> int:
        """Arrivals that did not end on a success page."""
        return self.arrivals - self.completed

    def p99_ms(self, kind: str) -> float:
        """The client's p99 of one step, in milliseconds."""
        return percentile(self.stats.latencies.get(kind, []), 0.99) * 1000

    @property
    def worst_p99_ms(self) -> float:
        """The largest p99 of the three steps."""
        return max(self.p99_ms(kind) for kind in STEPS)

    def figures(self) -> dict[str, Any]:
        """The run as JSON."""
        return {
            "offered": self.offered,
            "achieved": round(self.achieved, 1),
            "arrivals": self.arrivals,
            "failed": self.failed,
            "late": self.late,
            "latency_ms": {
                kind: {
                    q: round(percentile(self.stats.latencies.get(kind, []), f) * 1000, 1)
                    for q, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
                }
                for kind in STEPS
            },
        }


STEPS = ("form", "submit", "success")
LATE_START = 0.010  # seconds behind its Poisson time at which an arrival counts as late
P99_TARGET_MS = 100.0
DRAIN_SECONDS = 60


async def open_loop(
    url: str,
    slug: str,
    choose: Callable[[int], list[int]],
    rate: float,
    seconds: float,
    numbers: Iterator[int],
    name: str,
    seed: int,
) -> OpenLoopRun:
    """Offer registrations at ``rate`` per second for ``seconds``, whatever the server's speed (an open loop).

    Arrivals are a Poisson process (exponential gaps, seeded: both servers get the
    same schedule); each arrival is a new participant with its own cookies doing
    the three requests (form, POST, success page) as soon as the previous one
    answered. Unlike the closed loop of ``registration_window`` a slow answer
    does not hold the next arrival back, so the latencies are what a participant
    arriving at that rate would see, queueing included.
    """
    loop = asyncio.get_running_loop()
    gaps = random.Random(seed)
    stats = Stats()
    flows: list[asyncio.Task[Any]] = []
    late = 0
    # Enough connections that the client never queues an arrival behind another one's.
    async with make_client(max(64, int(rate * 4))) as client:
        start = loop.time()
        due = start
        while True:
            due += gaps.expovariate(rate)
            if due - start >= seconds:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > LATE_START:
                late += 1
            n = next(numbers)
            flows.append(
                asyncio.create_task(
                    register(
                        Participant(client, url, stats), slug, registration_form(f"open{n}@example.com", choose(n), n)
                    )
                )
            )
        # Past capacity the queue grows without bound: flows not done DRAIN_SECONDS after the last
        # arrival are given up and counted as failed (the run stays bounded in time).
        done, pending = await asyncio.wait(flows, timeout=DRAIN_SECONDS) if flows else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = loop.time() - start
    unfinished = Outcome(ok=False, error=f"unfinished {DRAIN_SECONDS} s after the last arrival")
    outcomes = [task.result() for task in flows if task in done] + [unfinished] * len(pending)
    stats.errors += [o.error for o in outcomes if not o.ok]
    completed = sum(1 for o in outcomes if o.ok)
    return OpenLoopRun(name, rate, seconds, len(outcomes), completed, late, stats, elapsed)


def open_loop_line(run: OpenLoopRun) -> str:
    """One line: offered and achieved rates, each step's p50 / p95 / p99, late and failed flows."""
    steps = "   ".join(
        f"{kind} {percentile(run.stats.latencies.get(kind, []), 0.5) * 1000:.0f}/"
        f"{percentile(run.stats.latencies.get(kind, []), 0.95) * 1000:.0f}/{run.p99_ms(kind):.0f}"
        for kind in STEPS
    )
    return (
        f"{run.name:<8} offered {run.offered:6.1f}/s  achieved {run.achieved:6.1f}/s   "
        f"p50/p95/p99 ms: {steps}   late {run.late}  failed {run.failed}"
    )


def find_knee(
    url: str,
    slug: str,
    choose: Callable[[int], list[int]],
    rates: list[float],
    seconds: float,
    numbers: Iterator[int],
    name: str,
) -> tuple[float | None, list[OpenLoopRun]]:
    """Raise the offered rate through ``rates`` until a step's p99 reaches 100 ms (or flows fail); return that rate.

    None when every rate stayed under (the knee is above the last one).
    """
    runs = []
    for step, rate in enumerate(rates):
        run = asyncio.run(open_loop(url, slug, choose, rate, seconds, numbers, name, seed=1000 + step))
        runs.append(run)
        print("    " + open_loop_line(run), flush=True)
        if run.worst_p99_ms >= P99_TARGET_MS or run.failed:
            return rate, runs
    return None, runs


async def race(url: str, slug: str, session_id: int, clients: int, numbers: Iterator[int]) -> Stats:
    """Let ``clients`` participants register at once for the race session."""
    stats = Stats()
    async with make_client(clients) as client:
        attempts = [
            register(Participant(client, url, stats), slug, registration_form(f"race{n}@example.com", [session_id], n))
            for n in itertools.islice(numbers, clients)
        ]
        outcomes = await asyncio.wait_for(asyncio.gather(*attempts), 180)
    stats.errors += [o.error for o in outcomes if not o.ok]
    return stats


async def page_window(url: str, path: str, clients: int, seconds: float) -> tuple[int, float, Stats]:
    """GET one page from ``clients`` concurrent clients for ``seconds``; return 200s, elapsed, stats."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    ok = 0

    async def reader(client: Any, deadline: float) -> None:
        nonlocal ok
        visitor = Participant(client, url, stats)
        count = 0
        while loop.time() < deadline and count < MAX_ATTEMPTS_PER_WINDOW:
            count += 1
            response = await visitor.request("event page", "GET", path)
            ok += response.status_code == 200

    async with make_client(clients) as client:
        started = time.perf_counter()
        deadline = loop.time() + seconds
        await asyncio.wait_for(asyncio.gather(*(reader(client, deadline) for _ in range(clients))), seconds + 120)
        elapsed = time.perf_counter() - started
    return ok, elapsed, stats


# --- the run -----------------------------------------------------------------------------------------


def latency_line(stats: Stats, kind: str) -> str:
    """Format p50 / p95 / p99 of one request kind in milliseconds, and the server's own p50 / p99."""
    values = stats.latencies.get(kind, [])
    line = (
        f"{kind:<11} n={len(values):>6}  p50 {percentile(values, 0.50) * 1000:7.1f} ms  "
        f"p95 {percentile(values, 0.95) * 1000:7.1f} ms  p99 {percentile(values, 0.99) * 1000:7.1f} ms"
    )
    server = stats.server_times.get(kind, [])
    if server:
        line += (
            f"   (server's own time p50 {percentile(server, 0.50) * 1000:5.1f} "
            f"p99 {percentile(server, 0.99) * 1000:5.1f} ms)"
        )
    return line


def count_race(url: str, session_id: int, group_id: int) -> dict[str, int]:
    """Read the race session's outcome from the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            by_status = dict(
                connection.execute(
                    text("SELECT status, count(*) FROM booking WHERE session_id = :s GROUP BY status"),
                    {"s": session_id},
                ).all()
            )
            session_taken = connection.execute(
                text("SELECT taken FROM session WHERE id = :s"), {"s": session_id}
            ).scalar_one()
            group_taken = connection.execute(
                text("SELECT taken FROM session_group WHERE id = :g"), {"g": group_id}
            ).scalar_one()
    finally:
        engine.dispose()
    confirmed = by_status.get("confirmed", 0)
    return {
        "confirmed": confirmed,
        "waitlisted": by_status.get("waitlisted", 0),
        "overbooked": max(
            0, confirmed - RACE_GROUP_CAPACITY, session_taken - RACE_GROUP_CAPACITY, group_taken - RACE_GROUP_CAPACITY
        ),
        "counters_match": int(session_taken == group_taken == confirmed),
    }


def open_loop_phase(
    args: argparse.Namespace,
    zapisy_url: str,
    ceiling_url: str,
    slug: str,
    choose: Callable[[int], list[int]],
    numbers: Iterator[int],
) -> dict[str, Any]:
    """Offer ``--open-rate`` registrations/s to Zapisy and the ceiling in alternating windows; optionally find the knees."""
    figures: dict[str, Any] = {"rate": args.open_rate, "seconds": args.open_seconds, "zapisy_failed": 0}
    if args.open_pairs:
        print(
            f"\nOpen loop: {args.open_rate:g} registrations/s offered (Poisson arrivals, one cookie jar each), "
            f"{args.open_pairs} pairs of {args.open_seconds:g} s windows; per step p50/p95/p99 as the client sees them"
        )
        runs: dict[str, list[OpenLoopRun]] = {"zapisy": [], "ceiling": []}
        for pair in range(args.open_pairs):
            for name, url in (("zapisy", zapisy_url), ("ceiling", ceiling_url)):
                run = asyncio.run(
                    open_loop(url, slug, choose, args.open_rate, args.open_seconds, numbers, name, seed=pair)
                )
                runs[name].append(run)
                print("  " + open_loop_line(run), flush=True)
        for name, server_runs in runs.items():
            merged = Stats()
            for run in server_runs:
                for kind, values in run.stats.latencies.items():
                    merged.latencies[kind] += values
            total = OpenLoopRun(
                name,
                args.open_rate,
                sum(r.seconds for r in server_runs),
                sum(r.arrivals for r in server_runs),
                sum(r.completed for r in server_runs),
                sum(r.late for r in server_runs),
                merged,
                sum(max(r.seconds, r.elapsed) for r in server_runs),
            )
            print("  all     " + open_loop_line(total))
            figures[name] = total.figures()
        figures["zapisy_failed"] = figures["zapisy"]["failed"]
        figures["zapisy_worst_p99_ms"] = max(figures["zapisy"]["latency_ms"][kind]["p99"] for kind in STEPS)
        if any(r.late for runs_ in runs.values() for r in runs_):
            print("  (late arrivals: the client itself fell behind its schedule; the machine is short of CPU)")
    if args.knee:
        print(
            f"\nKnee: offered rate raised through {args.knee_rates} ({args.knee_seconds:g} s each) "
            "until a step's p99 reaches 100 ms or a flow fails"
        )
        for name, url in (("zapisy", zapisy_url), ("ceiling", ceiling_url)):
            knee, knee_runs = find_knee(url, slug, choose, args.knee_rates, args.knee_seconds, numbers, name)
            below = [r.offered for r in knee_runs if r.worst_p99_ms < P99_TARGET_MS and not r.failed]
            figures[f"{name}_knee"] = {
                "crosses_at": knee,
                "last_under": max(below) if below else None,
                "runs": [r.figures() for r in knee_runs],
            }
        for name in ("zapisy", "ceiling"):
            knee_figures = figures[f"{name}_knee"]
            crossed = knee_figures["crosses_at"]
            print(
                f"  {name:<8} p99 under 100 ms up to {knee_figures['last_under'] or '-'}/s offered; "
                + (f"crosses at {crossed:g}/s" if crossed else "never crossed in the rates tried")
            )
    return figures


def print_beside(runs: list[dict[str, Any]]) -> None:
    """Print the main figures of a SQLite run and a PostgreSQL run side by side."""

    def row(name: str, *values: object) -> None:
        # A median of an even number of rates is a mean, which floats print with 15 digits.
        shown = (
            f"{v:.3g}" if isinstance(v, float) and v < 1 else f"{v:.1f}" if isinstance(v, float) else str(v)
            for v in values
        )
        print(f"  {name:<38}" + "".join(f"{v:>26}" for v in shown))

    def latency(figures: dict[str, Any], kind: str) -> str:
        values = figures.get("latency_ms", {}).get(kind, {})
        return f"{values.get('p50', '-')} / {values.get('p99', '-')} ms"

    print("\nSide by side")
    row("", "SQLite (WAL)", "PostgreSQL")
    row("headline Zapisy ÷ ceiling", *(f.get("headline_ratio", "-") for f in runs))
    row("Zapisy registrations/s", *(f.get("zapisy_rate", "-") for f in runs))
    row("ceiling registrations/s", *(f.get("ceiling_rate", "-") for f in runs))
    for kind in ("form", "submit", "success"):
        row(f"{kind} p50 / p99", *(latency(f, kind) for f in runs))
    row(
        "server's own p99 form/submit/success",
        *(
            " / ".join(
                str(f.get("server_time_ms", {}).get(kind, {}).get("p99", "-")) for kind in ("form", "submit", "success")
            )
            + " ms"
            for f in runs
        ),
    )
    for name in ("zapisy", "ceiling"):
        for kind in ("form", "submit", "success"):
            row(
                f"open loop {name} {kind} p50/p99",
                *(
                    "{p50} / {p99} ms".format(**f["open_loop"][name]["latency_ms"][kind])
                    if name in f.get("open_loop", {})
                    else "-"
                    for f in runs
                ),
            )
        row(
            f"open loop {name} achieved, failed",
            *(
                f"{f['open_loop'][name]['achieved']}/s, {f['open_loop'][name]['failed']}"
                if name in f.get("open_loop", {})
                else "-"
                for f in runs
            ),
        )
        row(
            f"knee {name} (last under, crosses)",
            *(
                f"{f['open_loop'][name + '_knee']['last_under']}, {f['open_loop'][name + '_knee']['crosses_at']}"
                if name + "_knee" in f.get("open_loop", {})
                else "-"
                for f in runs
            ),
        )
    row("errors", *(f.get("zapisy_errors", "-") for f in runs))
    row("race overbooked", *(f.get("race", {}).get("overbooked", "-") for f in runs))
    row("event page req/s", *(f.get("event_page", {}).get("rate", "-") for f in runs))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 when a correctness check fails."""
    global RACE_PLACES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--db", default=None, help="PostgreSQL URL on loopback (default: SQLite in WAL mode)")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--existing", type=int, default=10_000, help="registrations already in the event")
    parser.add_argument("--pairs", type=int, default=4, help="Zapisy/ceiling window pairs")
    parser.add_argument("--window", type=float, default=10, help="seconds per window")
    parser.add_argument("--race-places", type=int, default=10, help="free places left in the race group")
    parser.add_argument("--page-registrations", type=int, default=50_000, help="registrations of the event-page event")
    parser.add_argument("--page-seconds", type=float, default=10)
    parser.add_argument(
        "--open-rate", type=float, default=50, help="open loop: registrations per second offered (Poisson arrivals)"
    )
    parser.add_argument("--open-seconds", type=float, default=15, help="open loop: seconds per window")
    parser.add_argument("--open-pairs", type=int, default=2, help="open loop: Zapisy/ceiling window pairs (0: none)")
    parser.add_argument(
        "--knee",
        action="store_true",
        help="also raise the offered rate (--knee-rates) until a step's p99 reaches 100 ms, for Zapisy and the ceiling",
    )
    parser.add_argument("--knee-rates", type=float, nargs="+", default=[25, 50, 75, 100, 125, 150, 175, 200, 250, 300])
    parser.add_argument("--knee-seconds", type=float, default=10, help="seconds per offered rate of the knee search")
    parser.add_argument("--no-closed", action="store_true", help="skip the closed-loop windows (no headline ratio)")
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke run in about a minute")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, SQLite file)")
    parser.add_argument(
        "--beside",
        metavar="URL",
        default=None,
        help="run on SQLite, then on this PostgreSQL URL, and print the figures side by side",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.existing = min(args.existing, 1000)
        args.pairs = min(args.pairs, 2)
        args.window = min(args.window, 4)
        args.page_registrations = min(args.page_registrations, 5000)
        args.page_seconds = min(args.page_seconds, 3)
        args.open_pairs = min(args.open_pairs, 1)
        args.open_seconds = min(args.open_seconds, 5)
    RACE_PLACES = max(1, min(args.race_places, RACE_GROUP_CAPACITY))

    if args.beside:
        if args.db:
            raise SystemExit("--beside runs SQLite and then the PostgreSQL it names: give it instead of --db")
        runs = []
        for db_url in (None, args.beside):
            print(f"\n=== {'PostgreSQL' if db_url else 'SQLite (WAL)'} ===", flush=True)
            runs.append(_run(args, db_url, None))
        print_beside([figures for figures, _failed in runs])
        if args.json:
            args.json.write_text(json.dumps({"sqlite": runs[0][0], "postgresql": runs[1][0]}, indent=2) + "\n")
        return 1 if any(failed for _figures, failed in runs) else 0
    _figures, failed = _run(args, args.db, args.json)
    return 1 if failed else 0


def _run(args: argparse.Namespace, db_url: str | None, json_path: Path | None) -> tuple[dict[str, Any], bool]:
    """Run every phase once on SQLite (``db_url`` None) or PostgreSQL; return the figures and whether a check failed."""
    workdir = Path(tempfile.mkdtemp(prefix="zapisy-bench-"))
    figures: dict[str, Any] = {
        "workers": args.workers,
        "clients": args.clients,
        "database": "postgresql" if db_url else "sqlite",
    }
    failed = False
    try:
        with ExitStack() as stack:
            url = stack.enter_context(database(db_url, workdir))
            print(
                f"Generating: {args.sessions} sessions, {args.existing} registrations; event page: "
                f"{args.sessions} sessions, {args.page_registrations} registrations ({figures['database']}) …",
                flush=True,
            )
            started = time.perf_counter()
            fixture = generate(url, args.sessions, args.existing, args.page_registrations)
            from bench.ceiling_app import create_schema

            create_schema(url, args.sessions)
            print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)

            zapisy = GunicornServer(
                production_env(url, "https://zapisy.example", OUTBOX_MAIL_DIR=str(workdir / "mail"), SERVER_TIMING="1"),
                log_path=workdir / "zapisy.log",
                workers=args.workers,
            )
            ceiling = GunicornServer(
                production_env(
                    url,
                    "https://zapisy.example",
                    CEILING_DATABASE_URL=url,
                    CEILING_SESSIONS=str(args.sessions),
                    SERVER_TIMING="1",
                ),
                log_path=workdir / "ceiling.log",
                workers=args.workers,
                wsgi_app="bench.ceiling_app:create_app()",
            )
            stack.enter_context(zapisy)
            stack.enter_context(ceiling)

            numbers = itertools.count()
            per_slot = len(fixture.slots[0])

            def choose(n: int) -> list[int]:
                return [fixture.slots[(n + k * 7) % SLOTS][(n // SLOTS) % per_slot] for k in range(CHOICES)]

            zapisy_stats, ceiling_stats = Stats(), Stats()
            # Warm both up (imports, caches, connections) outside the measured windows.
            asyncio.run(
                registration_window(zapisy.url, fixture.slug, choose, args.clients, 2, numbers, Stats(), "warm")
            )
            asyncio.run(
                registration_window(ceiling.url, fixture.slug, choose, args.clients, 2, numbers, Stats(), "warm")
            )

            headline = None
            zapisy_errors = 0
            if not args.no_closed:
                print(
                    f"\nRegistration flow: {args.workers} workers, {args.clients} clients, "
                    f"{args.pairs} pairs of {args.window:g} s windows (Zapisy, then ceiling)"
                )
                ratios = []
                pairs = []
                for pair in range(args.pairs):
                    a = asyncio.run(
                        registration_window(
                            zapisy.url, fixture.slug, choose, args.clients, args.window, numbers, zapisy_stats, "zapisy"
                        )
                    )
                    b = asyncio.run(
                        registration_window(
                            ceiling.url,
                            fixture.slug,
                            choose,
                            args.clients,
                            args.window,
                            numbers,
                            ceiling_stats,
                            "ceiling",
                        )
                    )
                    ratios.append(a.rate / b.rate if b.rate else 0.0)
                    pairs.append(
                        {
                            "zapisy": round(a.rate, 1),
                            "ceiling": round(b.rate, 1),
                            "ratio": round(ratios[-1], 3),
                            "client_cpu": [round(a.client_cpu, 2), round(b.client_cpu, 2)],
                        }
                    )
                    print(
                        f"  pair {pair + 1}: Zapisy {a.rate:7.1f} reg/s   ceiling {b.rate:7.1f} reg/s   "
                        f"ratio {ratios[-1]:.3f}   (client CPU {a.client_cpu:.0%} / {b.client_cpu:.0%} of a core)",
                        flush=True,
                    )
                headline = statistics.median(ratios)
                zapisy_errors = len(zapisy_stats.errors) + zapisy_stats.server_errors
                print(f"\nHEADLINE  Zapisy ÷ ceiling registrations/s, median of {len(ratios)} pairs: {headline:.3f}")
                print(
                    f"Zapisy   {statistics.median(p['zapisy'] for p in pairs):7.1f} reg/s (median)   "
                    f"errors {zapisy_errors}   statuses {dict(sorted(zapisy_stats.statuses.items()))}"
                )
                for kind in ("form", "submit", "success"):
                    print("  " + latency_line(zapisy_stats, kind))
                print(
                    f"ceiling  {statistics.median(p['ceiling'] for p in pairs):7.1f} reg/s (median)   "
                    f"errors {len(ceiling_stats.errors) + ceiling_stats.server_errors}"
                )
                for kind in ("form", "submit", "success"):
                    print("  " + latency_line(ceiling_stats, kind))
                if zapisy_stats.errors:
                    print("  first errors:", zapisy_stats.errors[:5])
                all_zapisy = [v for values in zapisy_stats.latencies.values() for v in values]
                figures.update(
                    headline_ratio=round(headline, 3),
                    pairs=pairs,
                    zapisy_rate=statistics.median(p["zapisy"] for p in pairs),
                    ceiling_rate=statistics.median(p["ceiling"] for p in pairs),
                    zapisy_errors=zapisy_errors,
                    zapisy_p99_ms=round(percentile(all_zapisy, 0.99) * 1000, 1),
                    latency_ms={
                        kind: {
                            q: round(percentile(zapisy_stats.latencies[kind], f) * 1000, 1)
                            for q, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
                        }
                        for kind in ("form", "submit", "success")
                    },
                    server_time_ms={
                        kind: {
                            q: round(percentile(zapisy_stats.server_times[kind], f) * 1000, 1)
                            for q, f in (("p50", 0.5), ("p99", 0.99))
                        }
                        for kind in ("form", "submit", "success")
                        if zapisy_stats.server_times[kind]
                    },
                )

            figures["open_loop"] = open_loop_phase(args, zapisy.url, ceiling.url, fixture.slug, choose, numbers)
            zapisy_errors += figures["open_loop"]["zapisy_failed"]

            race_stats = asyncio.run(race(zapisy.url, fixture.slug, fixture.race_session_id, args.clients, numbers))
            outcome = count_race(url, fixture.race_session_id, fixture.race_group_id)
            prefilled = RACE_GROUP_CAPACITY - RACE_PLACES
            print(
                f"\nRace: {args.clients} clients for the last {RACE_PLACES} places of a group of {RACE_GROUP_CAPACITY}: "
                f"confirmed {outcome['confirmed'] - prefilled} new (+{prefilled} before)   "
                f"waitlisted {outcome['waitlisted']}   overbooked {outcome['overbooked']}   "
                f"counters match: {'yes' if outcome['counters_match'] else 'NO'}   "
                f"errors {len(race_stats.errors) + race_stats.server_errors}"
            )
            figures["race"] = {
                **outcome,
                "new_confirmed": outcome["confirmed"] - prefilled,
                "errors": len(race_stats.errors) + race_stats.server_errors,
            }

            path = f"/events/{fixture.page_slug}/"
            page_window_result = asyncio.run(page_window(zapisy.url, path, args.clients, 1))  # warm-up
            ok, elapsed, page_stats = asyncio.run(page_window(zapisy.url, path, args.clients, args.page_seconds))
            page_rate = ok / elapsed
            print(
                f"\nEvent page ({args.sessions} sessions, {args.page_registrations} registrations): "
                f"{page_rate:.0f} req/s   non-200: {sum(page_stats.statuses.values()) - ok}"
            )
            print("  " + latency_line(page_stats, "event page"))
            figures["event_page"] = {
                "rate": round(page_rate, 1),
                "p99_ms": round(percentile(page_stats.latencies["event page"], 0.99) * 1000, 1),
                "non_200": sum(page_stats.statuses.values()) - ok,
            }
            del page_window_result

            failed = bool(
                zapisy_errors
                or outcome["overbooked"]
                or not outcome["counters_match"]
                or outcome["confirmed"] != RACE_GROUP_CAPACITY
                or figures["race"]["errors"]
            )
            goal = 0.45 if db_url else 0.5
            open_p99 = figures["open_loop"].get("zapisy_worst_p99_ms")
            targets = [
                ("headline ratio >= 0.5 (SQLite) / 0.45 (PostgreSQL)", headline is not None and headline >= goal),
                (
                    f"open loop at {args.open_rate:g}/s: each step's p99 < 100 ms",
                    open_p99 is not None and open_p99 < 100,
                ),
                ("0 errors", zapisy_errors == 0),
                ("0 overbooked", outcome["overbooked"] == 0),
                ("event page >= 500 req/s", page_rate >= 500),
            ]
            print(
                f"\nTargets (set for 2 workers, 32 clients; this run: {figures['database']}, "
                f"{args.workers} workers, {args.clients} clients): "
                + "   ".join(f"{name}: {'met' if met else 'MISSED'}" for name, met in targets)
            )
            figures["targets"] = {name: met for name, met in targets}
            if failed:
                print(f"\nCORRECTNESS CHECK FAILED; logs in {workdir}")
                print(zapisy.log_tail(2000))
    finally:
        if json_path:
            json_path.write_text(json.dumps(figures, indent=2) + "\n")
        if args.keep or failed:
            print(f"Working directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return figures, failed


if __name__ == "__main__":
    sys.exit(main())
