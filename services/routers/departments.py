"""The region's departments (every signed-in user may list them)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from services.deps import CurrentUser, SessionDep
from services.errors import ResourceNotFoundError
from services.routers.params import DepartmentCodePath
from services.schemas.auth import ErrorBody
from services.schemas.departments import DepartmentPublic
from worklist.models import Department

router = APIRouter(
    prefix="/departments",
    tags=["departments"],
    responses={401: {"model": ErrorBody, "description": "Not signed in."}},
)


@router.get("", response_model=list[DepartmentPublic])
def list_departments(user: CurrentUser, session: SessionDep) -> list[DepartmentPublic]:
    """Every department of the region, by code."""
    departments = session.scalars(select(Department).order_by(Department.code))
    return [DepartmentPublic.model_validate(d) for d in departments]


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
