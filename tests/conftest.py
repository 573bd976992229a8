"""Shared fixtures: an app on a fresh database per test, clients and factories.

Database-backed tests run on SQLite always, and again on PostgreSQL when
TEST_DATABASE_URL points to a server that answers (CI sets it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app import create_app
from app.events.models import BookingMode, Event, EventStatus, Group, Series, Session, SessionKind
from app.extensions import db as _db
from app.registration import services
from app.registration.counters import audit_counters
from config import TestingConfig

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
NOW = datetime.now(UTC).replace(microsecond=0)


def _postgres_skip_reason() -> str | None:
    """Return why PostgreSQL tests cannot run here, or None when they can."""
    if not POSTGRES_URL:
        return "PostgreSQL tests skipped: set TEST_DATABASE_URL=postgresql+psycopg://user@host/db to run them"
    if not POSTGRES_URL.startswith("postgresql"):
        return f"PostgreSQL tests skipped: TEST_DATABASE_URL is not a PostgreSQL URL ({POSTGRES_URL.split(':')[0]})"
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL tests skipped: cannot connect to TEST_DATABASE_URL ({type(error).__name__})"
    return None


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database backend of this run of the test."""
    if request.param == "postgresql":
        reason = _postgres_skip_reason()
        if reason:
            pytest.skip(reason)
    return request.param


@pytest.fixture(scope="session")
def postgres_schema_ready(backend: str) -> bool:
    """Create the schema on PostgreSQL once per test session."""
    if backend != "postgresql":
        return False
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=POSTGRES_URL)
    with app.app_context():
        # Start from an empty schema, whatever an earlier run (or branch) left there.
        with _db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        _db.create_all()
        _db.engine.dispose()
    return True


@pytest.fixture
def app(backend: str, postgres_schema_ready: bool, tmp_path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Return the app bound to a fresh, empty database.

    ``@pytest.mark.app_config(KEY=value)`` adds config overrides for one test.
    """
    marker = request.node.get_closest_marker("app_config")
    extra = dict(marker.kwargs) if marker else {}
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    else:
        url = POSTGRES_URL
    app = create_app(
        TestingConfig,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 10, "max_overflow": 70, "pool_timeout": 60},
        **extra,
    )

    def _fresh_locale() -> None:
        # The test's app context outlives each request (Flask reuses it), so
        # ``g`` is emptied per request, as a real request would find it
        # (Flask-Babel, Flask-Login and Flask-WTF cache per-request state there).
        from flask import g

        for name in list(vars(g)):
            delattr(g, name)

    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_locale)  # before every other hook

    with app.app_context():
        if backend == "sqlite":
            _db.create_all()
        else:
            tables = ", ".join(f'"{t.name}"' for t in _db.metadata.sorted_tables)
            with _db.engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):  # type: ignore[no-untyped-def]
    """Return the database extension, bound to the test app."""
    return _db


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """Return a test client (CSRF protection stays on)."""
    return app.test_client()


@pytest.fixture
def runner(app):  # type: ignore[no-untyped-def]
    """Return a CLI runner."""
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    """Extract the CSRF token from a rendered form."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def submit(client, url: str, data: dict, follow_redirects: bool = False):  # type: ignore[no-untyped-def]
    """GET a form page, then POST ``data`` with the page's CSRF token."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    return client.post(url, data={**data, "csrf_token": csrf_token(page.text)}, follow_redirects=follow_redirects)


@pytest.fixture
def make_event(db) -> Callable[..., Event]:  # type: ignore[no-untyped-def]
    """Return a factory of published events open for registration."""
    counter = {"n": 0}

    def factory(**overrides: Any) -> Event:
        counter["n"] += 1
        series = db.session.execute(db.select(Series)).scalars().first()
        if series is None:
            series = Series(slug="test-series", name_pl="Seria testowa", name_en="Test series")
            db.session.add(series)
        starts = NOW + timedelta(days=30)
        values: dict[str, Any] = {
            "series": series,
            "slug": f"event-{counter['n']}",
            "title_pl": f"Wydarzenie {counter['n']}",
            "title_en": f"Event {counter['n']}",
            "city": "Łódź",
            "starts_at": starts,
            "ends_at": starts + timedelta(days=1),
            "registration_opens_at": NOW - timedelta(days=1),
            "registration_closes_at": starts - timedelta(days=1),
            "status": EventStatus.PUBLISHED,
        }
        values.update(overrides)
        event = Event(**values)
        db.session.add(event)
        db.session.commit()
        return event

    return factory


@pytest.fixture
def make_session(db) -> Callable[..., Session]:  # type: ignore[no-untyped-def]
    """Return a factory of sessions; ``groups=[6, 6]`` adds groups with those capacities."""

    def factory(
        event: Event, start_hour: int = 10, hours: int = 1, groups: list[int] | None = None, **overrides: Any
    ) -> Session:
        starts = event.starts_at.replace(hour=start_hour, minute=0)
        values: dict[str, Any] = {
            "event": event,
            "kind": SessionKind.WORKSHOP,
            "title_pl": f"Sesja {start_hour}",
            "title_en": f"Session {start_hour}",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=hours),
            "booking_mode": BookingMode.INSTANT,
        }
        values.update(overrides)
        session = Session(**values)
        if groups:
            session.groups = [Group(name=f"Grupa {i + 1}", capacity=c) for i, c in enumerate(groups)]
            session.capacity = sum(groups)
        db.session.add(session)
        db.session.commit()
        return session

    return factory


@pytest.fixture
def participant() -> Callable[..., services.ParticipantData]:
    """Return a factory of participant data with unique emails."""
    counter = {"n": 0}

    def factory(**overrides: Any) -> services.ParticipantData:
        counter["n"] += 1
        values: dict[str, Any] = {
            "first_name": "Anna",
            "last_name": f"Nowak{counter['n']}",
            "email": f"anna{counter['n']}@example.com",
            "category": "mayor",
            "organisation": "Urząd Miasta",
            "city": "Łódź",
        }
        values.update(overrides)
        from app.events.models import ParticipantCategory

        values["category"] = ParticipantCategory(values["category"])
        return services.ParticipantData(**values)

    return factory


@pytest.fixture
def register(participant):  # type: ignore[no-untyped-def]
    """Return a helper registering a participant for sessions through the service layer."""

    def helper(
        event: Event, *sessions: Session, rankings: dict | None = None, by_organiser: bool = False, **person: Any
    ):  # type: ignore[no-untyped-def]
        choices = services.Choices(session_ids=[s.id for s in sessions], rankings=rankings or {})
        if by_organiser:  # a paper sign-up: may name no session even where the event has some
            from app.registration.admin_services import add_registration

            return add_registration(event, participant(**person), choices).registration
        return services.register(event, participant(**person), choices).registration

    return helper


FORM_DEFAULTS = {
    "first_name": "Łukasz",
    "last_name": "Żółkiewski",
    "email": "lukasz@example.com",
    "organisation": "Urząd Miasta Łodzi",
    "position": "Prezydent",
    "city": "Łódź",
    "category": "mayor",
    "language": "pl",
    "consent": "y",
}


PASSWORD = "correct horse battery"


@pytest.fixture
def make_organiser(db):  # type: ignore[no-untyped-def]
    """Return a factory of back-office accounts: ``make_organiser("staff", events=[event])``."""
    from werkzeug.security import generate_password_hash

    from app.auth.models import Organiser, Role

    counter = {"n": 0}
    # One hash for every account: scrypt is slow on purpose.
    hashed = generate_password_hash(PASSWORD, method="scrypt")

    def factory(role: str = "organiser", events: list[Event] | None = None, **overrides: Any) -> Organiser:
        counter["n"] += 1
        values: dict[str, Any] = {
            "email": f"{role}{counter['n']}@zapisy.test",
            "role": Role(role),
            "password_hash": hashed,
        }
        values.update(overrides)
        organiser = Organiser(**values)
        organiser.events = list(events or [])
        db.session.add(organiser)
        db.session.commit()
        return organiser

    return factory


def login(client, organiser, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Log ``organiser`` in through the login form; return the response."""
    return submit(client, "/admin/login", {"email": organiser.email, "password": password})


@pytest.fixture
def as_organiser(client, make_organiser):  # type: ignore[no-untyped-def]
    """Return a helper logging a new account of ``role`` in: ``as_organiser("admin")``."""

    def helper(role: str = "organiser", events: list[Event] | None = None):  # type: ignore[no-untyped-def]
        organiser = make_organiser(role, events=events)
        response = login(client, organiser)
        assert response.status_code == 302, response.status_code
        return organiser

    return helper


@pytest.fixture
def smtp_server(app):  # type: ignore[no-untyped-def]
    """Start a recording SMTP server (aiosmtpd) on a free loopback port and point the app at it."""
    from tests.mailserver import SMTPServer

    server = SMTPServer().start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False, MAIL_USE_SSL=False)
    yield server
    server.stop()


