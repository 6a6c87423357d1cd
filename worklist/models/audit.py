"""The NEN 7513 audit log: records appended freely, then sealed into one hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.enums import AuditAction, AuditOutcome
from worklist.models.base import Base, UTCDateTime, str_enum


class AuditEvent(Base):
    """One logged event. No foreign keys: the log outlives what it describes.

    ``seq`` numbers records in insertion order (given by the database; on PostgreSQL a
    rolled-back insert leaves a gap). ``content_hash`` is sha256 over the content, written with
    the record. The sealer later sets ``chain_seq`` (the dense position in the chain),
    ``prev_hash`` and ``record_hash``; until then they are NULL. See :mod:`worklist.audit`.
    """

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "audit_action"))
    outcome: Mapped[AuditOutcome] = mapped_column(str_enum(AuditOutcome, "audit_outcome"))
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    purpose_of_use: Mapped[str] = mapped_column(String(32))
    site: Mapped[str | None] = mapped_column(String(16))
    patient_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)
    case_id: Mapped[int | None] = mapped_column(index=True)
    accession_number: Mapped[str | None] = mapped_column(String(32))
    slide_id: Mapped[int | None]
    break_glass: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # NULL only on records sealed before revision 0005, whose record_hash covers the content.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    chain_seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    record_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row holding the chain's tip (``last_seq`` is a ``chain_seq``).

    Only the sealer locks it, so sealers in any number of processes form one chain.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
