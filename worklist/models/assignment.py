"""Who holds a case, in which role, since when, and which rule put it there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from worklist.enums import AssignmentKind
from worklist.models.base import Base, UTCDateTime, str_enum
from worklist.models.case import Case
from worklist.models.organisation import Pathologist

_ACTIVE_PRIMARY = text("active AND kind = 'primary'")


class Assignment(Base):
    """A pathologist's hold on a case: primary, second opinion or consult.

    Assignments are never deleted; releasing or reassigning deactivates one and records when;
    answering a consult or second opinion ends it with its answer.
    The partial unique index makes "two active primary assignments for one case" impossible
    at the database level, whatever the application does.
    """

    __tablename__ = "assignment"
    __table_args__ = (
        Index(
            "uq_assignment_one_active_primary",
            "case_id",
            unique=True,
            postgresql_where=_ACTIVE_PRIMARY,
            sqlite_where=_ACTIVE_PRIMARY,
        ),
        Index("ix_assignment_pathologist_active", "pathologist_id", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    pathologist_id: Mapped[int] = mapped_column(ForeignKey("pathologist.id"))
    kind: Mapped[AssignmentKind] = mapped_column(str_enum(AssignmentKind, "assignment_kind"))
    active: Mapped[bool] = mapped_column(default=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_by: Mapped[str] = mapped_column(String(64))
    # The rule that made the assignment ("claim", "manual", "local-first", ...).
    rule: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Why it ended: "released", "reassigned", "completed", "signed_out".
    end_reason: Mapped[str | None] = mapped_column(String(32))

    # A consult or second opinion asked by a pathologist carries its question, who asked it,
    # and once answered the answer and when (null for primaries and planned second reads).
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("pathologist.id"))
    question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    case: Mapped[Case] = relationship()
    pathologist: Mapped[Pathologist] = relationship(foreign_keys=[pathologist_id])
    requested_by: Mapped[Pathologist | None] = relationship(foreign_keys=[requested_by_id])
