"""The region's departments (every signed-in user may list them)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from services.deps import CurrentUser, SessionDep
from services.errors import ResourceNotFoundError
from services.paging import Ordering, SortKey, read_page
from services.routers.params import Cursor, DepartmentCodePath, Limit
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, Page
from services.schemas.departments import DepartmentPublic
from worklist.models import Department

router = APIRouter(
    prefix="/departments",
    tags=["departments"],
    responses={401: {"model": ErrorBody, "description": "Not signed in."}},
)


DEPARTMENTS_BY_CODE = Ordering("departments", (SortKey(Department.code, "str"),))


@router.get("", response_model=Page[DepartmentPublic])
def list_departments(
    user: CurrentUser,
    session: SessionDep,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[DepartmentPublic]:
    """The departments of the region, by code."""
    return read_page(
        session,
        select(Department),
        order=DEPARTMENTS_BY_CODE,
        limit=limit,
        cursor=cursor,
        item=DepartmentPublic.model_validate,
    )


@router.get(
    "/{code}",
    response_model=DepartmentPublic,
    responses={404: {"model": ErrorBody, "description": "No department with this code."}},
)
def get_department(
    code: DepartmentCodePath, user: CurrentUser, session: SessionDep
) -> DepartmentPublic:
    """One department by its code."""
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise ResourceNotFoundError(f"department {code!r} does not exist")
    return DepartmentPublic.model_validate(department)
