"""The facts capacity metrics are computed from: plain records, loaded from the database once.

Every metric in :mod:`worklist.capacity` is a pure function over these records, so it can be
tested with cases written by hand and reused by the simulation on simulated cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from worklist.enums import AssignmentKind, CaseStatus, Priority
from worklist.models import (
    Absence,
    Assignment,
    Case,
    CaseWait,
    Department,
    Pathologist,
    PathologistSubspecialty,
)
from worklist.roster import parse_working_days
from worklist.snapshots import REGION_TIMEZONE, case_minutes
from worklist.workload import WorkloadModel

__all__ = [
    "CaseFact",
    "PathologistFact",
    "WaitFact",
    "load_case_facts",
    "load_pathologist_facts",
]


@dataclass(frozen=True, slots=True)
class WaitFact:
    """One pause of a case's turnaround clock (still running while ``ended_at`` is None)."""

    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class CaseFact:
    """One case as the capacity metrics see it (all datetimes timezone-aware UTC)."""

    case_id: int
    department_code: str
    tumour_group: str
    category: int
    priority: Priority
    workload_minutes: float
    received_at: datetime
    due_at: datetime
    signed_out_at: datetime | None
    status: CaseStatus
    # The primary holder: the active primary assignment, else the latest primary one; None if
    # the case was never assigned.
    pathologist_code: str | None
    waits: tuple[WaitFact, ...] = ()
    # The local days of receipt and sign-out on the region's wall clock, derived once here:
    # every metric counts days, and a year of cases is counted many times over.
    received_day: date = field(init=False, repr=False, compare=False)
    signed_out_day: date | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "received_day", self.received_at.astimezone(REGION_TIMEZONE).date()
        )
        signed = self.signed_out_at
        object.__setattr__(
            self,
            "signed_out_day",
            None if signed is None else signed.astimezone(REGION_TIMEZONE).date(),
        )


@dataclass(frozen=True, slots=True)
class PathologistFact:
    """One pathologist's planned presence: FTE, working weekdays and absences."""

    code: str
    name: str
    department_code: str
    fte: float
    working_weekdays: frozenset[int]  # 0 = Monday
    absences: tuple[tuple[date, date], ...]  # inclusive (first, last) days
    subspecialties: tuple[str, ...] = ()
    # An inactive pathologist supplies nothing; kept so that their past sign-outs count.
    active: bool = True


def load_case_facts(
    session: Session,
    *,
    model: WorkloadModel,
    since: datetime | None = None,
    department_codes: Collection[str] | None = None,
    tumour_group: str | None = None,
) -> list[CaseFact]:
    """The cases as facts, ordered by id: three column queries (cases, primary holders, waits).

    ``since`` keeps the cases that matter from then on: received since, signed out since, or
    still open. Workload minutes are the engine's (:func:`worklist.snapshots.case_minutes`).
    """
    clauses = _case_filter(since, department_codes, tumour_group)
    cases = (
        select(
            Case.id,
            Department.code,
            Case.tumour_group,
            Case.category,
            Case.priority,
            Case.received_at,
            Case.due_at,
            Case.signed_out_at,
            Case.status,
        )
        .join(Department, Department.id == Case.department_id)
        .where(*clauses)
        .order_by(Case.id)
    )
    holders = _primary_holders(session, clauses)
    waits = _waits(session, clauses)
    minutes_of: dict[tuple[int, Priority], float] = {}
    facts: list[CaseFact] = []
    rows = session.connection().execute(cases)
    for case_id, code, group, category, priority, received, due, signed, status in rows:
        key = (category, priority)
        if key not in minutes_of:
            minutes_of[key] = case_minutes(model, category, priority)
        facts.append(
            CaseFact(
                case_id=case_id,
                department_code=code,
                tumour_group=group,
                category=category,
                priority=priority,
                workload_minutes=minutes_of[key],
                received_at=received,
                due_at=due,
                signed_out_at=signed,
                status=status,
                pathologist_code=holders.get(case_id),
                waits=waits.get(case_id, ()),
            )
        )
    return facts


