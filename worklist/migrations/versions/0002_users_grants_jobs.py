"""Users and case grants (access), tiling jobs (kept across restarts).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "pathologist",
                "lab_manager",
                "admin",
                "system",
                name="user_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("pathologist_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_user_account_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["pathologist_id"],
            ["pathologist.id"],
            name=op.f("fk_user_account_pathologist_id_pathologist"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("pathologist_id", name=op.f("uq_user_account_pathologist_id")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_account_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "case_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "consult",
                "break_glass",
                name="grant_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("granted_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_case_grant_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_case_grant_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_grant")),
    )
    with op.batch_alter_table("case_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_grant_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_grant_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tiling_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slide_id", sa.Integer(), nullable=True),
        sa.Column("source_path", sa.String(length=1024), nullable=False),
        sa.Column("output_dir", sa.String(length=1024), nullable=False),
        sa.Column("pyramid_name", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="job_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("tiles_done", sa.Integer(), nullable=False),
        sa.Column("tiles_total", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["slide_id"],
            ["slide.id"],
            name=op.f("fk_tiling_job_slide_id_slide"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tiling_job")),
    )
    with op.batch_alter_table("tiling_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tiling_job_slide_id"), ["slide_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tiling_job_status"), ["status"], unique=False)
    # A slide has at most one unfinished job: a second registration cannot run it twice.
    op.create_index(
        "uq_tiling_job_one_open_per_slide",
        "tiling_job",
        ["slide_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('queued', 'running')"),
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("uq_tiling_job_one_open_per_slide", table_name="tiling_job")
    with op.batch_alter_table("tiling_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tiling_job_status"))
        batch_op.drop_index(batch_op.f("ix_tiling_job_slide_id"))

    op.drop_table("tiling_job")
    with op.batch_alter_table("case_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_grant_user_id"))
        batch_op.drop_index(batch_op.f("ix_case_grant_case_id"))

    op.drop_table("case_grant")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_department_id"))

    op.drop_table("user_account")
