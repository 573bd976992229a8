"""Database helpers: PostgreSQL timeouts and the retry on lock contention."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import engine_options, retry_on_contention


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        self.sqlstate = sqlstate


def _error(code: str) -> OperationalError:
    return OperationalError("UPDATE ...", {}, _Orig(code))


def test_postgres_gets_lock_and_idle_timeouts_sqlite_does_not():
    options = engine_options("postgresql+psycopg://x@localhost/db", {"pool_size": 5})
    assert "lock_timeout" in options["connect_args"]["options"]
    assert "idle_in_transaction_session_timeout" in options["connect_args"]["options"]
    assert options["pool_pre_ping"] is True and options["pool_size"] == 5
    assert engine_options("sqlite:///x.db", {"a": 1}) == {"a": 1}


def test_contention_is_retried_and_other_errors_are_not(app):
    calls = {"n": 0}

    @retry_on_contention(attempts=3, base_delay=0.001)
    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise _error("55P03")
        return "done"

    assert flaky() == "done" and calls["n"] == 3

    @retry_on_contention(attempts=3, base_delay=0.001)
    def broken() -> None:
        calls["n"] += 1
        raise _error("42P01")

    calls["n"] = 0
    with pytest.raises(OperationalError):
        broken()
    assert calls["n"] == 1


def test_lock_timeout_is_set_on_postgresql(app, db, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no lock timeout setting")
    assert db.session.execute(text("SHOW lock_timeout")).scalar_one() == "5s"
