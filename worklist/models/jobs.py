"""Background jobs kept in the database, so they survive a restart of the service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.enums import JobStatus
from worklist.models.base import Base, UTCDateTime, str_enum


class TilingJob(Base):
    """Building one slide's Deep Zoom pyramid: queued, running, done or failed."""

    __tablename__ = "tiling_job"
    __table_args__ = (
        # A slide has at most one unfinished job: a second registration cannot run it twice.
        Index(
            "uq_tiling_job_one_open_per_slide",
            "slide_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slide_id: Mapped[int | None] = mapped_column(
        ForeignKey("slide.id", ondelete="CASCADE"), index=True
    )
    source_path: Mapped[str] = mapped_column(String(1024))
    output_dir: Mapped[str] = mapped_column(String(1024))
    pyramid_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "job_status"), index=True)
    tiles_done: Mapped[int] = mapped_column(default=0)
    tiles_total: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    worker: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
