"""The open backlog per department and tumour group: cases, standard minutes, age, overdue.

A case is open until it is signed out (received, scanned, assigned, in review, waiting on a
consult). Its age is counted in calendar days on the region's wall clock, from the day it was
received to today, as the routine TAT targets (7 and 10 calendar days) count. Its minutes are
the ones the assignment engine counts with (:func:`worklist.snapshots.case_minutes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.enums import CaseStatus
from worklist.models import Case, Department
from worklist.snapshots import REGION_TIMEZONE, case_minutes
from worklist.workload import WorkloadModel

__all__ = ["AGE_BUCKETS", "BacklogFigures", "BacklogRow", "age_bucket", "backlog"]

AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-2", 0, 2),
    ("3-5", 3, 5),
    ("6-7", 6, 7),
    ("8-10", 8, 10),
    (">10", 11, None),
)
"""The ageing buckets: (label, first day, last day or None for "and older")."""


def age_bucket(age_days: int) -> str:
    """The label of the bucket that a case ``age_days`` old falls in (negative counts as 0)."""
    for label, first, last in AGE_BUCKETS:
        if age_days >= first and (last is None or age_days <= last):
            return label
    return AGE_BUCKETS[0][0]  # received "in the future" (a clock skew): the youngest bucket


@dataclass
class BacklogRow:
    """The open cases of one group (a department and tumour group, a department, the region)."""

    department_code: str | None
    tumour_group: str | None
    open_cases: int = 0
    open_minutes: float = 0.0
    overdue_cases: int = 0
    cases_by_age: dict[str, int] = field(
        default_factory=lambda: {label: 0 for label, _, _ in AGE_BUCKETS}
    )

    def add(self, *, minutes: float, bucket: str, overdue: bool) -> None:
        """Count one open case."""
        self.open_cases += 1
        self.open_minutes += minutes
        self.overdue_cases += overdue
        self.cases_by_age[bucket] += 1


@dataclass(frozen=True)
class BacklogFigures:
    """The backlog at ``now``: one row per department and tumour group with open cases, the
    sums per department (every department, also one without open cases) and the region's."""

    now: datetime
    groups: tuple[BacklogRow, ...]
    departments: tuple[BacklogRow, ...]
    region: BacklogRow


def backlog(
    session: Session,
    *,
    now: datetime,
    department_code: str | None = None,
    tumour_group: str | None = None,
    workload: WorkloadModel | None = None,
    timezone: tzinfo = REGION_TIMEZONE,
) -> BacklogFigures:
    """The open backlog at ``now`` (aware), narrowed to a department and/or tumour group."""
    workload = workload if workload is not None else WorkloadModel()
    today = now.astimezone(timezone).date()
    departments = select(Department.code).order_by(Department.code)
    if department_code is not None:
        departments = departments.where(Department.code == department_code)
    query = (
        select(
            Department.code,
            Case.tumour_group,
            Case.category,
            Case.priority,
            Case.received_at,
            Case.due_at,
        )
        .join(Department, Department.id == Case.department_id)
        .where(Case.status != CaseStatus.SIGNED_OUT)
    )
    if department_code is not None:
        query = query.where(Department.code == department_code)
    if tumour_group is not None:
        query = query.where(Case.tumour_group == tumour_group)
    groups: dict[tuple[str, str], BacklogRow] = {}
    per_department = {code: BacklogRow(code, None) for code in session.scalars(departments)}
    region = BacklogRow(None, None)
    for code, group, category, priority, received_at, due_at in session.execute(query):
        age_days = (today - received_at.astimezone(timezone).date()).days
        minutes = case_minutes(workload, category, priority)
        bucket = age_bucket(age_days)
        for row in _rows_of(groups, per_department, region, code, group):
            row.add(minutes=minutes, bucket=bucket, overdue=due_at < now)
    ordered = tuple(groups[key] for key in sorted(groups))
    return BacklogFigures(now, ordered, tuple(per_department.values()), region)


def _rows_of(
    groups: dict[tuple[str, str], BacklogRow],
    per_department: dict[str, BacklogRow],
    region: BacklogRow,
    code: str,
    group: str,
) -> Iterable[BacklogRow]:
    key = (code, group)
    if key not in groups:
        groups[key] = BacklogRow(code, group)
    department = per_department.setdefault(code, BacklogRow(code, None))
    return (groups[key], department, region)
