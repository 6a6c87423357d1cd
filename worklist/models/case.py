"""A case and its material: case -> specimen (A, B) -> block (A1) -> slide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from worklist.enums import CaseStatus, CaseType, Priority, PyramidStatus
from worklist.models.base import Base, UTCDateTime, str_enum


class Case(Base):
    """A pathology case: the unit that is assigned, reviewed and signed out.

    ``version`` is SQLAlchemy's version counter: every UPDATE of the row checks and bumps it,
    so a writer working from a stale read fails instead of overwriting someone else's change.
    """

    __tablename__ = "pathology_case"
    __table_args__ = (
        CheckConstraint("category BETWEEN 1 AND 6", name="category_range"),
        Index("ix_case_status_due", "status", "due_at"),
        # Claim-next and the urgent-first lists walk this index and stop at the first case.
        Index("ix_case_claim_order", "status", "priority_rank", "due_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    accession_number: Mapped[str] = mapped_column(String(32), unique=True)
    case_type: Mapped[CaseType] = mapped_column(str_enum(CaseType, "case_type"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    patient_pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    tumour_group: Mapped[str] = mapped_column(String(64))
    # NVVP complexity category 1-6: fixes the workload minutes when the specimen arrives.
    category: Mapped[int]
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "priority"))
    # Priority.rank of ``priority`` (0 most urgent), kept by the model: the claim order.
    priority_rank: Mapped[int] = mapped_column(SmallInteger)
    # A coded finding that may make a second read mandatory (e.g. "barrett_dysplasia",
    # "new_lymphoma"; see the region's trigger table); free of patient data.
    second_read_trigger: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus, "case_status"))
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own dict

    specimens: Mapped[list[Specimen]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Specimen.label"
    )

    @validates("priority")
    def _keep_priority_rank(self, _key: str, priority: Priority | str) -> Priority:
        value = Priority(priority)
        self.priority_rank = value.rank
        return value

    def __repr__(self) -> str:
        return f"Case({self.accession_number!r}, {self.status.value})"


class Specimen(Base):
    """One container of tissue or cells in a case, labelled A, B, ..."""

    __tablename__ = "specimen"
    __table_args__ = (UniqueConstraint("case_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(200), default="")

    case: Mapped[Case] = relationship(back_populates="specimens")
    blocks: Mapped[list[Block]] = relationship(
        back_populates="specimen", cascade="all, delete-orphan", order_by="Block.label"
    )


class Block(Base):
    """A paraffin block cut from a specimen, labelled A1, A2, ..."""

    __tablename__ = "block"
    __table_args__ = (UniqueConstraint("specimen_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    specimen_id: Mapped[int] = mapped_column(
        ForeignKey("specimen.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(8))

    specimen: Mapped[Specimen] = relationship(back_populates="blocks")
    slides: Mapped[list[Slide]] = relationship(
        back_populates="block", cascade="all, delete-orphan", order_by="Slide.id"
    )


class Slide(Base):
    """A glass slide and, once scanned, its whole-slide image and pyramid."""

    __tablename__ = "slide"

    id: Mapped[int] = mapped_column(primary_key=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("block.id", ondelete="CASCADE"), index=True)
    stain: Mapped[str] = mapped_column(String(64))
    file_path: Mapped[str | None] = mapped_column(String(1024))
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pyramid_status: Mapped[PyramidStatus] = mapped_column(
        str_enum(PyramidStatus, "pyramid_status"), default=PyramidStatus.NONE
    )
    # Withdrawn by a lab manager (a broken scan): no longer shown, kept on disk until the
    # retention period passes, then purged (worklist.operations.withdrawal).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(1000))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    block: Mapped[Block] = relationship(back_populates="slides")


class AccessionCounter(Base):
    """The last sequence number handed out per site, case type and year."""

    __tablename__ = "accession_counter"

    site: Mapped[str] = mapped_column(String(16), primary_key=True)
    case_type: Mapped[str] = mapped_column(String(1), primary_key=True)
    year_2digit: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int]
