"""Waits of a case: the stretches its turnaround clock pauses (an external consult, a
molecular test). The rule and its checks are :mod:`worklist.waits`; whoever may open the
case may record its waits, except on the strength of an emergency grant alone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from services.access import CaseAccess, open_case
from services.deps import CurrentUser, EngineDep, SessionDep, StateDep
from services.paging import Ordering, SortKey, read_page
from services.routers.params import CaseId, Cursor, Limit
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, MAX_ID, Page
from services.schemas.waits import WaitCreate, WaitEnd, WaitPublic
from worklist.db import read_session
from worklist.models import CaseWait
from worklist.waits import end_wait, start_wait, waits_of_case

WaitId = Annotated[int, Path(ge=1, le=MAX_ID, description="The wait's id.")]

router = APIRouter(
    prefix="/cases/{case_id}/waits",
    tags=["waits"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
        404: {"model": ErrorBody, "description": "No such case or wait."},
    },
)

_REFUSED: dict[int | str, dict[str, object]] = {
    409: {
        "model": ErrorBody,
        "description": "The case is signed out, already waits for that reason, or the wait ended.",
    },
    422: {"model": ErrorBody, "description": "A time before receipt, the start or in the future."},
}

WAITS_OLDEST_FIRST = Ordering("case.waits", (SortKey(CaseWait.id, "int"),))


def _may_record(access: CaseAccess) -> None:
    # Break-the-glass lets a pathologist read a case; pausing its clock is work on it.
    access.require_ordinary("record a wait on")


def _wait(engine: EngineDep, wait_id: int) -> WaitPublic:
    with read_session(engine) as fresh:
        return WaitPublic.model_validate(fresh.get_one(CaseWait, wait_id))


@router.get("", response_model=Page[WaitPublic])
def list_waits(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[WaitPublic]:
    """The case's waits, open and ended, oldest first. Audited as opening the case."""
    access = open_case(session, user, case_id, views=state.views)
    page = read_page(
        session,
        waits_of_case(case_id),
        order=WAITS_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=WaitPublic.model_validate,
    )
    state.views.opened(state.engine, user, access)  # after the read: a bad cursor opened nothing
    return page


@router.post("", response_model=WaitPublic, status_code=status.HTTP_201_CREATED, responses=_REFUSED)
def post_wait(
    case_id: CaseId, body: WaitCreate, user: CurrentUser, session: SessionDep, engine: EngineDep
) -> WaitPublic:
    """The case starts waiting for ``reason`` (at ``started_at``, default now): its turnaround
    clock pauses until the wait ends. One open wait per reason."""
    access = open_case(session, user, case_id)
    _may_record(access)
    wait_id = start_wait(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        reason=body.reason,
        at=body.started_at,
    )
    return _wait(engine, wait_id)


@router.post("/{wait_id}/end", response_model=WaitPublic, responses=_REFUSED)
def post_wait_end(
    case_id: CaseId,
    wait_id: WaitId,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    body: WaitEnd | None = None,
) -> WaitPublic:
    """End the case's open wait (at ``ended_at``, default now): its clock runs again."""
    access = open_case(session, user, case_id)
    _may_record(access)
    end_wait(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        wait_id=wait_id,
        at=body.ended_at if body is not None else None,
    )
    return _wait(engine, wait_id)
