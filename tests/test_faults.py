"""Faults of the database end in a "busy, try again" page (503, Retry-After) that keeps what was typed."""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InternalError, OperationalError

import app.db as app_db
from app.registration import services
from app.registration.models import Registration
from tests.conftest import FORM_DEFAULTS, csrf_token

BUSY_PL = "System jest w tej chwili przeciążony, więc nic nie zostało zapisane."
BUSY_EN = "The system is busy right now, so nothing was saved."


def _pg_error(name: str, message: str) -> Exception:
    import psycopg.errors

    return getattr(psycopg.errors, name)(message)


FAULTS = {
    "sqlite locked": lambda: OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
    "sqlite full": lambda: OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")),
    "sqlite read-only": lambda: OperationalError(
        "INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database")
    ),
    "pg lock timeout": lambda: OperationalError("UPDATE", {}, _pg_error("LockNotAvailable", "lock timeout")),
    "pg read-only": lambda: InternalError("INSERT", {}, _pg_error("ReadOnlySqlTransaction", "read-only")),
    "pg disk full": lambda: OperationalError("INSERT", {}, _pg_error("DiskFull", "no space left")),
    "dropped connection": lambda: OperationalError(
        "SELECT", {}, sqlite3.OperationalError("server closed the connection"), connection_invalidated=True
    ),
}


def _count(db) -> int:  # type: ignore[no-untyped-def]
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Registration)).scalar_one()


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_during_registration_keeps_the_form(client, db, make_event, make_session, monkeypatch, fault):
    event = make_event()
    session = make_session(event, capacity=5)

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise FAULTS[fault]()

    monkeypatch.setattr(services, "register", failing)
    path = f"/events/{event.slug}/register"
    data = {**FORM_DEFAULTS, "organisation": "Urząd <Gminy> & Co", "sessions": [str(session.id)]}
    answer = client.post(path, data={**data, "csrf_token": csrf_token(client.get(path).text)})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    page = answer.text
    assert BUSY_PL in page
    assert "Popraw zaznaczone pola" not in page  # nothing was wrong with what was typed
    assert 'value="Łukasz"' in page and 'value="lukasz@example.com"' in page
    assert "Urząd &lt;Gminy&gt; &amp; Co" in page
    assert _count(db) == 0


def test_a_fault_while_changing_choices_keeps_them_in_english(
    client, db, make_event, make_session, participant, monkeypatch
):
    event = make_event()
    first = make_session(event, start_hour=9, capacity=5)
    second = make_session(event, start_hour=11, capacity=5)
    result = services.register(event, participant(language="en"), services.Choices(session_ids=[first.id]))

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise FAULTS["pg lock timeout"]()

    monkeypatch.setattr(services, "change_choices", failing)
    path = f"/r/{result.token}"
    page = client.get(f"{path}?lang=en").text
    answer = client.post(
        f"{path}?lang=en", data={"sessions": [str(first.id), str(second.id)], "csrf_token": csrf_token(page)}
    )
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert BUSY_EN in answer.text and "correct the marked fields" not in answer.text
    checked = re.findall(r'<input[^>]*name="sessions"[^>]*>', answer.text)
    assert [tag for tag in checked if "checked" in tag and f'value="{second.id}"' in tag], checked


def test_a_fault_on_any_other_page_gives_the_busy_page(client, db, make_event, monkeypatch):
    event = make_event()

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise FAULTS["sqlite full"]()

    import app.events.routes as event_routes

    monkeypatch.setattr(event_routes, "get_public_event_row", failing)
    answer = client.get(f"/events/{event.slug}/")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "Spróbuj ponownie za chwilę" in answer.text


def test_a_database_error_that_is_a_bug_stays_a_500(client, db, make_event, monkeypatch):
    event = make_event()

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("CHECK constraint failed"))

    import app.events.routes as event_routes

    monkeypatch.setattr(event_routes, "get_public_event_row", failing)
    assert client.get(f"/events/{event.slug}/").status_code == 500


