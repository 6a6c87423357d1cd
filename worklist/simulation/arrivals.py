"""The cases a simulation receives: the seeded synthetic stream or the recorded history.

Every policy of one comparison sees the same arrivals, in the same order, with the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.models import Case, Department
from worklist.operations.intake import CaseIntake
from worklist.synthetic import case_stream

__all__ = ["Arrival", "from_intakes", "recorded_arrivals", "synthetic_arrivals"]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One case as it arrives: what the engine needs to know of it."""

    department: str
    patient: str
    subspecialty: str
    category: int
    priority: Priority
    received_at: datetime
    """Timezone-aware."""
    second_read_trigger: str | None = None


def from_intakes(intakes: Iterable[CaseIntake]) -> list[Arrival]:
    """Arrivals from intake records (those without a receipt time are left out)."""
    arrivals = [
        Arrival(
            department=c.department,
            patient=c.patient_pseudonym,
            subspecialty=c.tumour_group,
            category=c.category,
            priority=c.priority,
            received_at=c.received_at,
            second_read_trigger=c.second_read_trigger,
        )
        for c in intakes
        if c.received_at is not None
    ]
    return sorted(arrivals, key=lambda a: (a.received_at, a.department))


def synthetic_arrivals(
    *,
    start: date,
    weeks: int,
    seed: int,
    cases_per_year: float,
    departments: Sequence[str],
) -> list[Arrival]:
    """The seeded synthetic stream (:func:`worklist.synthetic.case_stream`) over ``weeks``."""
    _check_weeks(weeks)
    stream = case_stream(
        start=start,
        days=weeks * 7,
        seed=seed,
        cases_per_year=cases_per_year,
        departments=departments,
        scanned=False,
    )
    return from_intakes(stream)


def recorded_arrivals(session: Session, *, start: date, weeks: int) -> list[Arrival]:
    """The cases recorded in the database as received in the ``weeks`` from ``start`` (UTC)."""
    _check_weeks(weeks)
    since = datetime.combine(start, time(0), tzinfo=UTC)
    until = since + timedelta(weeks=weeks)
    rows = session.execute(
        select(
            Department.code,
            Case.patient_pseudonym,
            Case.tumour_group,
            Case.category,
            Case.priority,
            Case.received_at,
            Case.second_read_trigger,
        )
        .join(Department, Department.id == Case.department_id)
        .where(Case.received_at >= since, Case.received_at < until)
        .order_by(Case.received_at, Case.id)
    )
    return [
        Arrival(code, patient, group, category, priority, _aware(received), trigger)
        for code, patient, group, category, priority, received, trigger in rows
    ]


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the database stores UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _check_weeks(weeks: int) -> None:
    if not 1 <= weeks <= 104:
        raise ValidationError(f"weeks must lie in 1..104, got {weeks}")
