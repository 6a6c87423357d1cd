"""Initial schema: organisation, cases and material, assignments, notes, audit chain.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


GENESIS_HASH = "0" * 64

_PG_APPEND_ONLY = """
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END
$$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
)


def _make_audit_append_only() -> None:
    """Refuse UPDATE and DELETE on the audit log in the database itself.

    The hash chain detects tampering by someone who can drop these triggers; the triggers
    stop everyone else (and every application bug) from changing the log at all.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for statement in _SQLITE_APPEND_ONLY:
            op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "accession_counter",
        sa.Column("site", sa.String(length=16), nullable=False),
        sa.Column("case_type", sa.String(length=1), nullable=False),
        sa.Column("year_2digit", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "site", "case_type", "year_2digit", name=op.f("pk_accession_counter")
        ),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "create",
                "read",
                "update",
                "delete",
                "execute",
                name="audit_action",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "success",
                "minor_failure",
                "serious_failure",
                "major_failure",
                name="audit_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=64), nullable=True),
        sa.Column("purpose_of_use", sa.String(length=32), nullable=False),
        sa.Column("site", sa.String(length=16), nullable=True),
        sa.Column("patient_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("accession_number", sa.String(length=32), nullable=True),
        sa.Column("slide_id", sa.Integer(), nullable=True),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_event_event_id")),
    )
    op.create_index(op.f("ix_audit_event_case_id"), "audit_event", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_audit_event_patient_pseudonym"), "audit_event", ["patient_pseudonym"], unique=False
    )

    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("code", name=op.f("uq_department_code")),
    )
    op.create_table(
        "pathologist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("fte", sa.Double(), nullable=False),
        sa.Column("max_open_minutes", sa.Double(), nullable=False),
        sa.Column("working_days", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("fte > 0 AND fte <= 1.5", name=op.f("ck_pathologist_fte_range")),
        sa.CheckConstraint(
            "max_open_minutes > 0", name=op.f("ck_pathologist_max_open_minutes_positive")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_pathologist_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathologist")),
        sa.UniqueConstraint("code", name=op.f("uq_pathologist_code")),
    )
    op.create_index(
        op.f("ix_pathologist_department_id"), "pathologist", ["department_id"], unique=False
    )

    op.create_table(
        "pathology_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accession_number", sa.String(length=32), nullable=False),
        sa.Column(
            "case_type",
            sa.Enum("T", "C", "O", name="case_type", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("patient_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("tumour_group", sa.String(length=64), nullable=False),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum(
                "frozen",
                "urgent",
                "cancer_pathway",
                "routine",
                name="priority",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("second_read_trigger", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "scanned",
                "assigned",
                "in_review",
                "consult_pending",
                "signed_out",
                name="case_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("signed_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "category BETWEEN 1 AND 6", name=op.f("ck_pathology_case_category_range")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_pathology_case_department_id_department"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pathology_case")),
        sa.UniqueConstraint("accession_number", name=op.f("uq_pathology_case_accession_number")),
    )
    op.create_index("ix_case_status_due", "pathology_case", ["status", "due_at"], unique=False)
    op.create_index(
        op.f("ix_pathology_case_department_id"), "pathology_case", ["department_id"], unique=False
    )
    op.create_index(
        op.f("ix_pathology_case_patient_pseudonym"),
        "pathology_case",
        ["patient_pseudonym"],
        unique=False,
    )

    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pathologist_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_absence_ordered")),
        sa.ForeignKeyConstraint(
            ["pathologist_id"],
            ["pathologist.id"],
            name=op.f("fk_absence_pathologist_id_pathologist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence")),
    )
    op.create_index(op.f("ix_absence_pathologist_id"), "absence", ["pathologist_id"], unique=False)

    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("pathologist_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "primary",
                "second_opinion",
                "consult",
                name="assignment_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_assignment_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pathologist_id"],
            ["pathologist.id"],
            name=op.f("fk_assignment_pathologist_id_pathologist"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
    )
    op.create_index(op.f("ix_assignment_case_id"), "assignment", ["case_id"], unique=False)
    op.create_index(
        "ix_assignment_pathologist_active", "assignment", ["pathologist_id", "active"], unique=False
    )
    op.create_index(
        "uq_assignment_one_active_primary",
        "assignment",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("active AND kind = 'primary'"),
        sqlite_where=sa.text("active AND kind = 'primary'"),
    )

    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_comment_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    op.create_index(op.f("ix_comment_case_id"), "comment", ["case_id"], unique=False)

    op.create_table(
        "pathologist_subspecialty",
        sa.Column("pathologist_id", sa.Integer(), nullable=False),
        sa.Column("subspecialty", sa.String(length=64), nullable=False),
        sa.Column("experienced", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pathologist_id"],
            ["pathologist.id"],
            name=op.f("fk_pathologist_subspecialty_pathologist_id_pathologist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "pathologist_id", "subspecialty", name=op.f("pk_pathologist_subspecialty")
        ),
    )
    op.create_index(
        op.f("ix_pathologist_subspecialty_subspecialty"),
        "pathologist_subspecialty",
        ["subspecialty"],
        unique=False,
    )

    op.create_table(
        "specimen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["pathology_case.id"],
            name=op.f("fk_specimen_case_id_pathology_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_specimen")),
        sa.UniqueConstraint("case_id", "label", name=op.f("uq_specimen_case_id")),
    )
    op.create_index(op.f("ix_specimen_case_id"), "specimen", ["case_id"], unique=False)

    op.create_table(
        "block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("specimen_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["specimen_id"],
            ["specimen.id"],
            name=op.f("fk_block_specimen_id_specimen"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_block")),
        sa.UniqueConstraint("specimen_id", "label", name=op.f("uq_block_specimen_id")),
    )
    op.create_index(op.f("ix_block_specimen_id"), "block", ["specimen_id"], unique=False)

    op.create_table(
        "slide",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("stain", sa.String(length=64), nullable=False),
        sa.Column("file_path", sa.String(length=1024), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "pyramid_status",
            sa.Enum(
                "none",
                "queued",
                "building",
                "ready",
                "failed",
                name="pyramid_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["block_id"], ["block.id"], name=op.f("fk_slide_block_id_block"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slide")),
    )
    op.create_index(op.f("ix_slide_block_id"), "slide", ["block_id"], unique=False)

    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slide_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("geojson", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["slide_id"],
            ["slide.id"],
            name=op.f("fk_annotation_slide_id_slide"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation")),
    )
    op.create_index(op.f("ix_annotation_slide_id"), "annotation", ["slide_id"], unique=False)

    chain_head = sa.table(
        "audit_chain_head",
        sa.column("id", sa.Integer()),
        sa.column("last_seq", sa.Integer()),
        sa.column("last_hash", sa.String()),
    )
    op.bulk_insert(chain_head, [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}])
    _make_audit_append_only()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    op.drop_index(op.f("ix_annotation_slide_id"), table_name="annotation")

    op.drop_table("annotation")
    op.drop_index(op.f("ix_slide_block_id"), table_name="slide")

    op.drop_table("slide")
    op.drop_index(op.f("ix_block_specimen_id"), table_name="block")

    op.drop_table("block")
    op.drop_index(op.f("ix_specimen_case_id"), table_name="specimen")

    op.drop_table("specimen")
    op.drop_index(
        op.f("ix_pathologist_subspecialty_subspecialty"), table_name="pathologist_subspecialty"
    )

    op.drop_table("pathologist_subspecialty")
    op.drop_index(op.f("ix_comment_case_id"), table_name="comment")

    op.drop_table("comment")
    op.drop_index(
        "uq_assignment_one_active_primary",
        table_name="assignment",
        postgresql_where=sa.text("active AND kind = 'primary'"),
        sqlite_where=sa.text("active AND kind = 'primary'"),
    )
    op.drop_index("ix_assignment_pathologist_active", table_name="assignment")
    op.drop_index(op.f("ix_assignment_case_id"), table_name="assignment")

    op.drop_table("assignment")
    op.drop_index(op.f("ix_absence_pathologist_id"), table_name="absence")

    op.drop_table("absence")
    op.drop_index(op.f("ix_pathology_case_patient_pseudonym"), table_name="pathology_case")
    op.drop_index(op.f("ix_pathology_case_department_id"), table_name="pathology_case")
    op.drop_index("ix_case_status_due", table_name="pathology_case")

    op.drop_table("pathology_case")
    op.drop_index(op.f("ix_pathologist_department_id"), table_name="pathologist")

    op.drop_table("pathologist")
    op.drop_table("department")
    op.drop_index(op.f("ix_audit_event_patient_pseudonym"), table_name="audit_event")
    op.drop_index(op.f("ix_audit_event_case_id"), table_name="audit_event")

    op.drop_table("audit_event")
    op.drop_table("audit_chain_head")
    op.drop_table("accession_counter")
