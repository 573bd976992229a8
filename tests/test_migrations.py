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
