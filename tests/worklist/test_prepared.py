"""worklist.prepared: a SELECT compiled once gives what SQLAlchemy's own execution gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Select, bindparam, select, text
from sqlalchemy.exc import DBAPIError

from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.enums import Role
from worklist.models import Department, UserAccount, UserSession
from worklist.models.base import UTCDateTime
from worklist.prepared import PreparedSelect
from worklist.sessions import start_session


def _query() -> Select[Any]:
    columns: list[Any] = [
        UserSession.id.label("session_id"),
        UserSession.created_at,
        UserSession.ended_at,
        UserAccount.role,
        UserAccount.active,
        Department.code.label("department_code"),
        (UserSession.created_at < bindparam("now", type_=UTCDateTime())).label("before"),
    ]
    return (
        select(*columns)
        .join(UserAccount, UserAccount.id == UserSession.user_id)
        .outerjoin(Department, Department.id == UserAccount.department_id)
        .where(UserSession.id == bindparam("session_id"), UserAccount.role != Role.SYSTEM)
    )


def test_a_prepared_select_reads_what_sqlalchemy_reads(engine: Engine, region_ids: object) -> None:
    user_id = create_user(
        engine=engine,
        actor=Actor.system(),
        user=NewUser(
            username="manager",
            display_name="Manager",
            password_hash="x",
            role=Role.LAB_MANAGER,
            department_code="HMC",
        ),
    )
    _, session_id = start_session(engine=engine, actor=Actor.system(), user_id=user_id)
    later = datetime.now(UTC) + timedelta(minutes=1)
    prepared = PreparedSelect(engine, _query())
    with engine.connect() as connection:
        row = prepared.first(connection, {"session_id": session_id, "now": later})
        expected = connection.execute(_query(), {"session_id": session_id, "now": later}).one()
        assert prepared.first(connection, {"session_id": session_id + 1, "now": later}) is None
    assert row is not None
    assert (row.session_id, row.role, row.department_code) == (session_id, Role.LAB_MANAGER, "HMC")
    assert row.role is Role.LAB_MANAGER  # the enum, as the ORM gives it
    assert row.created_at == expected.created_at and row.created_at.tzinfo is UTC
    assert row.ended_at is None and bool(row.active) and bool(row.before)


def test_a_driver_error_is_raised_as_sqlalchemys(engine: Engine) -> None:
    prepared = PreparedSelect(engine, select(text("1 FROM no_such_table")))
    with engine.connect() as connection, pytest.raises(DBAPIError):
        prepared.first(connection, {})
