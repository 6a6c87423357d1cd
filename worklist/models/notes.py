"""Comments on cases and annotations on slides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime


class Comment(Base):
    """A free-text remark on a case (consult questions and answers included)."""

    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("pathology_case.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Annotation(Base):
    """A drawn region or point on a slide, as validated GeoJSON in slide level-0 pixels.

    ``version`` is SQLAlchemy's version counter: every UPDATE checks and bumps it, so an edit
    made from a stale read fails instead of overwriting another editor's change. A deleted
    annotation keeps its row (``deleted_at``, ``deleted_by``), so the audit trail can still
    name what was deleted; listings leave it out.
    """

    __tablename__ = "annotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slide_id: Mapped[int] = mapped_column(ForeignKey("slide.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    class_name: Mapped[str] = mapped_column(String(64), default="")
    geojson: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own dict
