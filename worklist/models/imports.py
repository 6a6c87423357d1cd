"""Files the scanner import has seen: registered, refused, or duplicates of earlier ones."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime, str_enum


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
