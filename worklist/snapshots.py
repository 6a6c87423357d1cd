"""From the database to the engine and back: build a :class:`Snapshot`, apply a round's proposals.

The engine (:mod:`worklist.engine`) is pure; this module is the only place where it meets the
database. :func:`load_snapshot` reads, in one read transaction, what a round depends on:

- the open cases that need a primary pathologist (status "scanned": the slides are there), the
  assigned cases whose trigger asks for a second read that is still missing, and the assigned
  open cases of the same patients (so the engine can keep a patient with one pathologist);
- the active pathologists with their department, subspecialties and experience, whether the
  roster has them working today, today's capacity, their open minutes and the minutes assigned
  to them today.

:func:`auto_assign` plans a round on that snapshot and, unless it is a dry run, applies the
proposals through :func:`~worklist.operations.apply_proposals` in one transaction, each
assignment recording the rule that made it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session, selectinload

from worklist import lifecycle
from worklist.actor import Actor
from worklist.db import read_session
from worklist.engine import (
    AssignmentPlan,
    CaseSnapshot,
    PathologistSnapshot,
    RuleSet,
    Snapshot,
    Unplaced,
    plan_assignments,
)
from worklist.enums import AssignmentKind, CaseStatus, Priority
from worklist.models import Assignment, Case, Department, Pathologist
from worklist.operations import apply_proposals
from worklist.operations._common import require_manager, utc_now
from worklist.workload import WorkloadModel

__all__ = [
    "REGION_TIMEZONE",
    "apply_plan",
    "assignment_minutes",
    "auto_assign",
    "build_snapshot",
    "case_minutes",
    "load_snapshot",
]

REGION_TIMEZONE: tzinfo = ZoneInfo("Europe/Amsterdam")
"""Rosters name local days: "today" is the date on the region's wall clock."""

_ASSIGNED = tuple(lifecycle.ASSIGNED_STATUSES)
# An answered second read still counts: the trigger asked for a read, and it was given.
_COUNTED_SECOND_READ_ENDS = ("completed",)


def case_minutes(workload: WorkloadModel, category: int, priority: Priority) -> float:
    """Standard minutes of one case: its category's, plus the frozen section for a frozen case."""
    return workload.case_minutes(category) + _add_on_minutes(workload, priority)


def _add_on_minutes(workload: WorkloadModel, priority: Priority) -> float:
    # The only add-on the database knows of: a frozen-priority case had a frozen section.
    return workload.frozen_section_minutes if priority is Priority.FROZEN else 0.0


def assignment_minutes(workload: WorkloadModel, kind: AssignmentKind, minutes: float) -> float:
    """What holding a case as ``kind`` costs, from the case's standard ``minutes``: all of
    them for the primary read, the second-opinion share for a second read or consult."""
    if kind is AssignmentKind.PRIMARY:
        return minutes
    return workload.second_opinion_minutes(minutes)


def load_snapshot(
    *,
    engine: Engine,
    now: datetime,
    rules: RuleSet | None = None,
    workload: WorkloadModel | None = None,
    timezone: tzinfo = REGION_TIMEZONE,
) -> Snapshot:
    """Read the engine's snapshot at ``now`` in one read transaction; see :func:`build_snapshot`."""
    with read_session(engine) as session, session.begin():
        return build_snapshot(session, now=now, rules=rules, workload=workload, timezone=timezone)


def build_snapshot(
    session: Session,
    *,
    now: datetime,
    rules: RuleSet | None = None,
    workload: WorkloadModel | None = None,
    timezone: tzinfo = REGION_TIMEZONE,
) -> Snapshot:
    """The engine's view of the worklist in ``session`` at ``now`` (an aware time).

    ``rules`` default to :class:`RuleSet`'s defaults; pass the region's (the trigger table and
    the general-pool fallback live in the region file, not in the database). A pathologist's
    capacity today is their weekly capacity (FTE x minutes per FTE-week) spread over their
    rostered weekdays, and nothing on a day they do not work or are absent.
    """
    moment = utc_now(now)
    rules = rules if rules is not None else RuleSet()
    workload = workload if workload is not None else WorkloadModel()
    today = moment.astimezone(timezone).date()
    codes = {row.id: row.code for row in session.execute(select(Department.id, Department.code))}

    holdings = _active_holdings(session, workload, today, timezone)
    cases = _cases(session, codes, holdings, workload)
    people = _pathologists(session, codes, holdings, workload, today)
    return Snapshot(now=moment, cases=cases, pathologists=people, rules=rules, workload=workload)


