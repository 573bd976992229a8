"""The bare-stack ceiling: Flask + Flask-SQLAlchemy doing the least correct work of a registration.

bench/load.py serves it under the same gunicorn settings as Zapisy and drives
it with the same client, so that "Zapisy registrations/s ÷ ceiling
registrations/s" says how much of the stack's capacity the app's own work
costs. The three requests of the participant flow:

- GET  /events/<slug>/register    a static form (as many checkboxes as Zapisy's) carrying a random token
- POST /events/<slug>/register    one conditional capacity UPDATE and one INSERT in one transaction, 303
- GET  /events/<slug>/registered  a static thank-you page

Serve with: gunicorn -c gunicorn.conf.py "bench.ceiling_app:create_app()"
(CEILING_DATABASE_URL, CEILING_SESSIONS). Create the tables with create_schema(url).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from datetime import datetime, timezone

from flask import Flask, g, redirect, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, event, text
from sqlalchemy.engine import Engine

metadata = MetaData()
session_table = Table(
    "ceiling_session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("capacity", Integer, nullable=False),
    Column("taken", Integer, nullable=False, default=0),
)
registration_table = Table(
    "ceiling_registration",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", Integer, nullable=False),
    Column("email", String(254), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

TAKE_PLACE = text("UPDATE ceiling_session SET taken = taken + 1 WHERE id = :id AND taken < capacity")
INSERT = registration_table.insert()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
    """Give SQLite the same settings as Zapisy: WAL, synchronous=NORMAL, a busy timeout."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_schema(url: str, sessions: int, capacity: int = 10**9) -> None:
    """Create the ceiling's tables with ``sessions`` sessions of ``capacity`` places."""
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            session_table.insert(), [{"id": i, "capacity": capacity, "taken": 0} for i in range(1, sessions + 1)]
        )
    engine.dispose()


def _form_page(sessions: int) -> str:
    """Return the form's HTML with a placeholder for the token, built once."""
    boxes = "\n".join(
        f'<li><input id="sessions-{i}" name="sessions" type="checkbox" value="{i}">'
        f' <label for="sessions-{i}">Session {i}</label></li>'
        for i in range(1, sessions + 1)
    )
    return (
        '<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Registration</title></head><body>'
        '<form method="post"><input id="csrf_token" name="csrf_token" type="hidden" value="{token}">'
        '<input name="first_name"><input name="last_name"><input name="email">'
        f'<ul>{boxes}</ul><button type="submit">Register</button></form></body></html>'
    )


THANK_YOU = (
    '<!doctype html><html lang="pl"><head><meta charset="utf-8"><title>Thank you</title></head><body>'
    '<h1>Thank you</h1><p><a href="/r/your-private-link">Your private link</a></p></body></html>'
)


def create_app() -> Flask:
    """Create the ceiling app from the environment."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["CEILING_DATABASE_URL"]
    db = SQLAlchemy(app, metadata=metadata)
    form = _form_page(int(os.environ.get("CEILING_SESSIONS", "200")))

    if os.environ.get("SERVER_TIMING") == "1":
        # The same header as Zapisy's SERVER_TIMING: the server's own time per request.
        @app.before_request
        def start_timer() -> None:
            g.started = time.perf_counter()

        @app.after_request
        def server_timing(response):  # type: ignore[no-untyped-def]
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - g.started) * 1000:.2f}"
            return response

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return "ok"

    @app.get("/events/<slug>/register")
    def register_form(slug: str):  # type: ignore[no-untyped-def]
        return form.replace("{token}", secrets.token_urlsafe(32))

    @app.post("/events/<slug>/register")
    def register(slug: str):  # type: ignore[no-untyped-def]
        session_ids = request.form.getlist("sessions", type=int) or [1]
        with db.session.begin():
            taken = db.session.execute(TAKE_PLACE, {"id": session_ids[0]}).rowcount == 1
            db.session.execute(
                INSERT,
                {
                    "session_id": session_ids[0] if taken else 0,
                    "email": request.form.get("email", ""),
                    "first_name": request.form.get("first_name", ""),
                    "last_name": request.form.get("last_name", ""),
                    "created_at": datetime.now(timezone.utc),
                },
            )
        return redirect(f"/events/{slug}/registered", code=303)

    @app.get("/events/<slug>/registered")
    def registered(slug: str):  # type: ignore[no-untyped-def]
        return THANK_YOU

    return app
