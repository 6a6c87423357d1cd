"""Rosters and absences per pathologist: leave, sickness, courses (lab managers and admins).

Absences are read by the capacity and the engine through ``Pathologist.roster()`` at once:
the next load figure or assignment round sees them. A pathologist may read their own.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as PathParam
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from services.deps import CurrentUser, EngineDep, ManagerUser, SessionDep
from services.errors import AccessDeniedError, ConflictError, ResourceNotFoundError
from services.routers.params import PathologistCodePath
from services.schemas.absences import AbsenceCreate, AbsenceList, AbsencePublic
from services.schemas.auth import ErrorBody
from services.schemas.common import MAX_ID
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, Role
from worklist.errors import ValidationError
from worklist.models import Absence, Pathologist

router = APIRouter(
    prefix="/pathologists/{code}/absences",
    tags=["pathologists"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        404: {"model": ErrorBody, "description": "No pathologist with this code."},
    },
)

AbsenceId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The absence's id.")]


def find_pathologist(session: Session, code: str) -> Pathologist:
    """The pathologist with ``code`` (absences loaded), or 404."""
    pathologist = session.scalar(
        select(Pathologist)
        .where(Pathologist.code == code)
        .options(selectinload(Pathologist.absences))
    )
    if pathologist is None:
        raise ResourceNotFoundError(f"pathologist {code!r} does not exist")
    return pathologist


def _public(code: str, absence: Absence) -> AbsencePublic:
    return AbsencePublic(
        id=absence.id,
        pathologist_code=code,
        starts_on=absence.starts_on,
        ends_on=absence.ends_on,
        kind=absence.reason,
    )


def absence_list(pathologist: Pathologist, on: date) -> AbsenceList:
    """The pathologist's absences and whether they work on ``on``."""
    why = pathologist.roster().why_absent(on)
    return AbsenceList(
        pathologist_code=pathologist.code,
        working_days=[day for day in pathologist.working_days.split(",") if day],
        on=on,
        present=why is None,
        why_absent=why,
        absences=[_public(pathologist.code, a) for a in pathologist.absences],
    )


@router.get("", response_model=AbsenceList)
def list_absences(
    code: PathologistCodePath,
    user: CurrentUser,
    session: SessionDep,
    on: Annotated[date | None, Query(description="The day to say present or not (today).")] = None,
) -> AbsenceList:
    """A pathologist's absences (lab managers, admins, the pathologist themself)."""
    pathologist = find_pathologist(session, code)
    if user.role not in (Role.LAB_MANAGER, Role.ADMIN) and user.pathologist_id != pathologist.id:
        raise AccessDeniedError("only lab managers, admins and the pathologist see absences")
    return absence_list(pathologist, on or date.today())


@router.post(
    "",
    response_model=AbsencePublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "Overlaps an absence already entered."}},
)
def add_absence(
    code: PathologistCodePath, body: AbsenceCreate, user: ManagerUser, engine: EngineDep
) -> AbsencePublic:
    """Record leave, sickness or a course (inclusive dates); overlapping one is 409. Audited."""
    if body.ends_on < body.starts_on:
        raise ValidationError(
            f"the absence ends {body.ends_on.isoformat()} before it starts "
            f"{body.starts_on.isoformat()}"
        )

    def work(session: Session) -> AbsencePublic:
        pathologist = find_pathologist(session, code)
        for other in pathologist.absences:
            if other.starts_on <= body.ends_on and body.starts_on <= other.ends_on:
                raise ConflictError(
                    f"{code} is already absent ({other.reason}) from "
                    f"{other.starts_on.isoformat()} to {other.ends_on.isoformat()}"
                )
        absence = Absence(
            pathologist_id=pathologist.id,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            reason=body.kind,
        )
        session.add(absence)
        session.flush()
        record_event(
            session,
            actor=user.actor,
            event_type="absence.create",
            action=AuditAction.CREATE,
            detail={
                "pathologist": code,
                "absence_id": absence.id,
                "starts_on": body.starts_on.isoformat(),
                "ends_on": body.ends_on.isoformat(),
                "kind": body.kind,
            },
        )
        return _public(code, absence)

    return run_in_transaction(engine, work)


@router.delete("/{absence_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_absence(
    code: PathologistCodePath, absence_id: AbsenceId, user: ManagerUser, engine: EngineDep
) -> Response:
    """Remove an absence entered in error (or ended early: add the shorter one again). Audited."""

    def work(session: Session) -> None:
        pathologist = find_pathologist(session, code)
        absence = next((a for a in pathologist.absences if a.id == absence_id), None)
        if absence is None:
            raise ResourceNotFoundError(f"{code} has no absence {absence_id}")
        session.delete(absence)
        record_event(
            session,
            actor=user.actor,
            event_type="absence.delete",
            action=AuditAction.DELETE,
            detail={
                "pathologist": code,
                "absence_id": absence_id,
                "starts_on": absence.starts_on.isoformat(),
                "ends_on": absence.ends_on.isoformat(),
                "kind": absence.reason,
            },
        )

    run_in_transaction(engine, work)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