def _query_only(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """Make every new SQLite connection refuse writes (PRAGMA query_only)."""
    dbapi_connection.execute("PRAGMA query_only=ON")


def _open_read_only(dialect, connection_record, cargs, cparams) -> None:  # type: ignore[no-untyped-def]
    """Open every new SQLite connection's file read-only, as SQLite does when the file is read-only."""
    path = cargs[0] if cargs else cparams.pop("database")
    cargs[:] = [f"file:{os.path.abspath(path)}?mode=ro"]
    cparams["uri"] = True


def _pg_read_only_session(dbapi_connection, connection_record) -> None:  # type: ignore[no-untyped-def]
    """Make every new PostgreSQL connection read-only, as one to a standby is."""
    dbapi_connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.commit()


# How connections come to refuse writes, per backend: (backend, engine event, listener).
READ_ONLY_WAYS = {
    "query_only": ("sqlite", "connect", _query_only),
    "opened read-only": ("sqlite", "do_connect", _open_read_only),
    "read-only session": ("postgresql", "connect", _pg_read_only_session),
}


def _way(backend: str, way: str) -> tuple[str, object]:
    """Return the engine event and listener of ``way``, skipping the test on another backend."""
    way_backend, name, listener = READ_ONLY_WAYS[way]
    if backend != way_backend:
        pytest.skip(f"{way_backend} only: connections made read-only this way")
    return name, listener


def _register_through_the_form(client, slug: str, session_id: int, email: str):  # type: ignore[no-untyped-def]
    path = f"/events/{slug}/register"
    data = {**FORM_DEFAULTS, "email": email, "sessions": [str(session_id)]}
    return client.post(path, data={**data, "csrf_token": csrf_token(client.get(path).text)})


def _read_only_then_writable(db, client, make_event, make_session, way, probe=None):  # type: ignore[no-untyped-def]
    """Register over connections opened read-only, then again once new connections may write.

    ``probe(client)`` runs while the file is still read-only; its answer is returned too.
    """
    meeting = make_event()
    session = make_session(meeting, capacity=5)
    slug, session_id = meeting.slug, session.id
    db.session.remove()
    db.engine.dispose()  # every connection from now on is opened read-only
    event.listen(db.engine, *way)
    try:
        refused = _register_through_the_form(client, slug, session_id, "ro@example.com")
        db.session.remove()  # the test's app context outlives requests: end the session as a served request does
        probed = probe(client) if probe else None
        db.session.remove()
    finally:
        event.remove(db.engine, *way)  # the file is writable again
    accepted = _register_through_the_form(client, slug, session_id, "rw@example.com")
    return refused, probed, accepted


@pytest.mark.parametrize("way", READ_ONLY_WAYS)
def test_a_connection_opened_read_only_is_replaced_once_the_file_is_writable(
    db, client, make_event, make_session, backend, way
):
    refused, _probed, accepted = _read_only_then_writable(db, client, make_event, make_session, _way(backend, way))
    assert refused.status_code == 503 and BUSY_PL in refused.text
    assert accepted.status_code == 303
    assert _count(db) == 1


@pytest.mark.parametrize("way", READ_ONLY_WAYS)
def test_healthz_fails_while_writes_cannot_succeed(db, client, make_event, make_session, backend, way):
    reads_only = _way(backend, way)
    assert client.get("/healthz").status_code == 200
    _refused, health, accepted = _read_only_then_writable(
        db, client, make_event, make_session, reads_only, probe=lambda c: c.get("/healthz")
    )
    assert health.status_code == 503 and health.get_json()["database"] == "read-only"
    assert accepted.status_code == 303
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("way", READ_ONLY_WAYS)
def test_without_replacing_it_the_read_only_connection_keeps_refusing(
    db, client, make_event, make_session, backend, way, monkeypatch
):
    """The twin: with the handler that drops read-only connections removed, writes keep failing."""
    reads_only = _way(backend, way)
    monkeypatch.setitem(app_db._read_only_seen, "at", -app_db.READ_ONLY_SUSPECT_SECONDS)  # an earlier test's
    event.remove(Engine, "handle_error", app_db._drop_read_only_connections)
    try:
        refused, _probed, accepted = _read_only_then_writable(db, client, make_event, make_session, reads_only)
    finally:
        event.listen(Engine, "handle_error", app_db._drop_read_only_connections)
    assert refused.status_code == 503
    assert accepted.status_code == 503
    assert _count(db) == 0


def _every_statement_fails(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
    """Fail as the backend does when it cannot serve: SQLite locked, PostgreSQL's lock timeout."""
    if conn.dialect.name == "sqlite":
        raise sqlite3.OperationalError("database is locked")
    raise _pg_error("LockNotAvailable", "canceling statement due to lock timeout")


@pytest.mark.parametrize("path", ["/admin/", "/events/{slug}/"])
def test_a_signed_in_organiser_gets_the_busy_page_when_even_their_account_cannot_be_read(
    client, db, make_event, as_organiser, path
):
    """Rendering the busy page must not read the organiser's account from the database that just failed."""
    meeting = make_event()
    as_organiser("organiser", events=[meeting])
    url = path.format(slug=meeting.slug)
    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", _every_statement_fails)
    try:
        answer = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", _every_statement_fails)
    assert answer.status_code == 503, answer.status_code
    assert answer.headers["Retry-After"] == "5"
    assert client.get(url).status_code == 200
