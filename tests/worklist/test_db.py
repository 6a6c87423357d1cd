"""Connections and write transactions: SQLite writers waiting their turn, PostgreSQL
connections checked only when they may have died."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests.postgres_support import postgres_schema
from worklist import db
from worklist.db import default_database_url, make_engine, run_in_transaction


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(default_database_url(tmp_path))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE note (body TEXT)"))
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_sqlite_writer_asks_again_while_another_process_holds_the_write_lock(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process's writer, as far as SQLite can tell: a connection of its own.
    other = sqlite3.connect(str(sqlite_engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    asked_again = threading.Event()
    real_sleep = db.time.sleep

    def sleep(seconds: float) -> None:
        assert seconds <= 0.002, "a waiting writer pauses a few milliseconds at most"
        asked_again.set()
        real_sleep(seconds)

    monkeypatch.setattr(db.time, "sleep", sleep)

    def write(session: Session) -> int:
        session.execute(text("INSERT INTO note (body) VALUES ('after the other writer')"))
        return 1

    results: list[int] = []
    writer = threading.Thread(
        target=lambda: results.append(run_in_transaction(sqlite_engine, write))
    )
    writer.start()
    assert asked_again.wait(timeout=30), "the writer never found the write lock taken"
    other.execute("COMMIT")
    writer.join()
    other.close()

    assert results == [1]
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM note")).scalars().all() == [
            "after the other writer"
        ]


def test_sqlite_writers_of_one_process_take_turns(sqlite_engine: Engine) -> None:
    inside = 0
    most_inside = 0
    count_lock = threading.Lock()

    def write(session: Session) -> None:
        nonlocal inside, most_inside
        with count_lock:
            inside += 1
            most_inside = max(most_inside, inside)
        session.execute(text("INSERT INTO note (body) VALUES ('one of many')"))
        with count_lock:
            inside -= 1

    threads = [
        threading.Thread(target=run_in_transaction, args=(sqlite_engine, write)) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most_inside == 1
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM note")).scalar_one() == 16


@pytest.mark.postgres
def test_a_pooled_postgresql_connection_the_server_ended_is_replaced_at_checkout() -> None:
    with postgres_schema() as url:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as connection:
                first_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            # Given back a moment ago: only the server's goodbye on its socket gives it away.
            admin_engine = make_engine(url, pool_size=1)
            with admin_engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
                gone = text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
                while not admin.execute(gone, {"pid": first_pid}).scalar_one():
                    admin.rollback()  # a fresh snapshot of the activity view
            admin_engine.dispose()
            with engine.connect() as connection:
                second_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        finally:
            engine.dispose()
    assert second_pid != first_pid


@pytest.mark.postgres
def test_a_pooled_postgresql_connection_in_use_a_moment_ago_is_not_pinged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with postgres_schema() as url:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            pings: list[object] = []
            monkeypatch.setattr(engine.dialect, "do_ping", pings.append)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            assert pings == []
            monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # as if it sat in the pool long
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            assert len(pings) == 1
        finally:
            engine.dispose()
