"""A case's report: versioned drafts, the sign-out that freezes it, and signed addenda.

A case has at most one :class:`Report`. Every save of a draft is a new
:class:`ReportVersion` row, never an update of an old one; ``Report.version`` names the latest,
which is the current text. Sign-out sets ``signed_at`` and ``signed_by_id`` and freezes the
text; after it only :class:`ReportAddendum` rows follow, each signed by its author when added.
People are pathologists (the professional who wrote or signed), not user accounts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime


class ReportStatus(StrEnum):
    """Where a case's report is: nothing saved yet, a draft, or signed out (frozen)."""

    NONE = "none"
    DRAFT = "draft"
    SIGNED = "signed"


class Report(Base):
    """The one report of a case: which version is current, and who signed it out when."""

    __tablename__ = "case_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), unique=True
    )
    # The latest saved version (1 after the first save): the current text.
    version: Mapped[int] = mapped_column(default=0)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("pathologist.id"))

    @property
    def status(self) -> ReportStatus:
        """Draft until signed out."""
        return ReportStatus.SIGNED if self.signed_at is not None else ReportStatus.DRAFT


def report_status(report: Report | None) -> ReportStatus:
    """The status of a case's report, ``NONE`` when nothing was saved yet."""
    return ReportStatus.NONE if report is None else report.status


class ReportVersion(Base):
    """One saved draft of a report, as it was saved (the text and the codes as given)."""

    __tablename__ = "case_report_version"
    __table_args__ = (UniqueConstraint("report_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("case_report.id", ondelete="CASCADE"))
    version: Mapped[int]
    macroscopy: Mapped[str] = mapped_column(Text)
    microscopy: Mapped[str] = mapped_column(Text)
    conclusion: Mapped[str] = mapped_column(Text)
    # [{"system": "PALGA", "code": "T67000", "display": "colon"}, ...], stored as given.
    diagnosis_codes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("pathologist.id"))


class ReportAddendum(Base):
    """Text added to a signed-out report, signed by its author when added."""

    __tablename__ = "case_report_addendum"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("case_report.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("pathologist.id"))
