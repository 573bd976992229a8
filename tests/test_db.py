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


def _hold_file_lock(path: str, acquired, release) -> None:  # type: ignore[no-untyped-def]
    """In another process: take the writers' file lock, say so, hold it until told."""
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    acquired.set()
    release.wait(10)
    fcntl.flock(fd, fcntl.LOCK_UN)


def test_sqlite_writers_of_two_processes_take_turns(tmp_path):
    import multiprocessing
    import threading
    import time

    from app.db import _WriterQueue

    pytest.importorskip("fcntl", reason="the writers' queue needs POSIX file locks")
    path = str(tmp_path / "zapisy.sqlite.writers")
    context = multiprocessing.get_context("fork")
    acquired, release = context.Event(), context.Event()
    other = context.Process(target=_hold_file_lock, args=(path, acquired, release))
    other.start()
    try:
        assert acquired.wait(10)
        queue = _WriterQueue(path)
        started = time.monotonic()
        threading.Timer(0.3, release.set).start()
        with queue.turn():  # waits for the other process's writer
            waited = time.monotonic() - started
        assert waited >= 0.25
    finally:
        release.set()
        other.join(10)


def test_sqlite_writer_turn_is_reentrant_and_held_until_the_outer_one_ends(tmp_path):
    import os

    fcntl = pytest.importorskip("fcntl", reason="the writers' queue needs POSIX file locks")

    from app.db import _WriterQueue

    path = str(tmp_path / "zapisy.sqlite.writers")
    queue = _WriterQueue(path)
    probe = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def locked_elsewhere() -> bool:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False

    with queue.turn():
        with queue.turn():
            assert locked_elsewhere()
        assert locked_elsewhere()  # the inner turn did not let go of the outer one's lock
    assert not locked_elsewhere()
    os.close(probe)


def test_sqlite_writer_turn_goes_without_the_queue_when_the_lock_file_cannot_be_opened(tmp_path, caplog):
    from app.db import _WriterQueue

    queue = _WriterQueue(str(tmp_path / "missing-directory" / "zapisy.sqlite.writers"))
    ran = []
    with caplog.at_level("WARNING"), queue.turn():
        ran.append(True)
    with queue.turn():  # warned once, still usable
        ran.append(True)
    assert ran == [True, True]
    assert sum("writers' queue off" in record.getMessage() for record in caplog.records) == 1
