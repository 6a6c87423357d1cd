"""Request and response bodies of assignment rounds (preview, approve, apply)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody


class RoundCreate(RequestBody):
    """Plan a round (a preview: nothing is assigned until it is applied)."""

    now: datetime | None = Field(
        default=None, description="Plan as of this aware time (default: now); for testing."
    )


class RoundApply(RequestBody):
    """Apply a previewed round: the approved proposals' ids, or all of them when omitted."""

    proposal_ids: list[int] | None = Field(
        default=None, description="The proposals approved; omit (null) to approve them all."
    )


class RoundProposalPublic(BaseModel):
    """One proposal: who gets which case, by which rule, and why."""

    id: int
    case_id: int
    accession: str
    pathologist_id: int
    pathologist: str = Field(description="The pathologist's name.")
    department: str = Field(description="The pathologist's department.")
    kind: str = Field(description="primary, second_opinion ...")
    rule: str
    placement: str = Field(description="local, regional, escalation or second read.")
    reason: str
    minutes: float
    overloaded: bool = Field(description="It takes the pathologist past today's capacity.")
    applied: bool


class RoundUnplacedPublic(BaseModel):
    """A case (or one of its second reads) the round could not place, and why."""

    case_id: int
    accession: str
    kind: str
    reason: str


class RoundLoadPublic(BaseModel):
    """A pathologist's load before and after the round's proposals (applied ones, once applied)."""

    pathologist_id: int
    name: str
    department: str
    present: bool
    capacity_today_minutes: float
    open_minutes_before: float
    proposed_minutes: float
    proposals: int
    relative_load_after: float | None = Field(
        description="(open + proposed minutes) / today's capacity; null without capacity."
    )


class RoundPublic(BaseModel):
    """A stored round: its proposals, what it left unplaced, and the resulting load."""

    id: int
    status: str = Field(description="previewed or applied.")
    planned_at: datetime
    planned_by: str
    applied_at: datetime | None
    applied_by: str | None
    proposals: list[RoundProposalPublic]
    unplaced: list[RoundUnplacedPublic]
    load: list[RoundLoadPublic]
