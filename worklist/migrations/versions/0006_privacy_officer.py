"""The privacy officer role (reads the audit log, sees no clinical content).

``user_account.role`` is a VARCHAR with a CHECK constraint listing the roles: both widen, to
``VARCHAR(15)`` and the list with ``privacy_officer``.

PostgreSQL alters the column and replaces the constraint. SQLite cannot alter a CHECK, and
the usual way round it, a batch rebuild of the table, is not safe for this one: the upgrade
runs in one transaction with foreign keys enforced, where dropping the old ``user_account``
deletes every sign-in session (``ON DELETE CASCADE``) and fails on any case grant. A wider
CHECK and a longer VARCHAR change nothing stored, so SQLite's documented procedure for such
changes applies instead (https://sqlite.org/lang_altertable.html, "Making Other Kinds Of
Table Schema Changes"): the table's definition is rewritten in the schema table, the schema
version bumped, and the database checked, all in the upgrade's own transaction.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLE = "user_account"
_CONSTRAINT = "ck_user_account_user_role"
_BEFORE = ("pathologist", "lab_manager", "admin", "system")
_AFTER = (*_BEFORE, "privacy_officer")


def _length(roles: tuple[str, ...]) -> int:
    return max(len(role) for role in roles)


def _check(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


def upgrade() -> None:
    """Admit ``privacy_officer`` in ``user_account.role``."""
    _change_roles(_BEFORE, _AFTER)


def downgrade() -> None:
    """Back to the four roles; refused while a privacy officer's account exists."""
    officers = op.get_bind().scalar(
        sa.text(f"SELECT count(*) FROM {_TABLE} WHERE role = 'privacy_officer'")
    )
    if officers:
        raise RuntimeError(
            f"{officers} account(s) have the role privacy_officer: change or remove them "
            "before downgrading below revision 0006"
        )
    _change_roles(_AFTER, _BEFORE)


def _change_roles(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rewrite_sqlite_definition(before, after)
        return
    op.drop_constraint(op.f(_CONSTRAINT), _TABLE, type_="check")
    op.alter_column(
        _TABLE,
        "role",
        existing_type=sa.String(_length(before)),
        type_=sa.String(_length(after)),
        existing_nullable=False,
    )
    op.create_check_constraint(op.f(_CONSTRAINT), _TABLE, _check(after))


def _rewrite_sqlite_definition(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    """Replace the role column's type and CHECK in the table's stored ``CREATE TABLE``."""
    connection = op.get_bind()
    definition = connection.scalar(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": _TABLE},
    )
    replacements = (
        (f"role VARCHAR({_length(before)}) NOT NULL", f"role VARCHAR({_length(after)}) NOT NULL"),
        (f"CHECK ({_check(before)})", f"CHECK ({_check(after)})"),
    )
    for old, new in replacements:
        if definition is None or definition.count(old) != 1:
            raise RuntimeError(
                f"{_TABLE} is not defined as revision 0005 left it (no single {old!r}); "
                "not changing it"
            )
        definition = definition.replace(old, new)
    schema_version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
    connection.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        connection.execute(
            sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"),
            {"sql": definition, "name": _TABLE},
        )
        # Every connection (this one too) rereads the schema when its version changes.
        connection.exec_driver_sql(f"PRAGMA schema_version = {int(schema_version) + 1}")
    finally:
        connection.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = [row[0] for row in connection.exec_driver_sql("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise RuntimeError(f"{_TABLE} failed the integrity check: {'; '.join(problems)}")
