"""Assignment rounds (preview, approval, apply).

Three new tables: ``assignment_round`` (one previewed round and its snapshot fingerprint),
``round_proposal`` (its proposals, and which were applied) and ``round_unplaced`` (what it
left unplaced, with why). New tables only, so SQLite needs no in-place tricks.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _round_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["round_id"],
        ["assignment_round.id"],
        name=op.f(f"fk_{table}_round_id_assignment_round"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "assignment_round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("planned_by", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("snapshot_digest", sa.String(length=64), nullable=False),
        sa.Column("snapshot_state", sa.JSON(), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_round")),
    )
    op.create_table(
        "round_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("pathologist_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("placement", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("overloaded", sa.Boolean(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        _round_fk("round_proposal"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_proposal")),
    )
    op.create_index(op.f("ix_round_proposal_round_id"), "round_proposal", ["round_id"])
    op.create_table(
        "round_unplaced",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _round_fk("round_unplaced"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_round_unplaced")),
    )
    op.create_index(op.f("ix_round_unplaced_round_id"), "round_unplaced", ["round_id"])
    op.create_index(op.f("ix_round_unplaced_case_id"), "round_unplaced", ["case_id"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index(op.f("ix_round_unplaced_case_id"), table_name="round_unplaced")
    op.drop_index(op.f("ix_round_unplaced_round_id"), table_name="round_unplaced")
    op.drop_table("round_unplaced")
    op.drop_index(op.f("ix_round_proposal_round_id"), table_name="round_proposal")
    op.drop_table("round_proposal")
    op.drop_table("assignment_round")
