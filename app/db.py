"""Database helpers: aware UTC timestamps, SQLite pragmas and write transactions."""

from __future__ import annotations

import enum
import logging
import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache, wraps
from typing import Any, TypeVar

import icu
from sqlalchemy import DateTime, Enum, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import Pool
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import TypeDecorator

from .extensions import db

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's own polling orders the writers
    fcntl = None  # type: ignore[assignment]

IMMEDIATE = "zapisy_begin_immediate"
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back as an aware datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC so comparisons sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum by its value, as a portable VARCHAR with a CHECK."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


@lru_cache(maxsize=4)
def collator(locale: str = "pl_PL") -> icu.Collator:
    """Return ICU's collator for ``locale`` (Polish: Ł after L, Ś after S, ą beside a)."""
    return icu.Collator.createInstance(icu.Locale(locale))


def _polish_compare(left: str | None, right: str | None) -> int:
    """Compare two strings in Polish alphabetical order (SQLite's "pl" collation)."""
    return int(collator().compare(left or "", right or ""))


class PolishOrder(ColumnElement[Any]):
    """A column compared in Polish alphabetical order: ``order_by(polish(Registration.last_name))``.

    PostgreSQL uses its ICU collation "pl-x-icu" (built in where PostgreSQL has ICU, as
    Debian's and the official images do); SQLite the "pl" collation each connection gets.
    """

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


def polish(column: Any) -> PolishOrder:
    """Return ``column`` compared in Polish alphabetical order (for ORDER BY)."""
    return PolishOrder(column)


