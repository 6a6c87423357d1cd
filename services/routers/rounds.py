"""Assignment rounds: the engine's proposals as a preview, approved in part or whole, applied.

``POST /assignment-rounds`` plans a round on the current worklist and stores it (nothing is
assigned); ``GET /assignment-rounds/{id}`` reads it back; ``POST /assignment-rounds/{id}/apply``
applies the approved proposals in one audited transaction, or refuses (409) a round whose
snapshot went stale, saying what changed. Lab managers and admins only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from services.deps import CurrentUser, EngineDep
from services.schemas.auth import ErrorBody
from services.schemas.rounds import (
    RoundApply,
    RoundCreate,
    RoundLoadPublic,
    RoundProposalPublic,
    RoundPublic,
    RoundUnplacedPublic,
)
from worklist.region import default_region
from worklist.rounds import RoundView, apply_round, get_round, plan_round, resulting_load

router = APIRouter(
    prefix="/assignment-rounds",
    tags=["assignment-rounds"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Lab managers and administrators only."},
    },
)


def _public(view: RoundView) -> RoundPublic:
    state = view.round.snapshot_state
    cases, people, load = state["cases"], state["pathologists"], state.get("load", {})
    proposals = [
        RoundProposalPublic(
            id=p.id,
            case_id=p.case_id,
            accession=cases[str(p.case_id)][0],
            pathologist_id=p.pathologist_id,
            pathologist=people[str(p.pathologist_id)][0],
            department=load.get(str(p.pathologist_id), [""])[0],
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
            pathologist_id=row.pathologist_id,
            name=row.name,
            department=row.department,
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
    return RoundPublic(
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


@router.post("", response_model=RoundPublic, status_code=status.HTTP_201_CREATED)
def preview(body: RoundCreate, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """Plan a round and store it as a preview: every proposal with its rule, reason and
    placement (overloaded ones flagged), the unplaced cases with why, the resulting load."""
    now = body.now or datetime.now(UTC)
    round_id, _, _ = plan_round(
        engine=engine, actor=user.actor, now=now, rules=default_region().rules
    )
    return _public(get_round(engine=engine, actor=user.actor, round_id=round_id))


@router.get(
    "/{round_id}",
    response_model=RoundPublic,
    responses={404: {"model": ErrorBody, "description": "No such round."}},
)
def read(round_id: int, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """A stored round, previewed or applied (then ``applied`` marks what was assigned)."""
    return _public(get_round(engine=engine, actor=user.actor, round_id=round_id))


@router.post(
    "/{round_id}/apply",
    response_model=RoundPublic,
    responses={
        404: {"model": ErrorBody, "description": "No such round."},
        409: {"model": ErrorBody, "description": "Stale (what changed is said) or applied."},
        422: {"model": ErrorBody, "description": "A proposal id not in the round."},
    },
)
def apply(round_id: int, body: RoundApply, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """Apply the approved proposals (all when ``proposal_ids`` is omitted) in one audited
    transaction; a round whose snapshot changed is refused with what changed."""
    view = apply_round(
        engine=engine,
        actor=user.actor,
        round_id=round_id,
        approved=body.proposal_ids,
        rules=default_region().rules,
    )
    return _public(view)
