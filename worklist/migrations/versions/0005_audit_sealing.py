"""The audit log appended without a global lock and sealed into the chain in order.

``audit_event.seq`` becomes the database's own number (autoincrement); new columns
``content_hash`` (written with the record) and ``chain_seq`` (its place in the chain, set by
the sealer, with ``prev_hash`` and ``record_hash``, which may now be NULL until then). Records
already in the log were sealed in ``seq`` order, so their ``chain_seq`` is their ``seq`` and
their hashes stay valid as they are (see :mod:`worklist.audit`). Indexes on ``occurred_at`` and
``user_id`` serve the audit log's readers.

The append-only triggers are replaced by ones that allow exactly one change: filling the
three chain columns of a record not yet sealed, nothing else touched.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHAIN_COLUMNS = ("chain_seq", "prev_hash", "record_hash")
_CONTENT_COLUMNS = (
    "seq",
    "event_id",
    "occurred_at",
    "event_type",
    "action",
    "outcome",
    "user_id",
    "role",
    "on_behalf_of",
    "purpose_of_use",
    "site",
    "patient_pseudonym",
    "case_id",
    "accession_number",
    "slide_id",
    "break_glass",
    "detail",
    "content_hash",
)

# The sealing UPDATE: from no chain columns at all to all three, every other column unchanged.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL AND OLD.record_hash IS NULL
        AND NEW.chain_seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
        AND NEW.record_hash IS NOT NULL
        AND to_jsonb(NEW) - ARRAY['chain_seq', 'prev_hash', 'record_hash']
            = to_jsonb(OLD) - ARRAY['chain_seq', 'prev_hash', 'record_hash']
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_event is append-only';
END
$$
"""
_PG_FUNCTION_BEFORE = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END
$$
"""
_SQLITE_SEALING = " AND ".join(
    [
        *(f"OLD.{c} IS NULL" for c in _CHAIN_COLUMNS),
        *(f"NEW.{c} IS NOT NULL" for c in _CHAIN_COLUMNS),
        *(f"NEW.{c} IS OLD.{c}" for c in _CONTENT_COLUMNS),
    ]
)
_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    f"WHEN NOT ({_SQLITE_SEALING}) "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
)
_SQLITE_NO_UPDATE_BEFORE = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
)
_SQLITE_NO_DELETE = (
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END"
)
_PG_SEQUENCE = "audit_event_seq_seq"


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _triggers_off() -> None:
    if _is_postgresql():
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    else:  # the table is rebuilt below, and its triggers with it
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")


def _triggers_on(*, sealing: bool) -> None:
    if _is_postgresql():
        op.execute(_PG_FUNCTION if sealing else _PG_FUNCTION_BEFORE)
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    else:
        op.execute(_SQLITE_NO_UPDATE if sealing else _SQLITE_NO_UPDATE_BEFORE)
        op.execute(_SQLITE_NO_DELETE)


def upgrade() -> None:
    _triggers_off()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_seq", sa.Integer(), nullable=True))
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("record_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_event_chain_seq"), ["chain_seq"])
        batch_op.create_index(batch_op.f("ix_audit_event_occurred_at"), ["occurred_at"])
        batch_op.create_index(batch_op.f("ix_audit_event_user_id"), ["user_id"])
    op.execute("UPDATE audit_event SET chain_seq = seq")
    if _is_postgresql():
        # SQLite numbers an INTEGER PRIMARY KEY itself; PostgreSQL needs a sequence.
        op.execute(f"CREATE SEQUENCE {_PG_SEQUENCE} OWNED BY audit_event.seq")
        op.execute(
            f"SELECT setval('{_PG_SEQUENCE}', COALESCE(MAX(seq), 0) + 1, false) FROM audit_event"
        )
        op.execute(
            f"ALTER TABLE audit_event ALTER COLUMN seq SET DEFAULT nextval('{_PG_SEQUENCE}')"
        )
    _triggers_on(sealing=True)


def downgrade() -> None:
    """Back to one chain position per ``seq``; refused while that does not describe the log
    (records not sealed yet, or sealed out of ``seq`` order)."""
    misplaced = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM audit_event WHERE chain_seq IS NULL OR chain_seq <> seq")
    )
    if misplaced:
        raise RuntimeError(
            f"{misplaced} audit records are unsealed or sealed out of seq order: the chain "
            "cannot be kept in the schema before revision 0005"
        )
    _triggers_off()
    if _is_postgresql():
        op.execute("ALTER TABLE audit_event ALTER COLUMN seq DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {_PG_SEQUENCE}")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_occurred_at"))
        batch_op.drop_constraint(batch_op.f("uq_audit_event_chain_seq"), type_="unique")
        batch_op.alter_column("record_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("chain_seq")
        batch_op.drop_column("content_hash")
    _triggers_on(sealing=False)
