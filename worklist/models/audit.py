"""The NEN 7513 audit log: an append-only hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.enums import AuditAction, AuditOutcome
from worklist.models.base import Base, UTCDateTime, str_enum


class AuditEvent(Base):
    """One logged event. No foreign keys: the log outlives what it describes.

    ``record_hash`` is sha256 over the record's canonical content and ``prev_hash``, the
    previous record's hash; see :mod:`worklist.audit`.
    """

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_type: Mapped[str] = mapped_column(String(64))
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "audit_action"))
    outcome: Mapped[AuditOutcome] = mapped_column(str_enum(AuditOutcome, "audit_outcome"))
    user_id: Mapped[str] = mapped_column(String(64))
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
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The single row holding the chain's tip; locking it serialises appends."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
