"""Proof under load, on a real server (issue 7).

Gunicorn with two workers serves the app in production configuration, on a
fresh SQLite file and on a fresh PostgreSQL database. Hundreds of participants
register at once over HTTP for a workshop with one group of 10 places; then
one participant double-clicks "Register" twenty times.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.events.models import BookingMode, Event, EventStatus, Group, Series, Session, SessionKind
from app.extensions import db
from config import TestingConfig
from tests.conftest import POSTGRES_URL
from tests.loadclient import (
    GunicornServer,
    Participant,
    Stats,
    flask_db_upgrade,
    make_client,
    production_env,
    register,
    registration_form,
)

PARTICIPANTS = 200
PLACES = 10
DOUBLE_CLICKS = 20
RUN_TIMEOUT = 90  # seconds for one round of requests; the test fails rather than hangs


@dataclass
class LoadTarget:
    """The running server and the event it serves."""

    server: GunicornServer
    database_url: str
    slug: str
    workshop_id: int  # one group of PLACES places
    group_id: int
    plenary_id: int  # unlimited, at another time: the double-click round books it


def _create_event(database_url: str) -> tuple[str, int, int, int]:
    """Create a published event open for registration; return its slug and ids."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    starts = (now + timedelta(days=30)).replace(hour=8, minute=0, second=0)
    with app.app_context():
        event = Event(
            series=Series(slug="load", name_pl="Seria", name_en="Series"),
            slug="load-test",
            title_pl="Test obciążenia",
            title_en="Load test",
            city="Łódź",
            starts_at=starts,
            ends_at=starts + timedelta(hours=10),
            registration_opens_at=now - timedelta(days=1),
            registration_closes_at=starts - timedelta(days=1),
            status=EventStatus.PUBLISHED,
        )
        workshop = Session(
            event=event,
            kind=SessionKind.WORKSHOP,
            title_pl="Warsztat",
            title_en="Workshop",
            starts_at=starts + timedelta(hours=1),
            ends_at=starts + timedelta(hours=2),
            booking_mode=BookingMode.INSTANT,
            capacity=PLACES,
            groups=[Group(name="Grupa 1", capacity=PLACES)],
        )
        plenary = Session(
            event=event,
            kind=SessionKind.PLENARY,
            title_pl="Plenarna",
            title_en="Plenary",
            starts_at=starts + timedelta(hours=3),
            ends_at=starts + timedelta(hours=4),
            booking_mode=BookingMode.INSTANT,
            capacity=None,
        )
        db.session.add_all([event, workshop, plenary])
        db.session.commit()
        ids = (event.slug, workshop.id, workshop.groups[0].id, plenary.id)
        db.session.remove()
        db.engine.dispose()
    return ids


@pytest.fixture(scope="module")
def load_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of a fresh, empty database of ``backend`` (PostgreSQL: created and dropped here)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('load') / 'load.sqlite'}"
        return
    name = f"zapisy_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def load_target(load_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadTarget]:
    """Migrate the database, create the event and serve the app under gunicorn (2 workers)."""
    logs = tmp_path_factory.mktemp("gunicorn")
    server = GunicornServer(
        production_env(load_database, "http://zapisy.test", OUTBOX_MAIL_DIR=str(logs / "mail")),
        log_path=logs / "error.log",
        workers=2,
    )
    flask_db_upgrade(server.env)
    slug, workshop_id, group_id, plenary_id = _create_event(load_database)
    server.start()
    try:
        yield LoadTarget(server, load_database, slug, workshop_id, group_id, plenary_id)
    finally:
        server.stop()


