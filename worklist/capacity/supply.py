"""Supply, utilisation and balance.

Supply is what the staff can report: a pathologist supplies their weekly capacity (FTE x minutes
per FTE week) spread over the weekdays of their part-time pattern, and nothing on a day the
roster has them off (a weekday they do not work, a Dutch public holiday, an absence): the rule
the assignment engine plans today's capacity with (:func:`worklist.snapshots.build_snapshot`),
applied to every day. An inactive pathologist supplies nothing.

Utilisation is signed-out minutes / supply minutes. Signed-out minutes are a case's workload
minutes, counted for the case's primary holder (``CaseFact.pathologist_code``) on the local day
of ``signed_out_at``.

Balance is the Gini coefficient of utilisation across the staff: 0 when everyone is equally
utilised, towards 1 when a few carry the work. Pathologists without supply are left out (their
utilisation is undefined).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from worklist.capacity.facts import CaseFact, PathologistFact
from worklist.capacity.periods import day_range
from worklist.roster import Absence, Roster
from worklist.workload import WorkloadModel

__all__ = [
    "SupplyTable",
    "gini",
    "minutes_per_working_day",
    "roster_of",
    "signed_out_minutes",
    "supply_table",
    "utilisation",
]


def roster_of(person: PathologistFact) -> Roster:
    """The pathologist's roster as :mod:`worklist.roster` reads it."""
    return Roster(
        person.working_weekdays,
        tuple(Absence(first, last) for first, last in person.absences),
    )


def minutes_per_working_day(model: WorkloadModel, person: PathologistFact) -> float:
    """Minutes on one rostered day: the weekly capacity over the working weekdays."""
    return model.rostered_day_minutes(person.fte, len(person.working_weekdays))


@dataclass(frozen=True)
class SupplyTable:
    """Supply minutes per pathologist per local day, ``first_day`` to ``stop_day`` (exclusive)."""

    first_day: date
    stop_day: date
    daily_minutes: Mapping[str, Sequence[float]]
    """Pathologist code -> one value per day from ``first_day``."""

    def minutes(self, code: str, start: date, stop: date) -> float:
        """One pathologist's supply over ``[start, stop)`` (clipped to the table)."""
        days = self.daily_minutes.get(code)
        if days is None:
            return 0.0
        return sum(days[self._index(start) : self._index(stop)])

    def total(self, codes: Iterable[str], start: date, stop: date) -> float:
        """The supply of ``codes`` over ``[start, stop)``."""
        return sum(self.minutes(code, start, stop) for code in codes)

    def working_days(self, codes: Iterable[str], start: date, stop: date) -> int:
        """Days in ``[start, stop)`` on which at least one of ``codes`` supplies minutes."""
        first, last = self._index(start), self._index(stop)
        rows = [self.daily_minutes[c] for c in codes if c in self.daily_minutes]
        return sum(1 for i in range(first, last) if any(row[i] > 0 for row in rows))

    def _index(self, day: date) -> int:
        return min(max((day - self.first_day).days, 0), (self.stop_day - self.first_day).days)


def supply_table(
    people: Iterable[PathologistFact], *, first_day: date, stop_day: date, model: WorkloadModel
) -> SupplyTable:
    """Every pathologist's supply per day over ``[first_day, stop_day)``."""
    days = day_range(first_day, stop_day)
    table: dict[str, list[float]] = {}
    for person in people:
        per_day = minutes_per_working_day(model, person) if person.active else 0.0
        if per_day <= 0:
            table[person.code] = [0.0] * len(days)
            continue
        roster = roster_of(person)
        table[person.code] = [per_day if roster.is_working(day) else 0.0 for day in days]
    return SupplyTable(first_day, stop_day, table)


def signed_out_minutes(
    cases: Iterable[CaseFact], start: date, stop: date
) -> dict[str | None, float]:
    """Workload minutes signed out on local days ``[start, stop)`` per primary holder's code
    (None: a case without one)."""
    minutes: dict[str | None, float] = defaultdict(float)
    for case in cases:
        if case.signed_out_day is not None and start <= case.signed_out_day < stop:
            minutes[case.pathologist_code] += case.workload_minutes
    return dict(minutes)


def utilisation(signed_out_minutes: float, supply_minutes: float) -> float | None:
    """Signed-out minutes / supply minutes; None without supply."""
    if supply_minutes <= 0:
        return None
    return signed_out_minutes / supply_minutes


def gini(values: Iterable[float | None]) -> float | None:
    """The Gini coefficient of ``values`` (None left out): mean absolute difference over
    twice the mean. None when nothing is left; 0 when all are equal (also all zero)."""
    kept = sorted(v for v in values if v is not None)
    count = len(kept)
    if count == 0:
        return None
    total = sum(kept)
    if total <= 0:
        return 0.0
    # Sorted form of sum_i sum_j |x_i - x_j| / (2 n^2 mean): sum_i (2i - n - 1) x_i / (n sum).
    weighted = sum((2 * (i + 1) - count - 1) * value for i, value in enumerate(kept))
    return weighted / (count * total)
