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
from services.routers.params import RoundId
from services.schemas.auth import ErrorBody, StaleRoundBody
from services.schemas.rounds import RoundApply, RoundCreate, RoundPublic
from worklist.region import default_region
from worklist.rounds import apply_round, get_round, plan_round

router = APIRouter(
    prefix="/assignment-rounds",
    tags=["assignment-rounds"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Lab managers and administrators only."},
    },
)


@router.post("", response_model=RoundPublic, status_code=status.HTTP_201_CREATED)
def preview(body: RoundCreate, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """Plan a round and store it as a preview: every proposal with its rule, reason and
    placement (overloaded ones flagged), the unplaced cases with why, the resulting load."""
    now = body.now or datetime.now(UTC)
    round_id, _, _ = plan_round(
        engine=engine, actor=user.actor, now=now, rules=default_region().rules
    )
    return RoundPublic.of(get_round(engine=engine, actor=user.actor, round_id=round_id))


@router.get(
    "/{round_id}",
    response_model=RoundPublic,
    responses={404: {"model": ErrorBody, "description": "No such round."}},
)
def read(round_id: RoundId, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """A stored round, previewed or applied (then ``applied`` marks what was assigned)."""
    return RoundPublic.of(get_round(engine=engine, actor=user.actor, round_id=round_id))


@router.post(
    "/{round_id}/apply",
    response_model=RoundPublic,
    responses={
        404: {"model": ErrorBody, "description": "No such round."},
        409: {
            "model": StaleRoundBody,
            "description": "Stale (``changes`` lists what changed) or applied (no ``changes``).",
        },
        422: {"model": ErrorBody, "description": "A proposal id not in the round."},
    },
)
def apply(round_id: RoundId, body: RoundApply, user: CurrentUser, engine: EngineDep) -> RoundPublic:
    """Apply the approved proposals (all when ``proposal_ids`` is omitted) in one audited
    transaction; a round whose snapshot changed is refused with what changed."""
    view = apply_round(
        engine=engine,
        actor=user.actor,
        round_id=round_id,
        approved=body.proposal_ids,
        rules=default_region().rules,
    )
    return RoundPublic.of(view)