def _query(database_url: str, sql: str, **params: object) -> list[tuple]:
    """Run one read-only SQL query on the database under load; return its rows."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


async def _register_many(target: LoadTarget, count: int, stats: Stats) -> list:
    """Register ``count`` participants at once, each through its own form and cookie."""
    async with make_client(count) as client:
        attempts = [
            register(
                Participant(client, target.server.url, stats),
                target.slug,
                registration_form(f"load{n}@example.com", [target.workshop_id], n),
            )
            for n in range(count)
        ]
        return await asyncio.wait_for(asyncio.gather(*attempts), RUN_TIMEOUT)


def test_concurrent_registrations_fill_one_group_exactly(load_target: LoadTarget) -> None:
    stats = Stats()
    outcomes = asyncio.run(_register_many(load_target, PARTICIPANTS, stats))

    failures = Counter(o.error for o in outcomes if not o.ok)
    assert not failures, f"{failures}; statuses {dict(stats.statuses)}\n{load_target.server.log_tail()}"
    assert stats.server_errors == 0
    assert sum(o.confirmed for o in outcomes) == PLACES
    # Each participant was shown its own place in the queue: 1..N, none twice, none skipped.
    positions = sorted(o.position for o in outcomes if not o.confirmed)
    assert positions == list(range(1, PARTICIPANTS - PLACES + 1))

    url = load_target.database_url
    by_status = dict(
        _query(
            url, "SELECT status, count(*) FROM booking WHERE session_id = :s GROUP BY status", s=load_target.workshop_id
        )
    )
    assert by_status == {"confirmed": PLACES, "waitlisted": PARTICIPANTS - PLACES}
    [(session_taken,)] = _query(url, "SELECT taken FROM session WHERE id = :s", s=load_target.workshop_id)
    [(group_taken,)] = _query(url, "SELECT taken FROM session_group WHERE id = :g", g=load_target.group_id)
    assert session_taken == group_taken == PLACES
    [(in_group,)] = _query(
        url, "SELECT count(*) FROM booking WHERE status = 'confirmed' AND group_id = :g", g=load_target.group_id
    )
    assert in_group == PLACES

    engine = create_engine(url)
    tables = inspect(engine).get_table_names()
    engine.dispose()
    assert "outbox_message" in tables
    per_registration = _query(
        url,
        "SELECT r.id, count(m.id) FROM registration r LEFT JOIN outbox_message m "
        "ON m.registration_id = r.id AND m.kind = 'registration_received' GROUP BY r.id",
    )
    assert len(per_registration) == PARTICIPANTS
    assert {count for _id, count in per_registration} == {1}
    _assert_counters_agree(load_target)


def test_double_click_registers_once_and_every_click_lands_on_its_success_page(load_target: LoadTarget) -> None:
    async def double_click() -> tuple[Participant, list, list]:
        async with make_client(DOUBLE_CLICKS) as client:
            person = Participant(client, load_target.server.url)
            path = f"/events/{load_target.slug}/register"
            await person.load_form(path)
            data = registration_form("Double.Click@example.com", [load_target.plenary_id])
            # The same cookie and CSRF token twenty times at once, as a nervous double click sends them.
            answers = await asyncio.wait_for(
                asyncio.gather(*(person.submit(path, data) for _ in range(DOUBLE_CLICKS))), RUN_TIMEOUT
            )
            # The browser follows one of the answers, whichever came last: each must lead to the page.
            followed = [(person.fork(a), a) for a in answers if a.status_code == 303]
            pages = [await browser.follow(answer) for browser, answer in followed]
            # The page is shown once: the same browser asking again is sent to the event page.
            again = await followed[0][0].follow(followed[0][1])
            # Another browser with the same address is told it is registered already.
            other = Participant(client, load_target.server.url)
            await other.load_form(path)
            refused = await other.submit(path, data)
            return person, answers, pages + [again, refused]

    person, answers, pages = asyncio.run(double_click())
    *successes, again, refused = pages

    statuses = Counter(a.status_code for a in answers)
    assert statuses == {303: DOUBLE_CLICKS}, statuses
    assert person.stats.server_errors == 0, statuses
    links = {re.search(r'href="https?://[^/"]+(/r/[A-Za-z0-9_-]+)"', page.text).group(1) for page in successes}
    assert len(successes) == DOUBLE_CLICKS and len(links) == 1  # one registration's page, twenty times
    assert again.status_code == 302 and "/r/" not in again.text
    assert refused.status_code == 422 and "/r/" not in refused.text

    url = load_target.database_url
    rows = _query(url, "SELECT id FROM registration WHERE email_normalized = 'double.click@example.com'")
    assert len(rows) == 1
    [(bookings,)] = _query(url, "SELECT count(*) FROM booking WHERE registration_id = :r", r=rows[0][0])
    assert bookings == 1
    [(emails,)] = _query(url, "SELECT count(*) FROM outbox_message WHERE registration_id = :r", r=rows[0][0])
    assert emails == 1


CANCEL_PLACES = 5


def _add_workshop(database_url: str, places: int) -> int:
    """Add a workshop of ``places`` places at its own time to the load event; return its id."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        event = db.session.execute(db.select(Event).where(Event.slug == "load-test")).scalar_one()
        starts = event.starts_at + timedelta(hours=5)
        workshop = Session(
            event=event,
            kind=SessionKind.WORKSHOP,
            title_pl="Warsztat B",
            title_en="Workshop B",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            booking_mode=BookingMode.INSTANT,
            capacity=places,
        )
        db.session.add(workshop)
        db.session.commit()
        workshop_id = workshop.id
        db.session.remove()
        db.engine.dispose()
    return workshop_id


