"""A slide's withdrawal: a lab manager takes a broken slide out of view, or puts it back.

``POST /slides/{id}/withdrawal`` withdraws it with a reason; from then on every route of the
slide (descriptor, tiles, metadata, thumbnail, annotations) answers 410 Gone, naming the date
and the reason, to everyone who may see its case (:func:`services.access.slide_access_from_row`);
the case's slide lists show the withdrawal. ``DELETE`` of it restores the slide. Both are
for lab managers and administrators; anyone else's attempt is refused (403) and audited.
The file and the pyramid stay on disk until ``coupe slides purge-withdrawn`` deletes them
once the retention period (``COUPE_WITHDRAWN_SLIDE_RETENTION_DAYS``) has passed.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.deps import CurrentUser, EngineDep
from services.routers.params import SlideId
from services.schemas.auth import ErrorBody
from services.schemas.withdrawals import WithdrawalCreate, WithdrawalPublic
from worklist.operations import restore_slide, withdraw_slide

router = APIRouter(
    prefix="/slides/{slide_id}/withdrawal",
    tags=["slides"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Lab managers and administrators only."},
        404: {"model": ErrorBody, "description": "No such slide."},
    },
)


@router.post(
    "",
    response_model=WithdrawalPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "Withdrawn already, or never scanned."},
        422: {"model": ErrorBody, "description": "No reason, or one too short."},
    },
)
def withdraw(
    slide_id: SlideId, body: WithdrawalCreate, user: CurrentUser, engine: EngineDep
) -> WithdrawalPublic:
    """Withdraw a broken slide: nobody views it any more (410), its unfinished tiling jobs
    fail, its file and pyramid stay on disk until the retention period has passed."""
    withdrawal = withdraw_slide(
        engine=engine, actor=user.actor, slide_id=slide_id, reason=body.reason
    )
    return WithdrawalPublic.model_validate(withdrawal)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={409: {"model": ErrorBody, "description": "Not withdrawn, or purged already."}},
)
def restore(slide_id: SlideId, user: CurrentUser, engine: EngineDep) -> Response:
    """Undo a withdrawal (until the slide's files are purged); a failed tiling job of the
    slide can then be retried."""
    restore_slide(engine=engine, actor=user.actor, slide_id=slide_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
