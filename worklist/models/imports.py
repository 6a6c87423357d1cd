"""Files the scanner import has seen: registered, refused, or duplicates of earlier ones."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime, str_enum


class ImportProblem(StrEnum):
    """Why a file is in the import queue (or was registered with a flag)."""

    NO_CASE = "no_case"
    BAD_NAME = "bad_name"
    NOT_A_SLIDE = "not_a_slide"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"
    QUOTA = "quota"
    WRONG_DEPARTMENT = "wrong_department"
    UNKNOWN_BLOCK = "unknown_block"
    UNKNOWN_DEPARTMENT_FOLDER = "unknown_department_folder"
    INCOMPLETE_SERIES = "incomplete_series"
    POST_SIGN_OUT = "post_sign_out"
    REGISTRATION_FAILED = "registration_failed"
    UNKNOWN = "unknown"


class QueueStatus(StrEnum):
    """Where a file stands in the import queue."""

    OPEN = "open"
    """Waits for a lab manager: link it to a case or discard it."""
    LINKED = "linked"
    DISCARDED = "discarded"
    FLAGGED = "flagged"
    """Registered, with something the pathologist should know (a slide after sign-out)."""


class ImportOutcome(StrEnum):
    """What the folder import did with a file."""

    REGISTERED = "registered"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


_REGISTERED = text("outcome = 'registered'")


class ImportedFile(Base):
    """One version (path, size, modification time) of a file in a scanner drop folder.

    A file is looked at again only when it changes; the partial unique index on the content
    hash makes "the same slide registered twice" impossible, even with two importers racing.
    """

    __tablename__ = "imported_file"
    __table_args__ = (
        Index(
            "uq_imported_file_one_registration_per_content",
            "sha256",
            unique=True,
            sqlite_where=_REGISTERED,
            postgresql_where=_REGISTERED,
        ),
        Index("ix_imported_file_version", "source_path", "size_bytes", "mtime_ns"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(String(1024))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[ImportOutcome] = mapped_column(str_enum(ImportOutcome, "import_outcome"))
    reason: Mapped[str] = mapped_column(Text, default="")
    accession_number: Mapped[str | None] = mapped_column(String(32))
    slide_id: Mapped[int | None] = mapped_column(ForeignKey("slide.id", ondelete="SET NULL"))
    stored_path: Mapped[str | None] = mapped_column(String(1024))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The queue (0013): plain strings, read through ImportProblem / QueueStatus.
    problem: Mapped[str | None] = mapped_column(String(32))
    queue_status: Mapped[str | None] = mapped_column(String(16), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution_note: Mapped[str | None] = mapped_column(Text)
