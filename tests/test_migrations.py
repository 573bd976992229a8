"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from config import TestingConfig
from tests.conftest import POSTGRES_URL, _postgres_skip_reason


def _diff(app) -> list:  # type: ignore[no-untyped-def]
    """Return the differences between the migrated database and the models."""
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)


def test_migrations_on_empty_sqlite_match_the_models(tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.sqlite'}")
    assert _diff(app) == []
    with app.app_context():
        downgrade(revision="base")
        with db.engine.connect() as connection:
            tables = connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars().all()
        assert set(tables) <= {"alembic_version"}
        db.engine.dispose()


def test_migrations_on_empty_postgresql_match_the_models():
    reason = _postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"zapisy_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=url)
        assert _diff(app) == []
        with app.app_context():
            downgrade(revision="base")
            db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_revision_0005_folds_existing_names_as_the_app_does(tmp_path):
    # 0005 carries its own copy of the folding (a migration must not change with the app):
    # what it wrote into existing rows must still be what the app writes and searches.
    from app.registration.search import search_text

    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.sqlite'}")
    people = [
        ("Łukasz", "Żółkiewski", "LZ@Example.com", "Urząd Miasta Łodzi", "Łódź"),
        ("Ærø", "Straße  Œuvre", "x@y.pl", "", "Gdańsk"),
    ]
    with app.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO series (id, slug, name_pl, name_en, description_pl, description_en, organiser_name)"
                    " VALUES (1, 's', 'S', 'S', '', '', '')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO event (id, series_id, slug, title_pl, title_en, description_pl, description_en,"
                    " edition_label, city, venue, starts_at, ends_at, status, contact_email, max_ranked_choices,"
                    " created_at) VALUES (1, 1, 'e', 'E', 'E', '', '', '', 'Łódź', '', '2027-01-01', '2027-01-02',"
                    " 'draft', '', 3, '2026-01-01')"
                )
            )
            for n, (first, last, email, organisation, city) in enumerate(people, start=1):
                connection.execute(
                    text(
                        "INSERT INTO registration (id, event_id, first_name, last_name, email, email_normalized, phone,"
                        " organisation, position, city, category, language, consent_version, consent_at,"
                        " consent_source, has_marketing_consent, status, manage_token_hash, created_at, updated_at,"
                        " checkin_code) VALUES (:n, 1, :first, :last, :email, :email, '', :organisation, '', :city,"
                        " 'mayor', 'pl', 'v1', '2026-01-01', 'form', 0, 'active', :hash, '2026-01-01', '2026-01-01',"
                        " :code)"
                    ),
                    {
                        "n": n,
                        "first": first,
                        "last": last,
                        "email": email,
                        "organisation": organisation,
                        "city": city,
                        "hash": f"{n:064d}",
                        "code": f"CODE{n}",
                    },
                )
        upgrade(revision="0005")
        with db.engine.connect() as connection:
            stored = connection.execute(text("SELECT search_text FROM registration ORDER BY id")).scalars().all()
        db.engine.dispose()

    class Person:
        def __init__(self, first_name: str, last_name: str, email: str, organisation: str, city: str) -> None:
            self.first_name, self.last_name, self.email = first_name, last_name, email
            self.organisation, self.city = organisation, city

    assert stored == [search_text(Person(*p)) for p in people]
    assert stored[0] == "lukasz zolkiewski lz@example.com urzad miasta lodzi lodz"


def test_revision_0012_removes_the_private_links_of_emails_sent_before_it(tmp_path):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.sqlite'}")
    token = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"
    with app.app_context():
        upgrade(revision="0010")
        with db.engine.begin() as connection:
            for n, status in enumerate(("sent", "pending", "failed"), start=1):
                connection.execute(
                    text(
                        "INSERT INTO outbox_message (id, kind, status, recipient_email, recipient_name, sender_name,"
                        " reply_to, language, subject, body_text, body_html, attachments, message_id, attempts,"
                        " next_attempt_at, last_error, created_at) VALUES (:n, 'registration_received', :status,"
                        " 'a@example.com', '', '', '', 'pl', 'S', :text, :html, '[]', :mid, 1, '2026-01-01', '',"
                        " '2026-01-01')"
                    ),
                    {
                        "n": n,
                        "status": status,
                        "mid": f"<{n}@zapisy.test>",
                        "text": f"Link: https://zapisy.example/r/{token}\nPotwierdź: https://zapisy.example/r/{token}/confirm",
                        "html": f'<a href="https://zapisy.example/r/{token}">https://zapisy.example/r/{token}</a>',
                    },
                )
        upgrade(revision="0012")
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT status, body_text, body_html, redact FROM outbox_message ORDER BY id")
            ).all()
        db.engine.dispose()
    sent, pending, failed = rows
    assert token not in sent.body_text + sent.body_html
    assert (
        sent.body_text
        == "Link: https://zapisy.example/r/[removed]\nPotwierdź: https://zapisy.example/r/[removed]/confirm"
    )
    # Not sent yet (or to be retried by an organiser): the link is still needed.
    assert token in pending.body_text and token in failed.body_html
    assert pending.redact == failed.redact == f'["{token}"]'  # and removed once they are sent
