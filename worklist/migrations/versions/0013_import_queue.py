"""The import queue: what is wrong with a file the import could not take, and its resolution.

On ``imported_file`` the nullable columns ``problem`` (why: ``no_case``, ``unreadable``,
``wrong_department``, ``unknown_block``, ``unknown_department_folder``, ``post_sign_out``, ...),
``queue_status`` (``open`` until a lab manager links or discards it; ``flagged`` for a slide
registered with a note, e.g. after sign-out), ``resolved_at``, ``resolved_by`` and
``resolution_note``. Plain columns without foreign keys, so both SQLite and PostgreSQL add them
in place. Existing refused rows become ``open`` with the problem ``unknown`` (their reason text
stays as it was).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_COLUMNS = ("problem", "queue_status", "resolved_at", "resolved_by", "resolution_note")


def upgrade() -> None:
    """Add the queue's columns and put the files refused so far in the queue."""
    op.add_column("imported_file", sa.Column("problem", sa.String(32), nullable=True))
    op.add_column("imported_file", sa.Column("queue_status", sa.String(16), nullable=True))
    op.add_column(
        "imported_file", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("imported_file", sa.Column("resolved_by", sa.String(64), nullable=True))
    op.add_column("imported_file", sa.Column("resolution_note", sa.Text(), nullable=True))
    op.create_index("ix_imported_file_queue_status", "imported_file", ["queue_status"])
    op.execute(
        "UPDATE imported_file SET queue_status = 'open', problem = 'unknown' "
        "WHERE outcome = 'rejected'"
    )


def downgrade() -> None:
    """Drop the queue's columns (the outcome and reason of every file stay)."""
    op.drop_index("ix_imported_file_queue_status", table_name="imported_file")
    for column in reversed(_COLUMNS):
        op.drop_column("imported_file", column)