def _case_filter(
    since: datetime | None,
    department_codes: Collection[str] | None,
    tumour_group: str | None,
) -> list[ColumnElement[bool]]:
    # Every query of the loader narrows the cases the same way (one rule); each joins
    # Department on the case's department.
    clauses: list[ColumnElement[bool]] = []
    if since is not None:
        clauses.append(
            or_(
                Case.received_at >= since,
                Case.signed_out_at.is_(None),
                Case.signed_out_at >= since,
            )
        )
    if department_codes is not None:
        clauses.append(Department.code.in_(sorted(department_codes)))
    if tumour_group is not None:
        clauses.append(Case.tumour_group == tumour_group)
    return clauses


def _primary_holders(session: Session, clauses: list[ColumnElement[bool]]) -> dict[int, str]:
    """Case id -> the code of its primary holder: the active primary, else the latest one."""
    query = (
        select(Assignment.case_id, Pathologist.code)
        .join(Pathologist, Pathologist.id == Assignment.pathologist_id)
        .join(Case, Case.id == Assignment.case_id)
        .join(Department, Department.id == Case.department_id)
        .where(Assignment.kind == AssignmentKind.PRIMARY, *clauses)
        .order_by(Assignment.case_id, Assignment.active, Assignment.assigned_at, Assignment.id)
    )
    # Ordered so that the last row of a case is its holder: inactive before active, then the
    # latest assignment.
    # Only the two columns travel: the times that order the rows are not converted.
    return dict(session.connection().execute(query).all())


def _waits(session: Session, clauses: list[ColumnElement[bool]]) -> dict[int, tuple[WaitFact, ...]]:
    query = (
        select(CaseWait.case_id, CaseWait.started_at, CaseWait.ended_at)
        .join(Case, Case.id == CaseWait.case_id)
        .join(Department, Department.id == Case.department_id)
        .where(*clauses)
        .order_by(CaseWait.case_id, CaseWait.started_at, CaseWait.id)
    )
    waits: dict[int, list[WaitFact]] = defaultdict(list)
    for case_id, started_at, ended_at in session.connection().execute(query):
        waits[case_id].append(WaitFact(started_at, ended_at))
    return {case_id: tuple(found) for case_id, found in waits.items()}


def load_pathologist_facts(session: Session) -> list[PathologistFact]:
    """Every pathologist (inactive ones too, marked), ordered by department and code."""
    people = session.execute(
        select(
            Pathologist.id,
            Pathologist.code,
            Pathologist.name,
            Department.code,
            Pathologist.fte,
            Pathologist.working_days,
            Pathologist.active,
        )
        .join(Department, Department.id == Pathologist.department_id)
        .order_by(Department.code, Pathologist.code)
    ).all()
    absences: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for person_id, starts_on, ends_on in session.execute(
        select(Absence.pathologist_id, Absence.starts_on, Absence.ends_on).order_by(
            Absence.pathologist_id, Absence.starts_on
        )
    ):
        absences[person_id].append((starts_on, ends_on))
    subspecialties: dict[int, list[str]] = defaultdict(list)
    for person_id, subspecialty in session.execute(
        select(
            PathologistSubspecialty.pathologist_id, PathologistSubspecialty.subspecialty
        ).order_by(PathologistSubspecialty.pathologist_id, PathologistSubspecialty.subspecialty)
    ):
        subspecialties[person_id].append(subspecialty)
    return [
        PathologistFact(
            code=code,
            name=name,
            department_code=department_code,
            fte=fte,
            working_weekdays=parse_working_days(working_days),
            absences=tuple(absences.get(person_id, ())),
            subspecialties=tuple(subspecialties.get(person_id, ())),
            active=active,
        )
        for person_id, code, name, department_code, fte, working_days, active in people
    ]
