"""Moves with a reason and out-of-subspecialty confirmation.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: this revision is reserved for its issue's schema change."""


def downgrade() -> None:
    """Nothing to undo."""
