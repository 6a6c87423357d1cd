"""Consults and second opinions, consult grants, and break-the-glass.

Asking a colleague creates their consult (or second-opinion) assignment, which carries the
question and later the answer, and a consult grant with an expiry for their account, so they
can still open the case after answering. An assigned case can be asked about directly: the
request starts its review. A grant
can also be given by a lab manager. Break-the-glass is a short grant a pathologist takes
themselves with a reason: flagged in the audit log, as is every view made under it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status
from sqlalchemy import select

from services.access import may_view_case, open_case, require_clinical
from services.case_queries import consults_of_case, pathologist_id_of, receipt_public
from services.deps import CurrentUser, EngineDep, ManagerUser, SessionDep, SettingsDep, StateDep
from services.errors import ConflictError, ResourceNotFoundError
from services.paging import Ordering, SortKey, read_page
from services.routers.params import CaseId, Cursor, Limit
from services.routers.worklist import own_pathologist_id
from services.schemas.auth import ErrorBody
from services.schemas.cases import CaseState
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.schemas.consults import (
    BreakGlassRequest,
    ConsultAnswer,
    ConsultAnswered,
    ConsultCreate,
    ConsultItem,
    ConsultPublic,
    GrantCreate,
    GrantPublic,
)
from worklist.accounts import grant_case_access
from worklist.db import read_session
from worklist.enums import GrantKind
from worklist.models import Case, CaseGrant
from worklist.operations import ConsultGrant, answer_consult, request_consult

router = APIRouter(
    prefix="/cases/{case_id}",
    tags=["consults"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
        404: {"model": ErrorBody, "description": "No such case, pathologist or user."},
    },
)

_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorBody, "description": "Not possible in the case's state."}
}


def _grant(engine: EngineDep, grant_id: int) -> GrantPublic:
    with read_session(engine) as fresh:
        return GrantPublic.model_validate(fresh.get_one(CaseGrant, grant_id))


GRANTS_OLDEST_FIRST = Ordering("case.grants", (SortKey(CaseGrant.id, "int"),))


@router.get("/consults", response_model=Page[ConsultItem])
def list_consults(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[ConsultItem]:
    """The case's consults and second opinions, open and answered, with their questions and
    answers, oldest first. Audited as opening the case."""
    access = open_case(session, user, case_id, views=state.views)
    page = consults_of_case(session, case_id, limit=limit, cursor=cursor)
    state.views.opened(state.engine, user, access)  # after the read: a bad cursor opened nothing
    return page


@router.post(
    "/consults",
    response_model=ConsultPublic,
    status_code=status.HTTP_201_CREATED,
    responses=_CONFLICT,
)
def ask_consult(
    case_id: CaseId, body: ConsultCreate, user: CurrentUser, session: SessionDep, engine: EngineDep
) -> ConsultPublic:
    """As the case's primary pathologist, ask a colleague for a consult or second opinion,
    with your question (an assigned case starts its review with it)."""
    requested_by = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    receipt = request_consult(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        requested_by=requested_by,
        consultant_id=pathologist_id_of(session, body.pathologist_code),
        question=body.question,
        kind=body.kind.assignment_kind,
        grant=ConsultGrant(
            valid_for=timedelta(days=body.access_days),
            reason=f"{body.kind.value} requested by {user.username}",
        ),
        expected_version=body.expected_version,
    )
    grant = _grant(engine, receipt.grant_id) if receipt.grant_id is not None else None
    return ConsultPublic(assignment=receipt_public(receipt.assignment), grant=grant)


@router.post("/consults/answer", response_model=ConsultAnswered, responses=_CONFLICT)
def answer(
    case_id: CaseId, body: ConsultAnswer, user: CurrentUser, session: SessionDep, engine: EngineDep
) -> ConsultAnswered:
    """Answer your open consult or second opinion on the case; the case's consult list then
    shows the answer."""
    consultant_id = own_pathologist_id(user)
    access = open_case(session, user, case_id)
    state = answer_consult(
        engine=engine,
        actor=access.actor,
        case_id=case_id,
        consultant_id=consultant_id,
        answer=body.answer,
    )
    return ConsultAnswered(case=CaseState.model_validate(state))


@router.get("/grants", response_model=Page[GrantPublic])
def list_grants(
    case_id: CaseId,
    manager: ManagerUser,
    session: SessionDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[GrantPublic]:
    """Every grant on the case, oldest first, expired ones included (lab managers; for the
    audit review)."""
    if session.get(Case, case_id) is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    return read_page(
        session,
        select(CaseGrant).where(CaseGrant.case_id == case_id),
        order=GRANTS_OLDEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=GrantPublic.model_validate,
    )


@router.post("/grants", response_model=GrantPublic, status_code=status.HTTP_201_CREATED)
def give_grant(
    case_id: CaseId, body: GrantCreate, manager: ManagerUser, engine: EngineDep
) -> GrantPublic:
    """Let a user open this case outside their department until the grant expires."""
    grant_id = grant_case_access(
        engine=engine,
        actor=manager.actor,
        case_id=case_id,
        user_id=body.user_id,
        kind=GrantKind.CONSULT,
        reason=body.reason,
        valid_for=timedelta(hours=body.valid_for_hours),
    )
    return _grant(engine, grant_id)


@router.post(
    "/break-glass",
    response_model=GrantPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "You may open the case already."}},
)
def break_glass(
    case_id: CaseId,
    body: BreakGlassRequest,
    user: CurrentUser,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> GrantPublic:
    """Open a case outside your normal access for a few hours, with a reason. The grant and
    every view under it are flagged in the audit log for review. Not for roles that see no
    clinical content (403); lab managers and administrators see the region already (409)."""
    require_clinical(user)
    case = session.get(Case, case_id)
    if case is None:
        raise ResourceNotFoundError(f"case {case_id} does not exist")
    if may_view_case(session, user, case):
        raise ConflictError(
            f"you may open case {case.accession_number} already; no need to break the glass"
        )
    grant_id = grant_case_access(
        engine=engine,
        actor=user.actor,
        case_id=case_id,
        user_id=user.id,
        kind=GrantKind.BREAK_GLASS,
        reason=body.reason,
        valid_for=timedelta(minutes=settings.break_glass_minutes),
    )
    return _grant(engine, grant_id)
