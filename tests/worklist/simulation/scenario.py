"""Small hand-built regions and arrivals for the simulation's tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from worklist.engine import RuleSet
from worklist.enums import Priority
from worklist.region import DepartmentSpec, PathologistSpec, Region
from worklist.roster import Roster
from worklist.simulation.arrivals import Arrival

START = date(2025, 3, 3)
"""A Monday; no Dutch public holiday in March 2025."""
FULL_WEEK = Roster(frozenset(range(5)))


def person(code: str, department: str, *groups: str, fte: float = 1.0) -> PathologistSpec:
    return PathologistSpec(
        code=code,
        name=f"dr. {code}",
        department=department,
        subspecialties=groups,
        fte=fte,
        max_open_minutes=2000.0,
        roster=FULL_WEEK,
    )


def region(*people: PathologistSpec) -> Region:
    return Region(
        name="test region",
        departments=(
            DepartmentSpec("AAA", "Hospital A", "Den Haag"),
            DepartmentSpec("BBB", "Hospital B", "Leiden"),
        ),
        pathologists=people,
        rules=RuleSet(general_pool_fallback=frozenset(), second_reads=()),
    )


def daily_arrivals(
    per_day: Sequence[tuple[str, str, int]], *, weeks: int, category: int = 2
) -> list[Arrival]:
    """On every weekday, for each (department, tumour group, count): count routine cases
    received from 09:00 UTC a minute apart, each of a patient of its own."""
    arrivals: list[Arrival] = []
    for offset in range(weeks * 7):
        day = START + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for department, group, count in per_day:
            for n in range(count):
                arrivals.append(
                    Arrival(
                        department=department,
                        patient=f"PSN-{len(arrivals):06d}",
                        subspecialty=group,
                        category=category,
                        priority=Priority.ROUTINE,
                        received_at=datetime.combine(day, time(9, n % 60), tzinfo=UTC)
                        + timedelta(hours=n // 60),
                    )
                )
    return sorted(arrivals, key=lambda a: (a.received_at, a.department))
