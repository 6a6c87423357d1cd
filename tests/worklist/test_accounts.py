"""Accounts: names unique whatever their case, role and department rules, updates, passwords."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from tests.worklist.conftest import NOW
from worklist.accounts import (
    AccountConflictError,
    NewUser,
    UserChanges,
    change_password,
    create_user,
    find_user_by_username,
    update_user,
)
from worklist.actor import Actor
from worklist.db import make_engine, read_session
from worklist.enums import Role
from worklist.errors import NotPermittedError, ValidationError
from worklist.migrate import alembic_config, upgrade_engine
from worklist.models import AuditEvent, Department, UserAccount, UserSession
from worklist.seeding import ImportSummary
from worklist.sessions import start_session

ADMIN = Actor(user_id="admin", role=Role.ADMIN)
SYSTEM = Actor.system()


def add(engine: Engine, username: str, role: Role = Role.LAB_MANAGER, **links: str) -> int:
    return create_user(
        engine=engine,
        actor=SYSTEM,
        user=NewUser(username, username.title(), "hash-of-" + username, role, **links),
    )


def accounts(engine: Engine) -> list[tuple[str, str, bool]]:
    with read_session(engine) as session:
        rows = session.execute(
            select(UserAccount.username, UserAccount.role, UserAccount.active).order_by("id")
        )
        return [(name, role.value, active) for name, role, active in rows]


def events(engine: Engine, event_type: str) -> list[dict[str, object]]:
    with read_session(engine) as session:
        details = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.event_type == event_type)
        ).all()
    return [json.loads(detail) for detail in details]


def test_user_names_are_one_name_whatever_their_case(
    engine: Engine, region_ids: ImportSummary
) -> None:
    add(engine, "Alice", department_code="HMC")
    with pytest.raises(AccountConflictError, match="'alice' is taken already \\(as 'Alice'\\)"):
        add(engine, "alice", department_code="HMC")
    bob = add(engine, "bob", department_code="HMC")
    with pytest.raises(AccountConflictError, match="taken already"):
        update_user(engine=engine, actor=ADMIN, user_id=bob, changes=UserChanges(username="ALICE"))
    assert accounts(engine) == [("Alice", "lab_manager", True), ("bob", "lab_manager", True)]
    update_user(engine=engine, actor=ADMIN, user_id=bob, changes=UserChanges(username="Bob"))
    with read_session(engine) as session:
        found = find_user_by_username(session, "aLiCe")
        assert found is not None and found.username == "Alice"
        assert find_user_by_username(session, "BOB") is not None


def test_the_database_holds_the_rule_too(engine: Engine, region_ids: ImportSummary) -> None:
    add(engine, "Alice")
    row = {
        "username": "alice",
        "username_key": "alice",
        "display_name": "x",
        "password_hash": "x",
        "role": "lab_manager",
        "active": True,
        "created_at": NOW,
    }
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(UserAccount.__table__), row)


def test_no_account_has_the_system_role(engine: Engine, region_ids: ImportSummary) -> None:
    with pytest.raises(ValidationError, match="system role"):
        add(engine, "robot", Role.SYSTEM)
    manager = add(engine, "manager", department_code="HMC")
    with pytest.raises(ValidationError, match="system role"):
        update_user(
            engine=engine, actor=ADMIN, user_id=manager, changes=UserChanges(role=Role.SYSTEM)
        )
    assert accounts(engine) == [("manager", "lab_manager", True)]


def test_a_pathologist_account_is_at_its_pathologists_department(
    engine: Engine, region_ids: ImportSummary
) -> None:
    with pytest.raises(ValidationError, match="'HMC-01' works at department 'HMC'"):
        add(engine, "devries", Role.PATHOLOGIST, pathologist_code="HMC-01", department_code="LUMC")
    devries = add(engine, "devries", Role.PATHOLOGIST, pathologist_code="HMC-01")
    with pytest.raises(ValidationError, match="must be that one"):
        update_user(
            engine=engine, actor=ADMIN, user_id=devries, changes=UserChanges(department_code="LUMC")
        )
    # A new link brings its department along.
    update_user(
        engine=engine, actor=ADMIN, user_id=devries, changes=UserChanges(pathologist_code="LUMC-01")
    )
    with read_session(engine) as session:
        account = session.get(UserAccount, devries)
        assert account is not None and account.department is not None
        assert account.department.code == "LUMC"
        assert account.pathologist_id == region_ids.pathologist_ids["LUMC-01"]
    with pytest.raises(ValidationError, match="must be linked"):
        update_user(
            engine=engine, actor=ADMIN, user_id=devries, changes=UserChanges(pathologist_code=None)
        )
    with pytest.raises(AccountConflictError, match="has an account already: 'devries'"):
        add(engine, "bakker", Role.PATHOLOGIST, pathologist_code="LUMC-01")


def test_an_update_is_audited_without_the_password(
    engine: Engine, region_ids: ImportSummary
) -> None:
    manager = add(engine, "manager", department_code="HMC")
    changes = UserChanges(display_name="M. Anager", password_hash="$argon2id$new", role=Role.ADMIN)
    update_user(engine=engine, actor=ADMIN, user_id=manager, changes=changes)
    [record] = events(engine, "user.update")
    assert record == {
        "user": manager,
        "changes": {"display_name": "M. Anager", "role": "admin", "password": "reset"},
    }
    with read_session(engine) as session:
        account = session.get(UserAccount, manager)
        assert account is not None and account.password_hash == "$argon2id$new"


def test_only_managers_update_accounts_and_a_refusal_is_audited(
    engine: Engine, region_ids: ImportSummary
) -> None:
    manager = add(engine, "manager", department_code="HMC")
    pathologist = Actor(user_id="devries", role=Role.PATHOLOGIST, site="HMC")
    with pytest.raises(NotPermittedError):
        update_user(
            engine=engine, actor=pathologist, user_id=manager, changes=UserChanges(active=False)
        )
    [refusal] = events(engine, "user.update")
    assert refusal["refused"] == "NotPermittedError"
    assert accounts(engine) == [("manager", "lab_manager", True)]


def test_disabling_ends_the_sessions_and_re_enabling_lets_them_sign_in_again(
    engine: Engine, region_ids: ImportSummary
) -> None:
    manager = add(engine, "manager", department_code="HMC")
    for _ in range(2):
        start_session(engine=engine, actor=SYSTEM, user_id=manager)
    update_user(engine=engine, actor=ADMIN, user_id=manager, changes=UserChanges(active=False))
    with read_session(engine) as session:
        reasons = session.scalars(select(UserSession.end_reason)).all()
        assert reasons == ["account_disabled", "account_disabled"]
        assert find_user_by_username(session, "manager") is None
    [ended] = events(engine, "auth.sessions_end")
    assert ended["sessions"] == 2
    update_user(engine=engine, actor=ADMIN, user_id=manager, changes=UserChanges(active=True))
    with read_session(engine) as session:
        assert find_user_by_username(session, "manager") is not None


def test_the_last_active_administrator_stays(engine: Engine, region_ids: ImportSummary) -> None:
    admin = add(engine, "admin", Role.ADMIN)
    for changes in (UserChanges(active=False), UserChanges(role=Role.LAB_MANAGER)):
        with pytest.raises(AccountConflictError, match="no active administrator"):
            update_user(engine=engine, actor=ADMIN, user_id=admin, changes=changes)
    add(engine, "second", Role.ADMIN)
    update_user(engine=engine, actor=ADMIN, user_id=admin, changes=UserChanges(active=False))
    assert accounts(engine) == [("admin", "admin", False), ("second", "admin", True)]


def test_changing_ones_password_ends_the_other_sessions(
    engine: Engine, region_ids: ImportSummary
) -> None:
    manager = add(engine, "manager", department_code="HMC")
    _, kept = start_session(engine=engine, actor=SYSTEM, user_id=manager)
    _, other = start_session(engine=engine, actor=SYSTEM, user_id=manager)
    actor = Actor(user_id="manager", role=Role.LAB_MANAGER, site="HMC")
    ended = change_password(
        engine=engine, actor=actor, user_id=manager, password_hash="$new", keep_session_id=kept
    )
    assert ended == 1
    with read_session(engine) as session:
        kept_row, other_row = session.get(UserSession, kept), session.get(UserSession, other)
        assert kept_row is not None and kept_row.ended_at is None
        assert other_row is not None and other_row.end_reason == "password_changed"
        account = session.get(UserAccount, manager)
        assert account is not None and account.password_hash == "$new"
    assert events(engine, "user.password_change") == [{"user": manager}]
    # The other sessions end in one step, one record naming how many.
    assert events(engine, "auth.sessions_end") == [
        {"user": manager, "sessions": 1, "reason": "password_changed"}
    ]


def test_the_migration_stops_on_names_that_differ_only_in_case(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_engine(engine, "0006")
        with engine.begin() as connection:
            connection.execute(
                insert(Department.__table__), {"code": "HMC", "name": "H", "city": "D"}
            )
            for name in ("Alice", "alice", "bob"):
                connection.execute(
                    text(
                        "INSERT INTO user_account (username, display_name, password_hash, role, "
                        "active, created_at) VALUES (:name, 'x', 'x', 'admin', :active, :at)"
                    ),
                    {"name": name, "active": True, "at": NOW},
                )
        with pytest.raises(RuntimeError, match="renamed before this upgrade: 'Alice', 'alice'"):
            upgrade_engine(engine)
    finally:
        engine.dispose()


def test_the_migration_keeps_sessions_and_fills_the_key(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        upgrade_engine(engine, "0006")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO user_account (id, username, display_name, password_hash, role, "
                    "active, created_at) VALUES (1, 'JdeVries', 'x', 'x', 'admin', :t, :at)"
                ),
                {"t": True, "at": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO user_session (token_hash, user_id, created_at, last_seen_at) "
                    "VALUES ('t', 1, :at, :at)"
                ),
                {"at": NOW},
            )
        upgrade_engine(engine)
        with read_session(engine) as session:
            assert session.scalar(select(UserAccount.username_key)) == "jdevries"
            assert session.scalar(select(UserSession.user_id)) == 1
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0006")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM user_session")).scalar() == 1
    finally:
        engine.dispose()
