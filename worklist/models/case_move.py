"""A case moved or given to a pathologist by a lab manager, and why (the case history)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime


class CaseMove(Base):
    """One hand move of a case's primary read: an assignment by a lab manager (from nobody)
    or a reassignment (from its previous pathologist), with the reason given.

    Kept apart from :class:`~worklist.models.Assignment` so that the reason outlives the
    assignment's own columns and the history reads one row per move; never updated.
    ``outside_subspecialty`` says the move was confirmed although the case's tumour group is
    none of the new pathologist's subspecialties.
    """

    __tablename__ = "case_move"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    from_pathologist_id: Mapped[int | None] = mapped_column(ForeignKey("pathologist.id"))
    to_pathologist_id: Mapped[int] = mapped_column(ForeignKey("pathologist.id"))
    reason: Mapped[str] = mapped_column(Text)
    outside_subspecialty: Mapped[bool] = mapped_column(default=False)
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    moved_by: Mapped[str] = mapped_column(String(64))