@compiles(PolishOrder)
def _plain_order(element: PolishOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(PolishOrder, "postgresql")
def _postgresql_polish(element: PolishOrder, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "pl-x-icu"'


@compiles(PolishOrder, "sqlite")
def _sqlite_polish(element: PolishOrder, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} COLLATE pl"


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
    """Turn on WAL, foreign keys and manual transaction control for SQLite; add the "pl" collation."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.create_collation("pl", _polish_compare)
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

    On SQLite, a read transaction already open in the session is ended first,
    so that the write transaction starts with the write lock (BEGIN IMMEDIATE).
    """
    session = db.session()
    bind = session.get_bind()
    if bind.dialect.name == "sqlite" and session.in_transaction():
        # Ending the read transaction must not expire what it loaded: reloading
        # the programme row by row would then happen inside the write lock.
        # Nothing read there decides capacity (that is the atomic UPDATEs' job).
        # (PostgreSQL simply goes on in the same transaction: at READ COMMITTED
        # every statement sees what is committed when it runs.)
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
    with _sqlite_writer_turn(bind):
        if not session.in_transaction():
            session.connection(execution_options={IMMEDIATE: True})
        try:
            yield
            session.commit()
        except BaseException:
            session.rollback()
            raise


class _WriterQueue:
    """Writers to one SQLite file, in line: a thread lock, then an OS lock on a file beside it.

    SQLite itself makes a second writer poll for the write lock, sleeping 1, 2,
    5, 10 … ms between tries; with two busy processes a quarter of the CPU went
    idle that way. Waiting on a file lock (flock) instead wakes the next writer
    the moment the lock is released. The queue only orders writers: SQLite's
    own lock still guarantees one writer at a time, also for writes made
    outside ``write_transaction``, and a writer that cannot open the lock file
    (another user's, a read-only directory) simply goes without the queue.
    The file is opened for each turn and closed after it (closing releases the
    lock, also when a process dies), so no descriptor is held between writes.
    Reentrant per thread.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.thread_lock = threading.RLock()
        self.local = threading.local()
        self.warned = False

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self.thread_lock:
            depth = getattr(self.local, "depth", 0)
            fd = self._lock_file() if depth == 0 else None
            self.local.depth = depth + 1
            try:
                yield
            finally:
                self.local.depth = depth
                if fd is not None:
                    os.close(fd)

    def _lock_file(self) -> int | None:
        """Open the lock file and wait for its lock; None when it cannot be opened."""
        try:
            # Read-only is enough for flock; created readable by all (umask applies), empty.
            fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as error:
            if not self.warned:
                self.warned = True
                log.warning("SQLite writers' queue off: cannot open %s (%s)", self.path, error)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd


_writer_queues: dict[str, _WriterQueue] = {}
_writer_queues_lock = threading.Lock()


@contextmanager
def _sqlite_writer_turn(bind: Any) -> Iterator[None]:
    """Wait for this process's turn to write to a SQLite file (nothing to wait for elsewhere)."""
    url = getattr(bind, "url", None)
    database = url.database if url is not None and url.get_backend_name() == "sqlite" else None
    if fcntl is None or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    path = os.path.abspath(database) + ".writers"
    with _writer_queues_lock:
        queue = _writer_queues.setdefault(path, _WriterQueue(path))
    with queue.turn():
        yield


# Faults of the database itself, not of the request: the page says "busy, try again" (503).
# PostgreSQL: lock_not_available, deadlock, serialization failure, read-only transaction,
# disk full, out of memory, too many connections, admin shutdown, cannot connect now.
UNAVAILABLE_PGCODES = {"55P03", "40P01", "40001", "25006", "53100", "53200", "53300", "57P01", "57P03"}
UNAVAILABLE_SQLITE_MESSAGES = (
    "database is locked",
    "readonly database",
    "disk is full",
    "disk i/o error",
    "unable to open database",
)


def is_unavailable(error: BaseException) -> bool:
    """Tell whether a database error means the database cannot serve now (busy, read-only, full, gone)."""
    if isinstance(error, PoolTimeout | DisconnectionError):  # the pool's wait ran out; a lost connection
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    code = getattr(error.orig, "sqlstate", None)
    if code in UNAVAILABLE_PGCODES or (code or "").startswith("08"):  # 08xxx: connection exceptions
        return True
    message = str(error.orig).lower()
    return isinstance(error.orig, sqlite3.OperationalError) and any(m in message for m in UNAVAILABLE_SQLITE_MESSAGES)


@event.listens_for(Engine, "handle_error")
def _drop_read_only_connections(context: Any) -> None:
    """Discard SQLite connections that found their file read-only (and PostgreSQL's read-only ones).

    A connection opened while the file (or its directory) was read-only stays
    read-only after the file becomes writable again; counted as a disconnect,
    it is thrown away with the pool's others, and the next request opens a
    fresh one.
    """
    original = context.original_exception
    if isinstance(original, sqlite3.OperationalError) and "readonly database" in str(original).lower():
        context.is_disconnect = True
        _note_read_only()
    elif getattr(original, "sqlstate", None) == "25006":
        # PostgreSQL: read_only_sql_transaction. A connection to a server that became a
        # standby (or to a read-only session) stays so; after a failover a new one finds the primary.
        context.is_disconnect = True
        _note_read_only()


# While a connection was lately found read-only, connections are used once and not pooled:
# one opened meanwhile (to show the busy page, say) would stay read-only after the file is
# writable again (or the primary is back), and fail the next write too.
READ_ONLY_SUSPECT_SECONDS = 30.0
_read_only_seen: dict[str, float] = {"at": -READ_ONLY_SUSPECT_SECONDS}


def _note_read_only() -> None:
    """Remember that a connection was found read-only just now."""
    _read_only_seen["at"] = time.monotonic()


@event.listens_for(Pool, "checkin")
def _mark_possibly_read_only(dbapi_connection: Any, record: Any) -> None:
    """Mark a connection given back while read-only ones were lately seen."""
    if time.monotonic() - _read_only_seen["at"] < READ_ONLY_SUSPECT_SECONDS:
        record.info["possibly_read_only"] = True


@event.listens_for(Pool, "checkout")
def _replace_possibly_read_only(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Have the pool open a fresh connection instead of one marked possibly read-only.

    :raises DisconnectionError: which makes the pool discard this one and connect anew.
    """
    if record.info.pop("possibly_read_only", False):
        raise DisconnectionError("connection opened while the database was read-only")


def database_writable() -> tuple[bool, str]:
    """Tell whether writes can succeed now, and why not (cheap: for /healthz).

    PostgreSQL: not a standby in recovery, transactions not read-only by default.
    SQLite: the connection may write (not query-only, the file takes a write
    lock; a writer holding it for a second counts as busy, not broken) and the
    disk has room.
    """
    session = db.session()
    try:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            in_recovery = connection.exec_driver_sql("SELECT pg_is_in_recovery()").scalar()
            read_only = connection.exec_driver_sql("SHOW default_transaction_read_only").scalar()
            if in_recovery or read_only == "on":
                _note_read_only()
                connection.invalidate()  # as for a failed write: the next check connects afresh
                return False, "read-only"
            return True, "ok"
        if connection.dialect.name != "sqlite":
            return True, "ok"
        database = connection.engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(database))).free
            if free < MIN_FREE_DISK_BYTES:
                return False, "disk full"
        if connection.exec_driver_sql("PRAGMA query_only").scalar():
            writable, state = False, "read-only"
        else:
            writable, state = _sqlite_takes_write_lock(connection)
        if state == "read-only":
            _note_read_only()
            connection.invalidate()  # as for a failed write: the next one opens the file afresh
        return writable, state
    finally:
        session.rollback()


MIN_FREE_DISK_BYTES = 16 * 1024 * 1024


def _sqlite_takes_write_lock(connection: Connection) -> tuple[bool, str]:
    """Take and give back SQLite's write lock in a separate raw transaction (waiting at most a second)."""
    raw = connection.connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    previous = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=1000")
    try:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raw.execute("BEGIN IMMEDIATE")
        # A connection that opened its file read-only still takes the lock; writing the
        # header's user_version (unchanged, rolled back) is the write it refuses.
        version = int(raw.execute("PRAGMA user_version").fetchone()[0])
        raw.execute(f"PRAGMA user_version={version}")
        raw.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        if "locked" in str(error).lower() or "busy" in str(error).lower():
            return True, "busy"
        return False, "read-only" if "readonly" in str(error).lower() else str(error)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(previous)}")
    return True, "ok"


# PostgreSQL error codes worth one more try: lock_not_available (lock_timeout
# hit), deadlock_detected and serialization_failure.
RETRYABLE_PGCODES = {"55P03", "40P01", "40001"}
F = TypeVar("F", bound=Callable[..., Any])


def is_contention(error: BaseException) -> bool:
    """Tell whether a database error is lock contention that a retry can cure."""
    code = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, OperationalError) and code in RETRYABLE_PGCODES


def retry_on_contention(attempts: int = 3, base_delay: float = 0.05) -> Callable[[F], F]:
    """Re-run a service whose transaction lost a lock race, after a short random pause.

    The lock timeout keeps a transaction from waiting long on a busy row; the
    jitter spreads the retries of transactions that collided.
    """

    def decorator(function: F) -> F:
        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, attempts + 1):
                try:
                    return function(*args, **kwargs)
                except OperationalError as error:
                    db.session.rollback()
                    if attempt == attempts or not is_contention(error):
                        raise
                    time.sleep(random.uniform(base_delay, 3 * base_delay) * attempt)
            raise AssertionError("unreachable")

        return wrapper  # type: ignore[return-value]

    return decorator


def engine_options(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return the engine options for ``url``: PostgreSQL gets lock and idle timeouts."""
    if not url.startswith("postgresql"):
        return options
    connect_args = dict(options.get("connect_args", {}))
    connect_args.setdefault(
        "options",
        "-c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000 -c statement_timeout=60000",
    )
    connect_args.setdefault("connect_timeout", 10)
    return {"pool_pre_ping": True, **options, "connect_args": connect_args}


def insert_once(table: Table, **values: Any) -> bool:
    """Insert a row unless a unique index already holds its key; tell whether this call inserted it.

    ``INSERT … ON CONFLICT DO NOTHING`` on both databases: of two transactions
    inserting the same key at once, PostgreSQL makes the second wait for the
    first and then do nothing; SQLite runs writers one after the other. A
    guard for "exactly once" that needs no read before the write.
    """
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # RETURNING rather than the row count, which psycopg leaves at -1 here.
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return db.session.execute(statement).first() is not None
