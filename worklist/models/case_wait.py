"""A stretch of time a case waits on something outside the department: the turnaround clock
pauses for it (an external consult, a molecular test)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime, str_enum


class WaitReason(StrEnum):
    """What a case waits on while its turnaround clock is paused."""

    EXTERNAL_CONSULT = "external_consult"
    MOLECULAR_TEST = "molecular_test"

    @property
    def words(self) -> str:
        """The reason as messages say it: ``molecular_test`` -> ``a molecular test``."""
        return "an external consult" if self is WaitReason.EXTERNAL_CONSULT else "a molecular test"


class CaseWait(Base):
    """One pause of a case's turnaround clock, from ``started_at`` to ``ended_at`` (still
    waiting while ``ended_at`` is null). Pauses of one case may overlap: the clock counts the
    union of them once."""

    __tablename__ = "case_wait"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[WaitReason] = mapped_column(str_enum(WaitReason, "wait_reason"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(64))
