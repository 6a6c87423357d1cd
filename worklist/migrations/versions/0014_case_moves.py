"""Moves with a reason and out-of-subspecialty confirmation.

A new table ``case_move``: one row per hand assignment or reassignment of a case's primary
read by a lab manager, with the reason given and whether the move was confirmed outside the
new pathologist's subspecialties. A new table only, so SQLite needs no in-place tricks.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _pathologist_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["pathologist.id"], name=op.f(f"fk_case_move_{column}_pathologist")
    )


def upgrade() -> None:
    """Create ``case_move``."""
    op.create_table(
        "case_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("from_pathologist_id", sa.Integer(), nullable=True),
        sa.Column("to_pathologist_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("outside_subspecialty", sa.Boolean(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_case_move_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_case_move_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        _pathologist_fk("from_pathologist_id"),
        _pathologist_fk("to_pathologist_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_move")),
    )
    op.create_index(op.f("ix_case_move_case_id"), "case_move", ["case_id"])


def downgrade() -> None:
    """Drop ``case_move``."""
    op.drop_index(op.f("ix_case_move_case_id"), table_name="case_move")
    op.drop_table("case_move")
