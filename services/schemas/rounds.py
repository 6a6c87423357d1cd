"""Request and response bodies of assignment rounds (preview, approve, apply)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.schemas.common import RequestBody
from worklist.rounds import RoundView, resulting_load


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
    pathologist_code: str
    assignee_name: str = Field(description="The pathologist's name.")
    department_code: str = Field(description="The pathologist's department.")
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

    pathologist_code: str
    name: str
    department_code: str
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

    @classmethod
    def of(cls, view: RoundView) -> RoundPublic:
        """The API's view of a stored round (names and accessions from its snapshot)."""
        state = view.round.snapshot_state
        cases, people, load = state["cases"], state["pathologists"], state.get("load", {})
        proposals = [
            RoundProposalPublic(
                id=p.id,
                case_id=p.case_id,
                accession=cases[str(p.case_id)][0],
                pathologist_code=view.pathologist_codes.get(p.pathologist_id, ""),
                assignee_name=people[str(p.pathologist_id)][0],
                department_code=load.get(str(p.pathologist_id), [""])[0],
                kind=p.kind,
                rule=p.rule,
                placement=p.placement,
                reason=p.reason,
                minutes=p.minutes,
                overloaded=p.overloaded,
                applied=p.applied,
            )
            for p in view.proposals
        ]
        unplaced = [
            RoundUnplacedPublic(
                case_id=u.case_id, accession=cases[str(u.case_id)][0], kind=u.kind, reason=u.reason
            )
            for u in view.unplaced
        ]
        loads = [
            RoundLoadPublic(
                pathologist_code=view.pathologist_codes.get(row.pathologist_id, ""),
                name=row.name,
                department_code=row.department,
                present=row.present,
                capacity_today_minutes=row.capacity_today_minutes,
                open_minutes_before=row.open_minutes_before,
                proposed_minutes=row.proposed_minutes,
                proposals=row.proposals,
                relative_load_after=row.relative_load_after,
            )
            for row in resulting_load(view)
        ]
        stored = view.round
        return cls(
            id=stored.id,
            status=stored.status,
            planned_at=stored.planned_at,
            planned_by=stored.planned_by,
            applied_at=stored.applied_at,
            applied_by=stored.applied_by,
            proposals=proposals,
            unplaced=unplaced,
            load=loads,
        )
