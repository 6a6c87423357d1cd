"""The facts capacity metrics are computed from: plain records, loaded from the database once.

Every metric in :mod:`worklist.capacity` is a pure function over these records, so it can be
tested with cases written by hand and reused by the simulation on simulated cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from worklist.enums import CaseStatus, Priority

__all__ = ["CaseFact", "PathologistFact", "WaitFact"]


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