@pytest.fixture
def outbox(app, db, tmp_path):  # type: ignore[no-untyped-def]
    """Return a helper over the outbox; .eml files (no MAIL_SERVER) go to a temporary directory."""
    from sqlalchemy.orm.attributes import set_committed_value

    from app.notifications.delivery import deliver_all_due
    from app.notifications.models import OutboxMessage
    from app.notifications.services import message_bodies

    app.config["OUTBOX_MAIL_DIR"] = str(tmp_path / "mail")

    class Outbox:
        directory = tmp_path / "mail"

        def messages(self, kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
            """Return the outbox rows (fresh from the database), oldest first."""
            db.session.rollback()
            query = db.select(OutboxMessage).order_by(OutboxMessage.id)
            if kind:
                query = query.where(OutboxMessage.kind == kind)
            if to:
                query = query.where(OutboxMessage.recipient_email == to)
            rows = list(db.session.execute(query).scalars())
            for row in rows:
                if row.snapshot:
                    # Rendered at delivery: the bodies the delivery would send, without changing the row.
                    body_text, body_html = message_bodies(row)
                    set_committed_value(row, "body_text", body_text)
                    set_committed_value(row, "body_html", body_html)
            return rows

        def deliver(self, **kwargs: Any):  # type: ignore[no-untyped-def]
            """Deliver everything due now."""
            return deliver_all_due(**kwargs)

    return Outbox()


def counter_offsets() -> dict[tuple[str, int], int]:
    """Map each session or group counter that disagrees with its bookings to ``taken`` minus the bookings."""
    _db.session.rollback()  # see what other threads committed
    offsets = {(drift.kind.value, drift.id): drift.taken - drift.counted for drift in audit_counters().drifts}
    _db.session.rollback()
    return offsets


def assert_counters_consistent(prefilled: dict[tuple[str, int], int] | None = None) -> None:
    """Assert that every counter agrees with its bookings, e.g. after a race.

    ``prefilled`` are the offsets (``counter_offsets()``) of places a test filled by hand,
    without bookings, before the race: the race must have left them as they were.
    """
    assert counter_offsets() == (prefilled or {})
