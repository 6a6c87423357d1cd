"""Imported files: what the scanner folder import registered, refused or found duplicated.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imported_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_code", sa.String(length=16), nullable=False),
        sa.Column("source_path", sa.String(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "registered",
                "rejected",
                "duplicate",
                name="import_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("accession_number", sa.String(length=32), nullable=True),
        sa.Column("slide_id", sa.Integer(), nullable=True),
        sa.Column("stored_path", sa.String(length=1024), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["slide_id"],
            ["slide.id"],
            name=op.f("fk_imported_file_slide_id_slide"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_file")),
    )
    with op.batch_alter_table("imported_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imported_file_sha256"), ["sha256"], unique=False)
        batch_op.create_index(
            "ix_imported_file_version", ["source_path", "size_bytes", "mtime_ns"], unique=False
        )
        batch_op.create_index(
            "uq_imported_file_one_registration_per_content",
            ["sha256"],
            unique=True,
            sqlite_where=sa.text("outcome = 'registered'"),
            postgresql_where=sa.text("outcome = 'registered'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("imported_file", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_imported_file_one_registration_per_content",
            sqlite_where=sa.text("outcome = 'registered'"),
            postgresql_where=sa.text("outcome = 'registered'"),
        )
        batch_op.drop_index("ix_imported_file_version")
        batch_op.drop_index(batch_op.f("ix_imported_file_sha256"))

    op.drop_table("imported_file")
