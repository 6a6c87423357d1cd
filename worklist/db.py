"""Engines and transactions for SQLite (embedded) and PostgreSQL (production).

SQLite is made to behave under many concurrent writers: WAL journal, a busy timeout, and
``BEGIN IMMEDIATE`` for write transactions, so a writer takes the write lock when it starts
instead of failing half-way with "database is locked" when it tries to upgrade a read lock.
Whatever busy error still comes through is retried by :func:`run_in_transaction` and, if the
retry budget runs out, raised as :class:`~worklist.errors.DatabaseBusyError`.

Within one process, SQLite writers also queue on a lock of the process's own before they ask
SQLite for its write lock. SQLite's busy handler makes a waiting writer sleep and try again,
longer each time (up to 100 ms between tries), so under many writers a newcomer often beats
one that has waited for seconds; a queue in the process leaves one writer per process trying,
and the others are woken the moment the lock is theirs.

PostgreSQL connections are checked before use only when they may have died: when they sat
in the pool for a while, or when the server has sent something to an idle connection (a
server shutting down or ending the session says so, and closes the socket). A connection
given back a moment ago with nothing waiting on its socket is used as it is: pinging every
checkout cost a round trip per transaction, three per claim over HTTP.
"""

from __future__ import annotations

import contextlib
import random
import select
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from worklist.errors import ConcurrentUpdateError, DatabaseBusyError

T = TypeVar("T")

DEFAULT_DATABASE_FILE = "worklist.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_S = 5.0
"""A PostgreSQL connection idle in the pool longer than this is pinged before it is used."""
_CHECKED_IN_AT = "coupe_checked_in_at"
# How long a SQLite writer waits between asking for the write lock: short, since a write
# transaction holds it for a few milliseconds.
_BEGIN_FIRST_PAUSE_S = 0.0005
_BEGIN_MAX_PAUSE_S = 0.002
# Per SQLite file, the lock this process's writers to it queue on, whichever engine they use;
# reentrant, so a write nested in another waits on SQLite as before.
_SQLITE_WRITERS: dict[str, threading.RLock] = {}
_WRITE_OPTION = "coupe_write"
# PostgreSQL SQLSTATEs worth retrying: serialization failure, deadlock.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def default_database_url(data_dir: Path) -> str:
    """The embedded default: a SQLite file in ``data_dir``."""
    return f"sqlite+pysqlite:///{(Path(data_dir) / DEFAULT_DATABASE_FILE).resolve()}"


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for ``url`` with the worklist's connection settings.

    ``pool_size`` bounds concurrent connections; give at least the number of threads that
    should really run transactions at once.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("the worklist needs a SQLite file, not an in-memory database")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            echo=echo,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _install_sqlite_hooks(engine)
        return engine
    engine = create_engine(parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    _install_ping_hooks(engine)
    return engine


def _install_ping_hooks(engine: Engine) -> None:
    """Ping a pooled connection at checkout when it may be dead (see the module docstring);
    a failed ping makes the pool replace it and the connections pooled with it."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _note_idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_suspect(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_s = time.monotonic() - record.info.get(_CHECKED_IN_AT, 0.0)
        if idle_s < PING_AFTER_IDLE_S and not _input_waiting(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # As pool_pre_ping does: the server or the network failed, so every connection
            # pooled before now is replaced, not only this one.
            raise InvalidatePoolError(f"pooled connection failed its ping: {exc}") from exc


def _input_waiting(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read: nothing should arrive
    unasked but a notice that the server is ending the session (or the socket's end)."""
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError):  # closed, or a descriptor select cannot watch: ping
        return True
    return bool(readable)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; "begin" below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION, False):
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: Any) -> None:
    """``BEGIN IMMEDIATE``, asking again every millisecond or two while another process
    holds the write lock, for up to the busy timeout.

    SQLite's own busy handler would wait too, but ever longer between tries (up to 100 ms),
    and a writer of the other process, arriving later, takes the lock in between: the wait
    of the unlucky ran to seconds. The last try goes through SQLAlchemy, so that a busy or
    any other error is raised as every database error is.
    """
    raw = connection.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        pause_s = _BEGIN_FIRST_PAUSE_S
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy_message(str(exc)):
                    break  # not a busy lock: the last try below raises it
            time.sleep(pause_s * (0.5 + random.random()))
            pause_s = min(2 * pause_s, _BEGIN_MAX_PAUSE_S)
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def read_session(engine: Engine) -> Session:
    """A session for reading (a deferred transaction on SQLite)."""
    return Session(bind=engine, expire_on_commit=False)


def write_session(engine: Engine) -> Session:
    """A session whose transaction takes the write lock at once on SQLite."""
    return Session(bind=engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)


def _writers_queue(engine: Engine) -> contextlib.AbstractContextManager[Any]:
    """The lock this process's writers to ``engine`` queue on (SQLite), or none."""
    if not is_sqlite(engine):
        return contextlib.nullcontext()
    path = str(engine.url.database)
    return _SQLITE_WRITERS.get(path) or _SQLITE_WRITERS.setdefault(path, threading.RLock())


def run_in_transaction(
    engine: Engine,
    work: Callable[[Session], T],
    *,
    attempts: int = 8,
    first_backoff_s: float = 0.01,
) -> T:
    """Run ``work(session)`` in one write transaction, commit, and return its result.

    Busy databases (SQLite locks, PostgreSQL serialization failures and deadlocks) are
    retried with jittered exponential backoff; ``work`` must therefore be safe to repeat.
    A stale version counter raises :class:`ConcurrentUpdateError` at once: the caller's
    view is out of date and only the caller can decide what to do.
    """
    for attempt in range(1, attempts + 1):
        try:
            with _writers_queue(engine), write_session(engine) as session, session.begin():
                return work(session)
        except StaleDataError as exc:
            raise ConcurrentUpdateError(f"the record changed concurrently: {exc}") from exc
        except (OperationalError, DBAPIError) as exc:
            if isinstance(exc, IntegrityError) or not _is_retryable(exc):
                raise
            if attempt == attempts:
                raise DatabaseBusyError(
                    f"database stayed busy after {attempts} attempts: {exc.orig}"
                ) from exc
            time.sleep(first_backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover


def _is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return _is_busy_message(str(exc.orig))


def _is_busy_message(message: str) -> bool:
    lowered = message.lower()
    return "database is locked" in lowered or "database is busy" in lowered
