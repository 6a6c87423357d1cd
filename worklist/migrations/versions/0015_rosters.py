"""Rosters and absences: no schema change.

The part-time pattern is ``pathologist.working_days`` and an absence's kind (leave, sickness,
course, other) is ``absence.reason``, both since 0001; public holidays come from the
``holidays`` library at run time, not from a table. The revision stays so the chain is whole.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change (see the module docstring)."""


def downgrade() -> None:
    """Nothing to undo."""
