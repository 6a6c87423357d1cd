"""Work in progress at a moment, its ageing, and the backlog in days of supply.

A case is in progress at ``at`` when it was received before ``at`` and not signed out by then.
Its age is counted in calendar days on the region's wall clock, from the day it was received to
the day of ``at`` (the last instant before it: the end of a period counts the period's last
day), in the ageing buckets of :mod:`worklist.metrics.backlog` (one definition). It is overdue
when its due time lies before ``at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from worklist.capacity.facts import CaseFact
from worklist.capacity.periods import local_day
from worklist.metrics.backlog import AGE_BUCKETS, age_bucket

__all__ = ["WorkInProgress", "backlog_days", "work_in_progress"]


def _empty_buckets() -> dict[str, int]:
    return {label: 0 for label, _, _ in AGE_BUCKETS}


@dataclass
class WorkInProgress:
    """The open cases at one moment."""

    cases: int = 0
    minutes: float = 0.0
    overdue_cases: int = 0
    ageing: dict[str, int] = field(default_factory=_empty_buckets)
    overdue_by_bucket: dict[str, int] = field(default_factory=_empty_buckets)


def work_in_progress(cases: Iterable[CaseFact], *, at: datetime) -> WorkInProgress:
    """The cases received before ``at`` (aware) and not signed out by then."""
    today = local_day(at - timedelta(microseconds=1))
    # Facts are UTC: one offset on both sides makes the comparisons of a year of cases cheap.
    at = at.astimezone(UTC)
    wip = WorkInProgress()
    for case in cases:
        if case.received_at >= at or (case.signed_out_at is not None and case.signed_out_at <= at):
            continue
        bucket = age_bucket((today - case.received_day).days)
        overdue = case.due_at < at
        wip.cases += 1
        wip.minutes += case.workload_minutes
        wip.ageing[bucket] += 1
        if overdue:
            wip.overdue_cases += 1
            wip.overdue_by_bucket[bucket] += 1
    return wip


def backlog_days(wip_minutes: float, supply_minutes_per_working_day: float) -> float | None:
    """Work in progress in days of supply; None without supply."""
    if supply_minutes_per_working_day <= 0:
        return None
    return wip_minutes / supply_minutes_per_working_day
