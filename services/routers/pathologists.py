"""The region's pathologists: whom to assign a case to, whom to ask for a consult."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.deps import CurrentUser, EngineDep, ManagerUser, SessionDep
from services.errors import ResourceNotFoundError
from services.paging import Ordering, SortKey, read_page
from services.routers.params import Cursor, DepartmentFilter, Limit, PathologistCodePath
from services.schemas.absences import RosterUpdate
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.schemas.pathologists import PathologistPublic
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction
from worklist.models import Department, Pathologist, PathologistSubspecialty
from worklist.roster import format_working_days, parse_working_days

router = APIRouter(
    prefix="/pathologists",
    tags=["pathologists"],
    responses={401: {"model": ErrorBody, "description": "Not signed in."}},
)


def _public(pathologist: Pathologist) -> PathologistPublic:
    return PathologistPublic(
        code=pathologist.code,
        name=pathologist.name,
        department_code=pathologist.department.code,
        subspecialties=sorted(pathologist.subspecialty_names),
        experienced_in=sorted(pathologist.experienced_in),
        fte=pathologist.fte,
        working_days=[day for day in pathologist.working_days.split(",") if day],
        active=pathologist.active,
    )


_LOADED = (
    selectinload(Pathologist.department),
    selectinload(Pathologist.subspecialties),
)


PATHOLOGISTS_BY_CODE = Ordering("pathologists", (SortKey(Pathologist.code, "str"),))


@router.get("", response_model=Page[PathologistPublic])
def list_pathologists(
    user: CurrentUser,
    session: SessionDep,
    department_code: DepartmentFilter = None,
    subspecialty: Annotated[
        str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = None,
    include_inactive: bool = False,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[PathologistPublic]:
    """Pathologists, by code; narrowed to a department or a subspecialty if asked."""
    query = select(Pathologist).join(Department).options(*_LOADED)
    if department_code is not None:
        query = query.where(Department.code == department_code)
    if subspecialty is not None:
        query = query.where(
            Pathologist.id.in_(
                select(PathologistSubspecialty.pathologist_id).where(
                    PathologistSubspecialty.subspecialty == subspecialty
                )
            )
        )
    if not include_inactive:
        query = query.where(Pathologist.active)
    return read_page(
        session, query, order=PATHOLOGISTS_BY_CODE, limit=limit, cursor=cursor, item=_public
    )


@router.get(
    "/{code}",
    response_model=PathologistPublic,
    responses={404: {"model": ErrorBody, "description": "No pathologist with this code."}},
)
def get_pathologist(
    code: PathologistCodePath, user: CurrentUser, session: SessionDep
) -> PathologistPublic:
    """One pathologist by code."""
    pathologist = session.scalar(
        select(Pathologist).where(Pathologist.code == code).options(*_LOADED)
    )
    if pathologist is None:
        raise ResourceNotFoundError(f"pathologist {code!r} does not exist")
    return _public(pathologist)


@router.patch(
    "/{code}",
    response_model=PathologistPublic,
    responses={404: {"model": ErrorBody, "description": "No pathologist with this code."}},
)
def update_roster(
    code: PathologistCodePath, body: RosterUpdate, user: ManagerUser, engine: EngineDep
) -> PathologistPublic:
    """Set the part-time pattern (``working_days``; lab managers and admins). The capacity and
    the engine use it at once. Audited as ``pathologist.roster`` with the old and new days."""

    def work(session: Session) -> PathologistPublic:
        pathologist = session.scalar(
            select(Pathologist).where(Pathologist.code == code).options(*_LOADED)
        )
        if pathologist is None:
            raise ResourceNotFoundError(f"pathologist {code!r} does not exist")
        before = pathologist.working_days
        pathologist.working_days = format_working_days(parse_working_days(body.working_days))
        record_event(
            session,
            actor=user.actor,
            event_type="pathologist.roster",
            action=AuditAction.UPDATE,
            detail={"pathologist": code, "before": before, "after": pathologist.working_days},
        )
        session.flush()
        return _public(pathologist)

    return run_in_transaction(engine, work)