@dataclass
class _Holdings:
    """What the active assignments say: who holds which case, and how many minutes each has."""

    primary: dict[int, int]
    """case id -> the pathologist holding its primary read."""
    second_readers: dict[int, set[int]]
    """case id -> pathologists who hold (or gave) its second read."""
    open_minutes: dict[int, float]
    today_minutes: dict[int, float]


def _active_holdings(
    session: Session, workload: WorkloadModel, today: date, timezone: tzinfo
) -> _Holdings:
    rows = session.execute(
        select(
            Assignment.case_id,
            Assignment.pathologist_id,
            Assignment.kind,
            Assignment.assigned_at,
            Case.category,
            Case.priority,
        )
        .join(Case, Case.id == Assignment.case_id)
        .where(Assignment.active, Case.status != CaseStatus.SIGNED_OUT)
    )
    holdings = _Holdings({}, defaultdict(set), defaultdict(float), defaultdict(float))
    for case_id, pathologist_id, kind, assigned_at, category, priority in rows:
        minutes = assignment_minutes(workload, kind, case_minutes(workload, category, priority))
        holdings.open_minutes[pathologist_id] += minutes
        if assigned_at.astimezone(timezone).date() == today:
            holdings.today_minutes[pathologist_id] += minutes
        if kind is AssignmentKind.PRIMARY:
            holdings.primary[case_id] = pathologist_id
        elif kind is AssignmentKind.SECOND_OPINION:
            holdings.second_readers[case_id].add(pathologist_id)
    answered = session.execute(
        select(Assignment.case_id, Assignment.pathologist_id)
        .join(Case, Case.id == Assignment.case_id)
        .where(
            Assignment.kind == AssignmentKind.SECOND_OPINION,
            Assignment.end_reason.in_(_COUNTED_SECOND_READ_ENDS),
            Case.status.in_(_ASSIGNED),
            Case.second_read_trigger.is_not(None),
        )
    )
    for case_id, pathologist_id in answered:
        holdings.second_readers[case_id].add(pathologist_id)
    return holdings


def _cases(
    session: Session,
    codes: dict[int, str],
    holdings: _Holdings,
    workload: WorkloadModel,
) -> tuple[CaseSnapshot, ...]:
    waiting_patients = select(Case.patient_pseudonym).where(Case.status == CaseStatus.SCANNED)
    # Columns, not entities: the snapshot is read-only, and skipping the ORM's identity map
    # halves the time of a 10,000-case read.
    query = (
        select(
            Case.id,
            Case.status,
            Case.accession_number,
            Case.department_id,
            Case.patient_pseudonym,
            Case.tumour_group,
            Case.category,
            Case.priority,
            Case.received_at,
            Case.due_at,
            Case.second_read_trigger,
        )
        .where(
            or_(
                Case.status == CaseStatus.SCANNED,
                Case.status.in_(_ASSIGNED)
                & or_(
                    Case.second_read_trigger.is_not(None),
                    Case.patient_pseudonym.in_(waiting_patients),
                ),
            )
        )
        .order_by(Case.id)
    )
    snapshots: list[CaseSnapshot] = []
    for case in session.execute(query):
        primary = holdings.primary.get(case.id)
        if case.status is not CaseStatus.SCANNED and primary is None:
            continue  # an assigned status without an active primary: nothing the engine can do
        snapshots.append(
            CaseSnapshot(
                case_id=case.id,
                accession=case.accession_number,
                department=codes[case.department_id],
                patient=case.patient_pseudonym,
                subspecialty=case.tumour_group,
                category=case.category,
                priority=case.priority,
                received_at=case.received_at,
                due_at=case.due_at,
                primary_pathologist_id=primary,
                second_read_trigger=case.second_read_trigger,
                second_reader_ids=tuple(sorted(holdings.second_readers.get(case.id, ()))),
                add_on_minutes=_add_on_minutes(workload, case.priority),
            )
        )
    return tuple(snapshots)


