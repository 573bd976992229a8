"""Database helpers: aware UTC timestamps, SQLite pragmas and write transactions."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

from .extensions import db

IMMEDIATE = "zapisy_begin_immediate"


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(timezone.utc)
        # SQLite has no time zone type: store naive UTC so comparisons sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
    """Turn on WAL, foreign keys and manual transaction control for SQLite."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # The driver's own implicit BEGIN is switched off so that we can emit
    # BEGIN IMMEDIATE for write transactions (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn: Connection) -> None:
    """Begin SQLite transactions ourselves; writers take the write lock up front."""
    if conn.dialect.name != "sqlite":
        return
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY
    # (no waiting) when another writer committed meanwhile; BEGIN IMMEDIATE
    # makes concurrent writers queue on the busy timeout instead.
    if conn.get_execution_options().get(IMMEDIATE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the body in one write transaction: commit on success, roll back on error.

    Any read transaction already open in the session is ended first, so the
    write transaction starts fresh (and, on SQLite, with the write lock).
    """
    session = db.session()
    if session.in_transaction():
        # Ending the read transaction must not expire what it loaded: reloading
        # the programme row by row would then happen inside the write lock.
        # Nothing read there decides capacity (that is the atomic UPDATEs' job).
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
    session.connection(execution_options={IMMEDIATE: True})
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
