"""User names unique without regard to case: ``user_account.username_key``.

The casefolded name, under a unique index. (An expression index on ``lower(username)`` would
do the same, but SQLAlchemy cannot reflect one on SQLite, so the schema check could not see
it.) A database already holding two names that differ only in case (``Alice``, ``alice``)
cannot take the index: the upgrade stops and names them, for an administrator to rename one.

No batch rebuild of ``user_account`` on SQLite: with foreign keys enforced, dropping the old
table would delete every sign-in session and fail on any case grant (see 0006). The column is
added in place instead; SQLite adds a NOT NULL column only with a default, so it gets ``''``
there, which the rows are given their key over at once (PostgreSQL drops the default again).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TABLE = "user_account"
_INDEX = "ix_user_account_username_key"


def upgrade() -> None:
    """Add the casefolded name to every account, unique."""
    op.add_column(
        _TABLE,
        sa.Column("username_key", sa.String(length=64), nullable=False, server_default=""),
    )
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        op.alter_column(_TABLE, "username_key", server_default=None)
    accounts = sa.table(
        _TABLE,
        sa.column("id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("username_key", sa.String()),
    )
    names: dict[str, list[str]] = {}
    for account_id, username in connection.execute(sa.select(accounts.c.id, accounts.c.username)):
        # The same folding as worklist.models.access.username_key (casefold, not SQL lower).
        key = username.casefold()
        names.setdefault(key, []).append(username)
        connection.execute(
            accounts.update().where(accounts.c.id == account_id).values(username_key=key)
        )
    clashes = sorted(sorted(same) for same in names.values() if len(same) > 1)
    if clashes:
        raise RuntimeError(
            "user names that differ only in case must be renamed before this upgrade: "
            + "; ".join(", ".join(repr(name) for name in same) for same in clashes)
        )
    op.create_index(_INDEX, _TABLE, ["username_key"], unique=True)


def downgrade() -> None:
    """Drop the casefolded name (SQLite 3.35+ drops a column in place)."""
    op.drop_index(_INDEX, table_name=_TABLE)
    op.drop_column(_TABLE, "username_key")