def _pathologists(
    session: Session,
    codes: dict[int, str],
    holdings: _Holdings,
    workload: WorkloadModel,
    today: date,
) -> tuple[PathologistSnapshot, ...]:
    query = (
        select(Pathologist)
        .where(Pathologist.active)
        .options(selectinload(Pathologist.subspecialties), selectinload(Pathologist.absences))
        .order_by(Pathologist.id)
    )
    people: list[PathologistSnapshot] = []
    for person in session.execute(query).scalars():
        roster = person.roster()
        present = roster.is_working(today)
        per_day = workload.rostered_day_minutes(person.fte, len(roster.working_weekdays))
        people.append(
            PathologistSnapshot(
                pathologist_id=person.id,
                name=person.name,
                department=codes[person.department_id],
                subspecialties=person.subspecialty_names,
                fte=person.fte,
                max_open_minutes=person.max_open_minutes,
                capacity_today_minutes=per_day if present else 0.0,
                present=present,
                open_minutes=holdings.open_minutes.get(person.id, 0.0),
                today_minutes=holdings.today_minutes.get(person.id, 0.0),
                experienced_in=person.experienced_in,
            )
        )
    return tuple(people)


def apply_plan(
    *, engine: Engine, actor: Actor, plan: AssignmentPlan, now: datetime
) -> AssignmentPlan:
    """Apply ``plan``'s proposals in one transaction; what really happened, as a plan.

    Proposals overtaken since the snapshot (a case claimed or released meanwhile) are skipped by
    :func:`~worklist.operations.apply_proposals`; they come back among the unplaced cases, with
    the reason, so the result's proposals are exactly the assignments made.
    """
    outcome = apply_proposals(
        engine=engine,
        actor=actor,
        proposals=[(p.case_id, p.pathologist_id, p.kind, p.rule.value) for p in plan.proposals],
        now=now,
    )
    applied = {(r.case.case_id, r.pathologist_id, r.kind) for r in outcome.applied}
    skipped = {
        (case_id, who, AssignmentKind(kind)): why
        for (case_id, who, kind, _), why in outcome.skipped
    }
    kept = tuple(p for p in plan.proposals if (p.case_id, p.pathologist_id, p.kind) in applied)
    overtaken = tuple(
        Unplaced(p.case_id, f"overtaken since the snapshot: {why}", p.kind)
        for p in plan.proposals
        if (why := skipped.get((p.case_id, p.pathologist_id, p.kind))) is not None
    )
    return replace(plan, proposals=kept, unplaced=plan.unplaced + overtaken)


def auto_assign(
    *,
    engine: Engine,
    actor: Actor,
    now: datetime,
    dry_run: bool = False,
    rules: RuleSet | None = None,
    workload: WorkloadModel | None = None,
    snapshot: Snapshot | None = None,
) -> AssignmentPlan:
    """One automatic assignment round at ``now``: plan, and unless ``dry_run``, apply.

    Needs a lab manager, an admin or the system (it moves everyone's work; a dry run shows the
    whole regional queue). A dry run writes nothing. Pass ``snapshot`` when the caller already
    loaded it (to show names next to the proposals); it must be of ``now``. Running it again
    does not double-assign: assigned cases and given second reads are in the next snapshot.
    """
    require_manager(actor, "run an assignment round")
    moment = utc_now(now)
    if snapshot is None:
        snapshot = load_snapshot(engine=engine, now=moment, rules=rules, workload=workload)
    elif snapshot.now != moment:
        raise ValueError(f"the snapshot is of {snapshot.now.isoformat()}, not {moment.isoformat()}")
    plan = plan_assignments(snapshot)
    if dry_run or not plan.proposals:
        return plan
    return apply_plan(engine=engine, actor=actor, plan=plan, now=moment)
