"""Turnaround: calendar days from receipt to sign-out with the paused clock, and its statistics.

The turnaround clock pauses while a case waits on something outside the department (an
external consult, a molecular test: :class:`worklist.models.CaseWait`). A case's paused time
is the union of its waits clipped to the interval from receipt to sign-out: overlapping waits
count once, and a wait still open at sign-out counts until the sign-out.

Pure functions over :class:`worklist.capacity.facts.CaseFact`, so the report and the
simulation (which builds facts for simulated cases) share one rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from worklist.capacity.facts import CaseFact, WaitFact
from worklist.errors import ValidationError
from worklist.workload import TatUnit, WorkloadModel, add_working_days, is_working_day

__all__ = [
    "TurnaroundStats",
    "paused_intervals",
    "paused_time",
    "pct_within_target",
    "tat_histogram",
    "turnaround_by",
    "turnaround_days",
    "turnaround_stats",
    "within_target",
]

_ONE_DAY = timedelta(days=1)


def paused_intervals(
    waits: Iterable[WaitFact], start: datetime, stop: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of ``waits`` clipped to ``[start, stop]``, as disjoint ordered intervals.

    A wait still open (``ended_at`` None) runs until ``stop``.
    """
    clipped = sorted(
        (max(wait.started_at, start), min(wait.ended_at or stop, stop)) for wait in waits
    )
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in clipped:
        if end <= begin:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def paused_time(case: CaseFact) -> timedelta:
    """How long the case's clock paused between receipt and sign-out (zero if not signed out)."""
    if case.signed_out_at is None:
        return timedelta(0)
    intervals = paused_intervals(case.waits, case.received_at, case.signed_out_at)
    return sum((end - begin for begin, end in intervals), timedelta(0))


def turnaround_days(case: CaseFact) -> float | None:
    """Calendar days from receipt to sign-out less the paused time; None if not signed out."""
    if case.signed_out_at is None:
        return None
    elapsed = case.signed_out_at - case.received_at - paused_time(case)
    return max(elapsed, timedelta(0)) / _ONE_DAY


@dataclass(frozen=True, slots=True)
class TurnaroundStats:
    """Turnaround statistics of a group of cases; every figure is None when there are none.

    Percentiles use numpy's default (linear interpolation between the closest ranks, "type 7");
    the ``pct_`` figures are percentages (0..100) of the cases within 7 and 10 calendar days.
    """

    cases: int
    median_days: float | None
    p80_days: float | None
    p90_days: float | None
    pct_within_7_days: float | None
    pct_within_10_days: float | None


def turnaround_stats(days: Sequence[float]) -> TurnaroundStats:
    """Median, p80 and p90 (numpy linear interpolation) and the shares within 7 and 10 days."""
    if len(days) == 0:
        return TurnaroundStats(0, None, None, None, None, None)
    values = np.asarray(days, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValidationError("turnaround days must be finite numbers")
    median, p80, p90 = np.percentile(values, [50, 80, 90])
    return TurnaroundStats(
        cases=len(values),
        median_days=float(median),
        p80_days=float(p80),
        p90_days=float(p90),
        pct_within_7_days=float(np.mean(values <= 7.0) * 100.0),
        pct_within_10_days=float(np.mean(values <= 10.0) * 100.0),
    )


def within_target(
    case: CaseFact, model: WorkloadModel, holidays: Iterable[date] = ()
) -> bool | None:
    """Whether the case was signed out by its due time moved later by its paused time.

    The due time is the stored ``due_at`` (set by :func:`worklist.workload.due_time` at intake).
    The pause moves it in the unit of the priority's due target: by the paused wall-clock time
    for minute and calendar-day targets, and by the paused *working* time (Monday to Friday, not
    ``holidays``) for working-day targets, since a wait over a weekend pauses no working time.
    None if the case is not signed out.
    """
    if case.signed_out_at is None:
        return None
    intervals = paused_intervals(case.waits, case.received_at, case.signed_out_at)
    due = case.due_at
    if intervals:
        if model.due_target(case.priority).unit is TatUnit.WORKING_DAYS:
            closed = frozenset(holidays)
            working = sum(
                (_working_time(begin, end, closed) for begin, end in intervals), timedelta(0)
            )
            if working > timedelta(0):
                due = add_working_days(due, working / _ONE_DAY, closed)
        else:
            due += sum((end - begin for begin, end in intervals), timedelta(0))
    return case.signed_out_at <= due


def _working_time(begin: datetime, end: datetime, closed: frozenset[date]) -> timedelta:
    # Counted on the wall clock of the times given, as add_working_days counts due times.
    total = timedelta(0)
    day = begin.date()
    while True:
        day_start = datetime.combine(day, time(0), tzinfo=begin.tzinfo)
        if day_start >= end:
            return total
        if is_working_day(day, closed):
            total += min(end, day_start + _ONE_DAY) - max(begin, day_start)
        day += _ONE_DAY


def pct_within_target(
    cases: Iterable[CaseFact], model: WorkloadModel, holidays: Iterable[date] = ()
) -> float | None:
    """Percentage (0..100) of the signed-out cases within target; None if none is signed out."""
    closed = frozenset(holidays)
    judged = [v for v in (within_target(c, model, closed) for c in cases) if v is not None]
    return 100.0 * sum(judged) / len(judged) if judged else None


def tat_histogram(cases: Iterable[CaseFact], *, max_days: int = 30) -> list[tuple[int, int]]:
    """(whole turnaround days, cases) for days 0..max_days; the last bin holds max_days or more.

    Only signed-out cases count; a case's bin is its turnaround rounded down.
    """
    if max_days < 0:
        raise ValidationError(f"max_days cannot be negative, got {max_days}")
    days = [d for d in (turnaround_days(case) for case in cases) if d is not None]
    bins = np.minimum(np.floor(np.asarray(days, dtype=float)), max_days).astype(int)
    counts = np.bincount(bins, minlength=max_days + 1)
    return [(day, int(count)) for day, count in enumerate(counts)]


def turnaround_by(
    cases: Iterable[CaseFact], key: Callable[[CaseFact], str]
) -> dict[str, TurnaroundStats]:
    """Turnaround statistics of the signed-out cases per ``key`` (groups in order of first case).

    A group whose cases are all still open has ``cases == 0`` and None figures.
    """
    groups: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        days = turnaround_days(case)
        group = groups[key(case)]
        if days is not None:
            group.append(days)
    return {name: turnaround_stats(days) for name, days in groups.items()}
