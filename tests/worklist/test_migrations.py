"""Migrations: an empty database upgrades to the models' schema, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.worklist.conftest import NOW, Factory
from worklist.db import default_database_url, make_engine
from worklist.migrate import alembic_config, schema_differences, upgrade_database
from worklist.models import Base


def test_upgrade_creates_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_models_match_migrations(engine: Engine) -> None:
    assert schema_differences(engine) == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade_database(database_url)
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        expected = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head == expected is not None
    finally:
        engine.dispose()


def test_default_database_url_is_a_file_in_the_data_dir(tmp_path: Path) -> None:
    url = default_database_url(tmp_path / "data")
    assert url.startswith("sqlite")
    assert url.endswith(str(tmp_path / "data" / "worklist.sqlite3"))


def test_sqlite_runs_in_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(default_database_url(tmp_path))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        make_engine("sqlite://")


def test_database_refuses_a_second_active_primary(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    insert = text(
        "INSERT INTO assignment (case_id, pathologist_id, kind, active, assigned_at, "
        "assigned_by, rule) VALUES (:case_id, :p, 'primary', :active, :at, 'sql', 'test')"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"case_id": case_id, "p": 1, "active": True, "at": NOW})
        # Inactive history rows and other kinds are fine.
        connection.execute(insert, {"case_id": case_id, "p": 2, "active": False, "at": NOW})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {"case_id": case_id, "p": 2, "active": True, "at": NOW})


def test_audit_table_refuses_update_and_delete(engine: Engine, factory: Factory) -> None:
    factory.cases()
    for statement in ("UPDATE audit_event SET user_id = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
