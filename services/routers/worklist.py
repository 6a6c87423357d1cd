"""The worklist (mine, my department's, the region's, the consults asked of me) and the moves
on it: claim, release, assign, reassign, start review, sign out.

Every move maps to one :mod:`worklist.operations` call (one transaction, audited). Send the
case ``version`` you read as ``expected_version``: if someone changed the case meanwhile the
move is refused with 409 and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Query
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.access import case_for_viewing, open_case
from services.after_sign_out import slides_after_sign_out
from services.case_queries import (
    OPEN_STATUSES,
    CaseFilter,
    case_page,
    consults_asked_of,
    held_by,
    pathologist_id_of,
    receipt_public,
    visible_to,
)
from services.case_queue import QueueFilter, queue_page
from services.deps import AuthenticatedUser, CurrentUser, EngineDep, ManagerUser, SessionDep
from services.errors import AccessDeniedError
from services.routers.params import CaseId, Cursor, DepartmentFilter, Limit
from services.schemas.auth import ErrorBody
from services.schemas.cases import AssignmentReceipt, CasePublic, CaseState
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.schemas.consults import ConsultRequestItem
from services.schemas.worklist import (
    AfterSignOutItem,
    AssignRequest,
    ClaimNextRequest,
    ClaimNextResult,
    ClaimRequest,
    QueueItem,
    QueueSort,
    ReassignRequest,
    ReleaseRequest,
    SignOutRequest,
    VersionedRequest,
    WorklistItem,
)
from worklist.enums import AssignmentKind, CaseStatus, Priority
from worklist.operations import (
    assign_case,
    claim_case,
    claim_next,
    reassign_case,
    release_case,
    sign_out,
    start_review,
    why_nothing_to_claim,
)

router = APIRouter(
    tags=["worklist"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
    },
)

_MOVE_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No such case or pathologist."},
    409: {
        "model": ErrorBody,
        "description": "The case changed since you read it (expected_version), is held by "
        "someone else, or cannot make this move from its status.",
    },
}

OptionalVersion = Annotated[VersionedRequest | None, Body()]


def own_pathologist_id(user: AuthenticatedUser) -> int:
    """The signed-in user's pathologist id; 403 for accounts that are not a pathologist's."""
    if user.pathologist_id is None:
        raise AccessDeniedError(
            f"{user.username} has no pathologist record; this needs a pathologist's account"
        )
    return user.pathologist_id


def _version(body: VersionedRequest | None) -> int | None:
    return body.expected_version if body is not None else None


# -- the worklists -----------------------------------------------------------------------


KindFilter = Annotated[
    list[AssignmentKind] | None,
    Query(description="Only these kinds of assignment (repeat it: ?kind=primary&kind=consult)."),
]


@router.get("/worklist/mine", response_model=Page[WorklistItem])
def my_worklist(
    user: CurrentUser,
    session: SessionDep,
    kind: KindFilter = None,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[WorklistItem]:
    """The cases you hold (primary, second opinion or consult; or the ``kind`` asked for),
    most urgent first. ``?kind=primary`` is "My worklist"."""
    return held_by(
        session,
        pathologist_id=own_pathologist_id(user),
        limit=limit,
        cursor=cursor,
        kinds=kind or (),
    )


@router.get("/worklist/consults", response_model=Page[ConsultRequestItem])
def consults_asked_of_me(
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[ConsultRequestItem]:
    """The consults and second opinions asked of you and not answered yet, oldest first,
    each with its question and its case."""
    return consults_asked_of(session, own_pathologist_id(user), limit=limit, cursor=cursor)


@router.get("/worklist/after-sign-out", response_model=Page[AfterSignOutItem])
def slides_after_my_sign_out(
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[AfterSignOutItem]:
    """Slides scanned after you signed their case out, oldest first, until an addendum is
    written after them (or the slide is withdrawn): one item per slide, with its case."""
    return slides_after_sign_out(
        session, user, own_pathologist_id(user), limit=limit, cursor=cursor
    )


@router.get("/worklist/department", response_model=Page[CasePublic])
def department_worklist(
    user: CurrentUser,
    session: SessionDep,
    status: CaseStatus | None = None,
    priority: Priority | None = None,
    unassigned_only: bool = False,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[CasePublic]:
    """Your department's open cases (or those with ``status``), most urgent first."""
    if user.department_code is None:
        raise AccessDeniedError(f"{user.username} belongs to no department; see /worklist/region")
    where = CaseFilter(
        statuses=OPEN_STATUSES if status is None else (status,),
        department_code=user.department_code,
        priority=priority,
        unassigned_only=unassigned_only,
    )
    return case_page(
        session, scope=visible_to(user), where=where, limit=limit, cursor=cursor, urgent_first=True
    )


