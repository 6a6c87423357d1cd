"""Demand: the workload minutes and cases that arrive, per ISO week or per day.

A case is demand on the local day it was received (``CaseFact.received_day``), for its workload
minutes (fixed when the specimen arrives). Weeks are ISO weeks, named by their Monday.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date

from worklist.capacity.facts import CaseFact
from worklist.capacity.periods import week_start

__all__ = [
    "GROUPINGS",
    "DailyDemand",
    "Demand",
    "daily_demand",
    "demand_between",
    "weekly_demand",
]

GROUPINGS: dict[str, Callable[[CaseFact], Hashable]] = {
    "department": lambda case: case.department_code,
    "tumour_group": lambda case: case.tumour_group,
    "category": lambda case: case.category,
    "priority": lambda case: case.priority.value,
}
"""What demand can be grouped by: the name -> the case's value."""


@dataclass
class Demand:
    """Workload minutes and cases."""

    minutes: float = 0.0
    cases: int = 0

    def add(self, case: CaseFact) -> None:
        """Count one case."""
        self.minutes += case.workload_minutes
        self.cases += 1


@dataclass(frozen=True)
class DailyDemand:
    """One value per calendar day from ``first_day`` (zeros on days without arrivals)."""

    first_day: date
    minutes: tuple[float, ...]
    cases: tuple[int, ...]


def demand_between(cases: Iterable[CaseFact], start: date, stop: date) -> Demand:
    """The demand received on local days ``[start, stop)``."""
    total = Demand()
    for case in cases:
        if start <= case.received_day < stop:
            total.add(case)
    return total


def weekly_demand(
    cases: Iterable[CaseFact],
    *,
    by: Iterable[str] = (),
) -> dict[tuple[Hashable, ...], Demand]:
    """Demand per ISO week and group: ``(monday, *group values) -> Demand``.

    ``by`` names the groupings (see :data:`GROUPINGS`), e.g. ``("department", "priority")``.
    Weeks without arrivals are absent.
    """
    keys = [GROUPINGS[name] for name in by]
    weeks: dict[tuple[Hashable, ...], Demand] = defaultdict(Demand)
    for case in cases:
        monday = week_start(case.received_day)
        weeks[(monday, *(key(case) for key in keys))].add(case)
    return dict(weeks)


def daily_demand(
    cases: Iterable[CaseFact],
    *,
    first_day: date,
    stop_day: date,
) -> DailyDemand:
    """Demand per local day over ``[first_day, stop_day)``: the series a forecast is made from."""
    length = max((stop_day - first_day).days, 0)
    minutes = [0.0] * length
    counts = [0] * length
    for case in cases:
        index = (case.received_day - first_day).days
        if 0 <= index < length:
            minutes[index] += case.workload_minutes
            counts[index] += 1
    return DailyDemand(first_day, tuple(minutes), tuple(counts))
