"""Rosters and absences.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: this revision is reserved for its issue's schema change."""


def downgrade() -> None:
    """Nothing to undo."""
