"""Slides withdrawn by a lab manager (kept on disk until the retention period passes).

``withdrawn_at``, ``withdrawn_by`` and ``withdrawal_reason`` say who withdrew a slide, when
and why; ``purged_at`` when its files were deleted after the retention period. All nullable:
existing slides are not withdrawn.

Columns are only added, never a batch rebuild of ``slide``: on SQLite the migration runs with
foreign keys enforced in one transaction, and dropping the old table would cascade-delete the
tiling jobs and annotations of every slide (see 0006). ``ADD COLUMN`` and ``CREATE INDEX``
change the table in place on both databases.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLE = "slide"
_INDEX = "ix_slide_withdrawn_at"


def upgrade() -> None:
    """Add the withdrawal columns (nullable) and the index the purge looks slides up by."""
    op.add_column(_TABLE, sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(_TABLE, sa.Column("withdrawn_by", sa.String(length=64), nullable=True))
    op.add_column(_TABLE, sa.Column("withdrawal_reason", sa.String(length=1000), nullable=True))
    op.add_column(_TABLE, sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(_INDEX, _TABLE, ["withdrawn_at"])


def downgrade() -> None:
    """Drop them again (SQLite 3.35+ drops a column in place; the index goes first)."""
    op.drop_index(_INDEX, table_name=_TABLE)
    for column in ("purged_at", "withdrawal_reason", "withdrawn_by", "withdrawn_at"):
        op.drop_column(_TABLE, column)
