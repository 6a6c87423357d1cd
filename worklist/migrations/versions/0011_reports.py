"""Reports (versioned drafts, sign-out, addenda) and the question and answer of a consult.

New tables ``case_report``, ``case_report_version`` and ``case_report_addendum``; on
``assignment`` the nullable columns ``requested_by_id``, ``question``, ``answer`` and
``answered_at`` (existing assignments asked nothing: their questions were comments).

Everything is created or added in place, never a batch rebuild: on SQLite the rebuild of
``assignment`` would drop the old table inside a transaction with foreign keys enforced (see
0006 and 0009). Alembic cannot add a column with a foreign key on SQLite (it would want a
batch rebuild), so there the column is added with SQLite's own ``ALTER TABLE ... ADD COLUMN
... REFERENCES``, which changes the table in place; PostgreSQL adds the column and the
constraint as usual.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_REQUESTED_BY_FK = "fk_assignment_requested_by_id_pathologist"


def _pathologist_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["pathologist.id"], name=op.f(f"fk_{table}_{column}_pathologist")
    )


def _report_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["report_id"],
        ["case_report.id"],
        name=op.f(f"fk_{table}_report_id_case_report"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create the report tables and add the consult's question and answer."""
    op.create_table(
        "case_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_case_report_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        _pathologist_fk("signed_by_id", "case_report"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_report")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_report_case_id")),
    )
    op.create_table(
        "case_report_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("macroscopy", sa.Text(), nullable=False),
        sa.Column("microscopy", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=False),
        sa.Column("diagnosis_codes", sa.JSON(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by_id", sa.Integer(), nullable=False),
        _report_fk("case_report_version"),
        _pathologist_fk("saved_by_id", "case_report_version"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_report_version")),
        sa.UniqueConstraint("report_id", "version", name=op.f("uq_case_report_version_report_id")),
    )
    op.create_table(
        "case_report_addendum",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        _report_fk("case_report_addendum"),
        _pathologist_fk("signed_by_id", "case_report_addendum"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_report_addendum")),
    )
    op.create_index(
        op.f("ix_case_report_addendum_report_id"), "case_report_addendum", ["report_id"]
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE assignment ADD COLUMN requested_by_id INTEGER "
            f"CONSTRAINT {_REQUESTED_BY_FK} REFERENCES pathologist (id)"
        )
    else:
        op.add_column("assignment", sa.Column("requested_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            _REQUESTED_BY_FK, "assignment", "pathologist", ["requested_by_id"], ["id"]
        )
    op.add_column("assignment", sa.Column("question", sa.Text(), nullable=True))
    op.add_column("assignment", sa.Column("answer", sa.Text(), nullable=True))
    op.add_column("assignment", sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the consult's columns in place (SQLite 3.35+ drops a column, its inline foreign
    key with it, without a rebuild) and the report tables."""
    for column in ("answered_at", "answer", "question"):
        op.drop_column("assignment", column)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(_REQUESTED_BY_FK, "assignment", type_="foreignkey")
    op.drop_column("assignment", "requested_by_id")
    op.drop_index(op.f("ix_case_report_addendum_report_id"), table_name="case_report_addendum")
    for table in ("case_report_addendum", "case_report_version", "case_report"):
        op.drop_table(table)
