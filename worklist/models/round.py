"""An assignment round: the engine's proposals stored as a preview, then approved and applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from worklist.models.base import Base, UTCDateTime


class AssignmentRound(Base):
    """One previewed round: when it was planned, by whom, on which snapshot, and its fate.

    ``snapshot_digest`` fingerprints what the proposals depend on (the cases' holders, the
    pathologists' presence and capacity); ``snapshot_state`` keeps that state so a stale round
    can say what changed. ``status`` is ``"previewed"`` or ``"applied"``.
    """

    __tablename__ = "assignment_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    planned_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="previewed")
    snapshot_digest: Mapped[str] = mapped_column(String(64))
    snapshot_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    applied_by: Mapped[str | None] = mapped_column(String(64))


class RoundProposal(Base):
    """One proposal of a round, in the engine's order (``seq``), and whether it was applied."""

    __tablename__ = "round_proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("assignment_round.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(Integer)
    pathologist_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(32))
    placement: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    minutes: Mapped[float] = mapped_column(Float)
    overloaded: Mapped[bool] = mapped_column(Boolean, default=False)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)


class RoundUnplaced(Base):
    """A case (or one of its second reads) a round left unplaced, and why."""

    __tablename__ = "round_unplaced"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("assignment_round.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
