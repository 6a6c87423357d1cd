"""The lab manager's figures: the backlog and the load per pathologist and department on a day.

Lab managers and administrators only (the region's managers, as for ``/worklist/region``). The
figures are sums over cases and rosters; no case or patient is named in them, so reading them
opens no case and writes no audit record of a case access.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.deps import ManagerUser, SessionDep
from services.errors import ResourceNotFoundError
from services.routers.params import DepartmentFilter
from services.schemas.auth import ErrorBody
from services.schemas.desk import (
    BacklogPublic,
    BacklogRowPublic,
    DepartmentLoadPublic,
    LoadPublic,
    PathologistLoadPublic,
)
from worklist.metrics import AGE_BUCKETS, BacklogRow, backlog, load_on
from worklist.models import Department
from worklist.snapshots import REGION_TIMEZONE

router = APIRouter(
    tags=["desk"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "Lab managers and administrators only."},
        404: {"model": ErrorBody, "description": "No department with this code."},
    },
)

TumourGroupFilter = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Only this tumour group's cases (e.g. gastrointestinal).",
    ),
]


def _known_department(session: Session, code: str | None) -> None:
    if (
        code is not None
        and session.scalar(select(Department.id).where(Department.code == code)) is None
    ):
        raise ResourceNotFoundError(f"department {code!r} does not exist")


def _row(row: BacklogRow) -> BacklogRowPublic:
    return BacklogRowPublic(
        department_code=row.department_code,
        tumour_group=row.tumour_group,
        open_cases=row.open_cases,
        open_minutes=round(row.open_minutes, 1),
        overdue_cases=row.overdue_cases,
        cases_by_age=dict(row.cases_by_age),
    )


@router.get("/worklist/backlog", response_model=BacklogPublic)
def backlog_figures(
    manager: ManagerUser,
    session: SessionDep,
    department_code: DepartmentFilter = None,
    tumour_group: TumourGroupFilter = None,
) -> BacklogPublic:
    """The open backlog (every case not signed out) per department and tumour group: open
    cases, open standard minutes, cases per age bucket (0-2, 3-5, 6-7, 8-10, >10 calendar
    days since receipt) and overdue cases; summed per department and for the region."""
    _known_department(session, department_code)
    figures = backlog(
        session,
        now=datetime.now(UTC),
        department_code=department_code,
        tumour_group=tumour_group,
    )
    return BacklogPublic(
        as_of=figures.now,
        age_buckets=[label for label, _, _ in AGE_BUCKETS],
        groups=[_row(row) for row in figures.groups],
        departments=[_row(row) for row in figures.departments],
        region=_row(figures.region),
    )


@router.get("/pathologists/load", response_model=LoadPublic)
def load_figures(
    manager: ManagerUser,
    session: SessionDep,
    day: Annotated[
        date | None,
        Query(alias="date", description="The day (YYYY-MM-DD); today in the region if absent."),
    ] = None,
    department_code: DepartmentFilter = None,
) -> LoadPublic:
    """Per active pathologist on the day: present or why not (not a working day, a public
    holiday, leave, sickness, ...), capacity minutes, open minutes held now, minutes assigned
    that day, relative load and subspecialties; summed per department and for the region.
    Presence and capacity are the assignment engine's own."""
    _known_department(session, department_code)
    now = datetime.now(UTC)
    figures = load_on(
        session,
        day=day if day is not None else now.astimezone(REGION_TIMEZONE).date(),
        now=now,
        department_code=department_code,
    )
    return LoadPublic(
        date=figures.day,
        pathologists=[
            PathologistLoadPublic.model_validate(
                {**asdict(p), "subspecialties": list(p.subspecialties)}
            )
            for p in figures.pathologists
        ],
        departments=[DepartmentLoadPublic.model_validate(asdict(d)) for d in figures.departments],
        region=DepartmentLoadPublic.model_validate(asdict(figures.region)),
    )
