"""The load per pathologist and department on one day.

Presence and capacity come from the engine's own snapshot
(:func:`worklist.snapshots.build_snapshot`: capacity = weekly capacity spread over the
rostered weekdays, nothing on a day off), and why
someone is absent from the same roster (:meth:`worklist.roster.Roster.why_absent`): what this
page shows is what the assignment round plans with. The open minutes are those held now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from worklist.models import Department, Pathologist
from worklist.snapshots import REGION_TIMEZONE, build_snapshot
from worklist.workload import WorkloadModel

__all__ = ["DayLoad", "DepartmentLoad", "PathologistLoad", "load_on"]


@dataclass(frozen=True)
class PathologistLoad:
    """One active pathologist on the day."""

    code: str
    name: str
    department_code: str
    subspecialties: tuple[str, ...]
    present: bool
    absent_because: str | None
    """None when present; else ``"not a working day"``, ``"public holiday: ..."``, ``"leave"``..."""
    capacity_minutes: float
    open_minutes: float
    """Standard minutes of the open cases held now (primary, second reads, consults)."""
    assigned_today_minutes: float
    load_ratio: float | None
    """Open minutes (today's included) / capacity, as the engine ranks; None without capacity."""


@dataclass(frozen=True)
class DepartmentLoad:
    """A department's pathologists summed."""

    department_code: str
    headcount: int
    present: int
    capacity_minutes: float
    open_minutes: float
    assigned_today_minutes: float
    load_ratio: float | None


@dataclass(frozen=True)
class DayLoad:
    """The load on ``day``: per pathologist (by department, code), per department, the region."""

    day: date
    pathologists: tuple[PathologistLoad, ...]
    departments: tuple[DepartmentLoad, ...]
    region: DepartmentLoad


def load_on(
    session: Session,
    *,
    day: date,
    now: datetime,
    department_code: str | None = None,
    workload: WorkloadModel | None = None,
    timezone: tzinfo = REGION_TIMEZONE,
) -> DayLoad:
    """The load on ``day`` with what is held at ``now`` (aware), optionally of one department."""
    local_now = now.astimezone(timezone)
    moment = datetime.combine(day, local_now.timetz()) if day != local_now.date() else local_now
    snapshot = build_snapshot(session, now=moment, workload=workload, timezone=timezone)
    people = {p.pathologist_id: p for p in snapshot.pathologists}
    query = (
        select(Pathologist)
        .join(Department)
        .where(Pathologist.active)
        .options(selectinload(Pathologist.absences), selectinload(Pathologist.department))
        .order_by(Department.code, Pathologist.code)
    )
    departments = select(Department.code).order_by(Department.code)
    if department_code is not None:
        query = query.where(Department.code == department_code)
        departments = departments.where(Department.code == department_code)
    loads: list[PathologistLoad] = []
    for person in session.scalars(query):
        seen = people[person.id]
        ratio = seen.load_ratio
        loads.append(
            PathologistLoad(
                code=person.code,
                name=person.name,
                department_code=person.department.code,
                subspecialties=tuple(sorted(seen.subspecialties)),
                present=seen.present,
                absent_because=None if seen.present else person.roster().why_absent(day),
                capacity_minutes=seen.capacity_today_minutes,
                open_minutes=seen.open_minutes,
                assigned_today_minutes=seen.today_minutes,
                load_ratio=ratio if seen.capacity_today_minutes > 0 else None,
            )
        )
    summed = tuple(
        _summed(code, [p for p in loads if p.department_code == code])
        for code in session.scalars(departments)
    )
    return DayLoad(day, tuple(loads), summed, _summed("region", loads))


def _summed(code: str, loads: list[PathologistLoad]) -> DepartmentLoad:
    capacity = sum(p.capacity_minutes for p in loads)
    open_minutes = sum(p.open_minutes for p in loads)
    today = sum(p.assigned_today_minutes for p in loads)
    return DepartmentLoad(
        department_code=code,
        headcount=len(loads),
        present=sum(p.present for p in loads),
        capacity_minutes=capacity,
        open_minutes=open_minutes,
        assigned_today_minutes=today,
        load_ratio=open_minutes / capacity if capacity > 0 else None,
    )
