"""Migration 0006: the role column admits privacy officers, and nothing stored is lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from tests.worklist.conftest import NOW
from worklist.db import make_engine
from worklist.migrate import alembic_config, upgrade_engine

_ACCOUNT = text(
    "INSERT INTO user_account (id, username, display_name, password_hash, role, active, "
    "created_at) VALUES (:id, :name, :name, 'x', :role, :active, :at)"
)


@pytest.fixture
def at_0005(database_url: str) -> Iterator[Engine]:
    """A database at revision 0005 with an administrator signed in (one live session)."""
    engine = make_engine(database_url, pool_size=1)
    upgrade_engine(engine, "0005")
    with engine.begin() as connection:
        connection.execute(
            _ACCOUNT, {"id": 1, "name": "admin", "role": "admin", "active": True, "at": NOW}
        )
        connection.execute(
            text(
                "INSERT INTO user_session (token_hash, user_id, created_at, last_seen_at) "
                "VALUES ('t', 1, :at, :at)"
            ),
            {"at": NOW},
        )
    yield engine
    engine.dispose()


def _add(engine: Engine, account_id: int, role: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            _ACCOUNT,
            {"id": account_id, "name": f"u{account_id}", "role": role, "active": True, "at": NOW},
        )


def test_upgrade_admits_privacy_officers_and_keeps_sessions(at_0005: Engine) -> None:
    upgrade_engine(at_0005, "0006")
    _add(at_0005, 2, "privacy_officer")
    with pytest.raises(IntegrityError):
        _add(at_0005, 3, "auditor")
    with at_0005.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM user_session")).scalar() == 1
        roles = connection.execute(text("SELECT role FROM user_account ORDER BY id")).scalars()
        assert list(roles) == ["admin", "privacy_officer"]


def test_downgrade_is_refused_while_a_privacy_officer_exists(at_0005: Engine) -> None:
    upgrade_engine(at_0005, "0006")
    _add(at_0005, 2, "privacy_officer")
    with pytest.raises(RuntimeError, match="privacy_officer"), at_0005.begin() as connection:
        command.downgrade(alembic_config(connection), "0005")
    with at_0005.begin() as connection:
        connection.execute(text("DELETE FROM user_account WHERE id = 2"))
    with at_0005.begin() as connection:
        command.downgrade(alembic_config(connection), "0005")
    with pytest.raises(DBAPIError):  # PostgreSQL: too long for the column; SQLite: the CHECK
        _add(at_0005, 2, "privacy_officer")
