"""Cases: the scoped list, one case with its specimens, blocks and slides, and intake.

Opening one case writes one audit record (NEN 7513); if it cannot be written, the request
fails instead of showing the case unaudited. Lists are not audited case by case, so they
show no more than the worklist needs. Lists are pages (``limit``, ``cursor``; see
:mod:`services.schemas.common`).
"""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy import select

from services.access import open_case
from services.case_queries import CaseFilter, case_detail, case_page, case_slides, visible_to
from services.deps import CurrentUser, EngineDep, ManagerUser, PrefetchDep, SessionDep, StateDep
from services.errors import ResourceNotFoundError
from services.routers.params import AccessionPath, CaseId, Cursor, DepartmentFilter, Limit
from services.schemas.auth import ErrorBody
from services.schemas.cases import CaseCreate, CaseDetail, CasePublic, SlideListing
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from worklist.db import read_session
from worklist.enums import CaseStatus, Priority
from worklist.models import Case
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_case,
)

router = APIRouter(
    prefix="/cases",
    tags=["cases"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Not yours to see or do."},
        404: {"model": ErrorBody, "description": "No such case."},
    },
)


@router.get("", response_model=Page[CasePublic])
def list_cases(
    user: CurrentUser,
    session: SessionDep,
    status: CaseStatus | None = None,
    department_code: DepartmentFilter = None,
    priority: Priority | None = None,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[CasePublic]:
    """The cases you may see, oldest first: a pathologist their department's, those assigned to
    them and those granted to them; lab managers and administrators the whole region."""
    where = CaseFilter(
        statuses=None if status is None else (status,),
        department_code=department_code,
        priority=priority,
    )
    return case_page(
        session,
        scope=visible_to(user),
        where=where,
        limit=limit,
        cursor=cursor,
        urgent_first=False,
    )


def _intake_of(body: CaseCreate) -> CaseIntake:
    return CaseIntake(
        department=body.department_code,
        patient_pseudonym=body.patient_pseudonym,
        tumour_group=body.tumour_group,
        category=body.category,
        priority=body.priority,
        case_type=body.case_type,
        received_at=body.received_at,
        due_at=body.due_at,
        second_read_trigger=body.second_read_trigger,
        accession_number=body.accession_number,
        specimens=tuple(
            SpecimenIntake(
                label=specimen.label,
                description=specimen.description,
                blocks=tuple(
                    BlockIntake(
                        label=block.label,
                        slides=tuple(SlideIntake(stain=slide.stain) for slide in block.slides),
                    )
                    for block in specimen.blocks
                ),
            )
            for specimen in body.specimens
        ),
    )


@router.post(
    "",
    response_model=CaseDetail,
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": ErrorBody, "description": "The accession number is taken."},
    },
)
def intake(body: CaseCreate, manager: ManagerUser, engine: EngineDep) -> CaseDetail:
    """Register a case with its specimens, blocks and (unscanned) slides (lab managers)."""
    created = intake_case(engine=engine, actor=manager.actor, case=_intake_of(body))
    with read_session(engine) as fresh:  # the request's session predates the new rows
        detail = case_detail(fresh, created.case_id)
    assert detail is not None
    return detail


def _open_case(session: SessionDep, state: StateDep, user: CurrentUser, case_id: int) -> CaseDetail:
    state.views.opened(state.engine, user, open_case(session, user, case_id, views=state.views))
    detail = case_detail(session, case_id)
    assert detail is not None  # open_case found it in this very session
    return detail


@router.get("/by-accession/{accession_number}", response_model=CaseDetail)
def get_case_by_accession(
    accession_number: AccessionPath, user: CurrentUser, session: SessionDep, state: StateDep
) -> CaseDetail:
    """One case by its accession number, in full (audited like opening it by id)."""
    case_id = session.scalar(select(Case.id).where(Case.accession_number == accession_number))
    if case_id is None:
        raise ResourceNotFoundError(f"case {accession_number!r} does not exist")
    return _open_case(session, state, user, case_id)


@router.get("/{case_id}", response_model=CaseDetail)
def get_case(
    case_id: CaseId, user: CurrentUser, session: SessionDep, state: StateDep
) -> CaseDetail:
    """One case with its specimens, blocks, slides and assignments. Audited (once per
    sign-in session, whichever of the case's routes comes first)."""
    return _open_case(session, state, user, case_id)


@router.get("/{case_id}/slides", response_model=Page[SlideListing])
def list_case_slides(
    case_id: CaseId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    prefetch: PrefetchDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[SlideListing]:
    """The case's slides with their specimen and block, ready for the viewer, in specimen,
    block and slide order. Audited as opening the case (as fetching it ahead with
    ``Coupe-Purpose: prefetch``)."""
    access = open_case(session, user, case_id, views=state.views)
    page = case_slides(session, case_id, limit=limit, cursor=cursor)
    # After the read: a bad cursor opened nothing.
    state.views.opened(state.engine, user, access, prefetched=prefetch)
    return page
