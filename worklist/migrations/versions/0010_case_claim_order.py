"""A case's priority rank as a column, and the index claim-next and the urgent-first lists
walk: (status, priority_rank, due_at, id).

Claim-next takes the first claimable case in the order (priority rank, due date, id). With the
rank computed by a CASE expression, every claim sorted every open case; with a column and an
index in that order, the database reads the index from its start and stops at the first case
it may take. ``Case.priority_rank`` is kept by the model whenever ``priority`` is set.

Only added in place (no rebuild of ``pathology_case`` on SQLite, see 0006 and 0009): the
column with a server default, filled from ``priority``, then the index.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TABLE = "pathology_case"
_INDEX = "ix_case_claim_order"
# Priority.rank of each value when this migration was written (worklist.enums.Priority).
_RANKS = {"frozen": 0, "urgent": 1, "cancer_pathway": 2, "routine": 3}


def upgrade() -> None:
    """Add and fill ``priority_rank``, then index the claim order."""
    op.add_column(
        _TABLE,
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False, server_default="3"),
    )
    case = sa.table(_TABLE, sa.column("priority", sa.String()), sa.column("priority_rank"))
    for priority, rank in _RANKS.items():
        op.execute(case.update().where(case.c.priority == priority).values(priority_rank=rank))
    op.create_index(_INDEX, _TABLE, ["status", "priority_rank", "due_at", "id"])


def downgrade() -> None:
    """Drop the index and the column (in place: SQLite 3.35+ drops a column without the
    table rebuild that would cascade-delete every case's material)."""
    op.drop_index(_INDEX, table_name=_TABLE)
    op.drop_column(_TABLE, "priority_rank")