@router.get("/worklist/region", response_model=Page[CasePublic])
def region_worklist(
    manager: ManagerUser,
    session: SessionDep,
    status: CaseStatus | None = None,
    department_code: DepartmentFilter = None,
    priority: Priority | None = None,
    unassigned_only: bool = False,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[CasePublic]:
    """The region's open cases (or those with ``status``), most urgent first (lab managers)."""
    where = CaseFilter(
        statuses=OPEN_STATUSES if status is None else (status,),
        department_code=department_code,
        priority=priority,
        unassigned_only=unassigned_only,
    )
    return case_page(
        session,
        scope=visible_to(manager),
        where=where,
        limit=limit,
        cursor=cursor,
        urgent_first=True,
    )


@router.get("/worklist/queue", response_model=Page[QueueItem])
def regional_queue(
    manager: ManagerUser,
    session: SessionDep,
    department_code: DepartmentFilter = None,
    tumour_group: Annotated[str | None, Query(max_length=64)] = None,
    priority: Priority | None = None,
    status: CaseStatus | None = None,
    holder: Annotated[
        str | None, Query(max_length=32, description="Only the cases this pathologist holds.")
    ] = None,
    unassigned_only: bool = False,
    overdue_only: bool = False,
    sort: QueueSort = QueueSort.URGENCY,
    descending: bool = False,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[QueueItem]:
    """The regional queue (lab managers and admins): the region's open cases (or those with
    ``status``), filtered and in ``sort`` order, each with its primary pathologist, whether
    it is overdue, and while unassigned why the latest assignment round left it unplaced."""
    where = QueueFilter(
        department_code=department_code,
        tumour_group=tumour_group,
        priority=priority,
        status=status,
        holder_code=holder,
        unassigned_only=unassigned_only,
        overdue_only=overdue_only,
    )
    return queue_page(
        session,
        where=where,
        sort=sort,
        descending=descending,
        limit=limit,
        cursor=cursor,
    )


@router.post("/worklist/claim-next", response_model=ClaimNextResult)
def claim_next_case(
    user: CurrentUser, engine: EngineDep, body: Annotated[ClaimNextRequest | None, Body()] = None
) -> ClaimNextResult:
    """Take the most urgent unassigned case of the region (your subspecialties by default);
    when nothing is given, ``reason`` says why."""
    options = body or ClaimNextRequest()
    if user.pathologist_id is None:
        return ClaimNextResult(
            assignment=None,
            reason=f"{user.username} is linked to no pathologist: only a pathologist's "
            "account claims cases",
        )
    receipt = claim_next(
        engine=engine,
        actor=user.actor,
        pathologist_id=user.pathologist_id,
        own_subspecialties_only=options.own_subspecialties_only,
    )
    if receipt is None:
        reason = why_nothing_to_claim(
            engine=engine,
            pathologist_id=user.pathologist_id,
            own_subspecialties_only=options.own_subspecialties_only,
        )
        return ClaimNextResult(assignment=None, reason=reason)
    # Built from what the claim's transaction read: showing it costs no second query.
    shown = AssignmentReceipt(
        assignment_id=receipt.assignment_id,
        pathologist_code=receipt.pathologist_code,
        kind=receipt.kind,
        rule=receipt.rule,
        case=CaseState.model_validate(receipt.case),
    )
    return ClaimNextResult(assignment=shown, reason=None)


# -- moves on one case -------------------------------------------------------------------


@router.post("/cases/{case_id}/claim", response_model=AssignmentReceipt, responses=_MOVE_RESPONSES)
def claim(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    body: Annotated[ClaimRequest | None, Body()] = None,
) -> AssignmentReceipt:
    """Take an unassigned case you may see as its primary pathologist. Outside your
    subspecialties only with ``confirm_outside_subspecialty`` (409 without it)."""
    pathologist_id = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    access.require_ordinary("claim")  # break-the-glass lets a pathologist read, not take
    request = body or ClaimRequest()
    receipt = claim_case(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        confirm_outside_subspecialty=request.confirm_outside_subspecialty,
        expected_version=request.expected_version,
    )
    return receipt_public(receipt)


@router.post("/cases/{case_id}/release", response_model=CaseState, responses=_MOVE_RESPONSES)
def release(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    body: Annotated[ReleaseRequest | None, Body()] = None,
) -> CaseState:
    """Give your case back to the unassigned pool."""
    pathologist_id = own_pathologist_id(user)
    case_for_viewing(session, user, case_id)
    request = body or ReleaseRequest()
    state = release_case(
        engine=engine,
        actor=user.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        reason=request.reason,
        expected_version=request.expected_version,
    )
    return CaseState.model_validate(state)


def _own_case_move(
    move: Callable[..., object],
    case_id: int,
    user: AuthenticatedUser,
    session: Session,
    engine: Engine,
    body: OptionalVersion,
) -> object:
    """Run ``move`` on a case the signed-in pathologist may open, acting as themself (flagged
    in the audit when only an emergency grant lets them in); its receipt. A claim needs
    ordinary access: break-the-glass lets a pathologist read a case, not take it."""
    pathologist_id = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    return move(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        expected_version=_version(body),
    )


@router.post("/cases/{case_id}/start-review", response_model=CaseState, responses=_MOVE_RESPONSES)
def begin_review(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    body: OptionalVersion = None,
) -> CaseState:
    """Start reviewing your case ("assigned" -> "in_review"). Optional: saving a draft of the
    report, asking a consult or signing out starts the review too."""
    return CaseState.model_validate(
        _own_case_move(start_review, case_id, user, session, engine, body)
    )


@router.post("/cases/{case_id}/sign-out", response_model=CaseState, responses=_MOVE_RESPONSES)
def sign_out_case(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    body: Annotated[SignOutRequest | None, Body()] = None,
) -> CaseState:
    """Sign your case out: its report needs a conclusion (409 without one), and every consult
    and second opinion must be answered. The report is frozen and records who signed when;
    afterwards only addenda. From "assigned" the review starts and ends here."""
    pathologist_id = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    request = body or SignOutRequest()
    state = sign_out(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        pathologist_id=pathologist_id,
        expected_version=request.expected_version,
        expected_report_version=request.expected_report_version,
    )
    return CaseState.model_validate(state)


@router.post("/cases/{case_id}/assign", response_model=AssignmentReceipt, responses=_MOVE_RESPONSES)
def assign(
    case_id: CaseId,
    body: AssignRequest,
    manager: ManagerUser,
    session: SessionDep,
    engine: EngineDep,
) -> AssignmentReceipt:
    """Assign a case to a pathologist (by code) by hand (lab managers), with a reason the
    case history shows; a primary read outside their subspecialties is marked so in the
    audit and the history."""
    receipt = assign_case(
        engine=engine,
        actor=manager.actor,
        case_id=case_id,
        pathologist_id=pathologist_id_of(session, body.pathologist_code),
        kind=body.kind,
        reason=body.reason,
        expected_version=body.expected_version,
    )
    return receipt_public(receipt)


@router.post(
    "/cases/{case_id}/reassign", response_model=AssignmentReceipt, responses=_MOVE_RESPONSES
)
def reassign(
    case_id: CaseId,
    body: ReassignRequest,
    manager: ManagerUser,
    session: SessionDep,
    engine: EngineDep,
) -> AssignmentReceipt:
    """Move a case's primary assignment to another pathologist (by code; lab managers) with
    a reason (required; the case history shows it). Outside the new pathologist's
    subspecialties only with ``confirm_outside_subspecialty`` (409 without it); such a move
    is marked in the audit and the history."""
    receipt = reassign_case(
        engine=engine,
        actor=manager.actor,
        case_id=case_id,
        to_pathologist_id=pathologist_id_of(session, body.pathologist_code),
        reason=body.reason,
        confirm_outside_subspecialty=body.confirm_outside_subspecialty,
        expected_version=body.expected_version,
    )
    return receipt_public(receipt)
