"""Assignment rounds (preview, approval, apply).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet: this revision is reserved for its issue's schema change."""


def downgrade() -> None:
    """Nothing to undo."""
