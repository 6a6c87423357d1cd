"""Engines and transactions for SQLite (embedded) and PostgreSQL (production).

SQLite is made to behave under many concurrent writers: WAL journal, a busy timeout, and
``BEGIN IMMEDIATE`` for write transactions, so a writer takes the write lock when it starts
instead of failing half-way with "database is locked" when it tries to upgrade a read lock.
Whatever busy error still comes through is retried by :func:`run_in_transaction` and, if the
retry budget runs out, raised as :class:`~worklist.errors.DatabaseBusyError`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from worklist.errors import ConcurrentUpdateError, DatabaseBusyError

T = TypeVar("T")

DEFAULT_DATABASE_FILE = "worklist.sqlite3"
SQLITE_BUSY_TIMEOUT_MS = 30_000
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
    return create_engine(
        parsed, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


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
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def read_session(engine: Engine) -> Session:
    """A session for reading (a deferred transaction on SQLite)."""
    return Session(bind=engine, expire_on_commit=False)


def write_session(engine: Engine) -> Session:
    """A session whose transaction takes the write lock at once on SQLite."""
    return Session(bind=engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)


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
            with write_session(engine) as session, session.begin():
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
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message
