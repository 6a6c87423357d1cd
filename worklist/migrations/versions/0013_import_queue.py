"""The import queue (unmatched, flagged and waiting files).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: this revision is reserved for its issue's schema change."""


def downgrade() -> None:
    """Nothing to undo."""