def test_double_clicks_on_cancel_free_each_place_once(load_target: LoadTarget) -> None:
    # Five people hold the five places of a workshop, five more wait; each holder double-clicks
    # "cancel this place": the five waiting get the places, nobody else, one email per change.
    workshop_id = _add_workshop(load_target.database_url, CANCEL_PLACES)
    base = load_target.server.url

    async def scenario() -> list[httpx.Response]:
        async with make_client(4 * CANCEL_PLACES) as client:
            people = [Participant(client, base) for _ in range(2 * CANCEL_PLACES)]
            links = []
            form = f"/events/{load_target.slug}/register"
            for n, person in enumerate(people):  # one after the other: the first five get the places
                await person.load_form(form)
                answer = await person.submit(form, registration_form(f"cancel{n}@example.com", [workshop_id], n))
                success = await person.follow(answer)
                links.append(re.search(r'href="https?://[^/"]+(/r/[A-Za-z0-9_-]+)"', success.text).group(1))
            holders = list(zip(people[:CANCEL_PLACES], links[:CANCEL_PLACES], strict=True))
            paths = []
            for person, manage in holders:
                page = await person.request("manage", "GET", manage)
                booking_id = re.search(rf"{re.escape(manage)}/bookings/(\d+)/cancel", page.text).group(1)
                paths.append(f"{manage}/bookings/{booking_id}/cancel")
                await person.load_form(paths[-1])
            clicks = [
                person.submit(path, {})
                for (person, _m), path in zip(holders, paths, strict=True)
                for _click in range(2)
            ]
            return await asyncio.wait_for(asyncio.gather(*clicks), RUN_TIMEOUT)

    answers = asyncio.run(scenario())
    assert [a.status_code for a in answers] == [303] * (2 * CANCEL_PLACES)

    url = load_target.database_url
    [(taken,)] = _query(url, "SELECT taken FROM session WHERE id = :s", s=workshop_id)
    holders = _query(
        url,
        "SELECT r.email FROM booking b JOIN registration r ON r.id = b.registration_id "
        "WHERE b.session_id = :s AND b.status = 'confirmed' ORDER BY r.email",
        s=workshop_id,
    )
    assert taken == len(holders) == CANCEL_PLACES
    assert [email for (email,) in holders] == [
        f"cancel{n}@example.com" for n in range(CANCEL_PLACES, 2 * CANCEL_PLACES)
    ]
    emails = dict(
        _query(
            url,
            "SELECT r.email, count(m.id) FROM registration r LEFT JOIN outbox_message m "
            "ON m.registration_id = r.id AND m.kind IN ('booking_cancelled', 'promoted') "
            "WHERE r.email LIKE 'cancel%' GROUP BY r.email",
        )
    )
    assert set(emails.values()) == {1}, emails
    _assert_counters_agree(load_target)


def _assert_counters_agree(target: LoadTarget) -> None:
    """Run ``flask check counters`` against the database under load: every counter matches its bookings."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "check", "counters"],
        cwd=Path(__file__).resolve().parent.parent,
        env=target.server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agree with their bookings" in result.stdout
