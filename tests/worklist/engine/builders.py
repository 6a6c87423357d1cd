"""Small factories for engine tests: a case or a pathologist with only what a test cares about."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from worklist.engine import CaseSnapshot, PathologistSnapshot, RuleSet, Snapshot
from worklist.enums import Priority
from worklist.workload import WorkloadModel

NOW = datetime(2025, 3, 12, 9, 0)  # a Wednesday
DAY_MINUTES = WorkloadModel().minutes_per_fte_day
GI = "gastro-intestinal"


def pathologist(
    pathologist_id: int,
    department: str = "Alrijne",
    subspecialties: Iterable[str] = (GI,),
    *,
    name: str | None = None,
    capacity: float = DAY_MINUTES,
    max_open: float = 2_000.0,
    open_minutes: float = 0.0,
    today: float = 0.0,
    present: bool = True,
    experienced_in: Iterable[str] = (),
    fte: float = 1.0,
) -> PathologistSnapshot:
    """A pathologist on the roster with a full day free, unless told otherwise."""
    return PathologistSnapshot(
        pathologist_id=pathologist_id,
        name=name or f"Dr. {pathologist_id}",
        department=department,
        subspecialties=frozenset(subspecialties),
        experienced_in=frozenset(experienced_in),
        fte=fte,
        max_open_minutes=max_open,
        capacity_today_minutes=capacity if present else 0.0,
        present=present,
        open_minutes=open_minutes,
        today_minutes=today,
    )


def case(
    case_id: int,
    department: str = "Alrijne",
    subspecialty: str = GI,
    *,
    category: int = 2,
    priority: Priority = Priority.ROUTINE,
    patient: str | None = None,
    due_in: timedelta = timedelta(days=5),
    received_ago: timedelta = timedelta(hours=2),
    primary: int | None = None,
    trigger: str | None = None,
    second_readers: tuple[int, ...] = (),
) -> CaseSnapshot:
    """An unassigned routine GI biopsy (category 2, 15 minutes) from Alrijne, due in 5 days."""
    return CaseSnapshot(
        case_id=case_id,
        accession=f"{department[:3].upper()}-T25-{case_id:06d}",
        department=department,
        patient=patient or f"PSN-{case_id:07d}",
        subspecialty=subspecialty,
        category=category,
        priority=priority,
        received_at=NOW - received_ago,
        due_at=NOW + due_in,
        primary_pathologist_id=primary,
        second_read_trigger=trigger,
        second_reader_ids=second_readers,
    )


def snapshot(
    cases: Iterable[CaseSnapshot],
    pathologists: Iterable[PathologistSnapshot],
    rules: RuleSet | None = None,
    *,
    now: datetime = NOW,
) -> Snapshot:
    """A snapshot at :data:`NOW` with the default workload model."""
    return Snapshot(now, tuple(cases), tuple(pathologists), rules or RuleSet())
