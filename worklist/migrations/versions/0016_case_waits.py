"""Pauses of the turnaround clock: a new table ``case_wait``.

One row per stretch of time a case waits on an external consult or a molecular test; the
capacity metrics leave those stretches out of its turnaround time. A new table only.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``case_wait``."""
    op.create_table(
        "case_wait",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "external_consult",
                "molecular_test",
                name="wait_reason",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_case_wait_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_wait")),
    )
    op.create_index(op.f("ix_case_wait_case_id"), "case_wait", ["case_id"])


def downgrade() -> None:
    """Drop ``case_wait``."""
    op.drop_index(op.f("ix_case_wait_case_id"), table_name="case_wait")
    op.drop_table("case_wait")
