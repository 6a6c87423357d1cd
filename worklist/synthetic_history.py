"""A year of signed-out synthetic history, for the demo's capacity reports and benchmarks.

The arrivals are :func:`worklist.synthetic.case_stream`'s (its weekday and month factors and
its case mix), thinned to a trend: every department's intake grows a few per cent a year up to
the stream's rate at the end, except one (``fast_department``) whose intake has grown much
faster and now exceeds what its staff can report (``fast_end_load`` times their supply), so
that its forecast demand exceeds its planned supply. Public holidays bring hardly any cases.

Every case is assigned (mostly within its own department; an overloaded department shares
its excess with the others) and signed out after a turnaround that depends on the priority and
on the department's load, a few of them past their due time; a small share waits on a
molecular test or an external consult, which pauses the turnaround clock (``case_wait``).
Dates are relative to ``today``; the same seed gives the same history.

:mod:`worklist.synthetic_history_insert` writes it into the database.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate

from worklist.calendar import public_holidays
from worklist.engine.proposals import Rule
from worklist.engine.snapshot import GENERAL
from worklist.enums import CaseType, Priority
from worklist.errors import ValidationError
from worklist.models.case_wait import WaitReason
from worklist.operations.intake import CaseIntake
from worklist.region import PathologistSpec, Region
from worklist.snapshots import case_minutes
from worklist.synthetic import MONTH_FACTOR, SITES, case_stream
from worklist.workload import WorkloadModel, add_working_days, due_time, is_working_day

__all__ = ["HistoryCase", "HistoryWait", "generate_history"]

# Of the cases that arrive on a public holiday, this share still does (weekend level).
_HOLIDAY_KEEP = 0.05
# Load (demand / supply) above which a department's turnaround stretches, and above which it
# shares most of its excess with the region; a small share is shared whatever the load.
_STRETCH_FROM_LOAD = 0.8
_SHARE_FROM_LOAD = 0.9
_BASE_SHARE = 0.04
# Median working days from assignment to sign-out, and the spread (log-normal sigma).
_TAT_WORKING_DAYS = {
    Priority.URGENT: (0.8, 0.4),
    Priority.CANCER_PATHWAY: (2.4, 0.33),
    Priority.ROUTINE: (2.8, 0.45),
}
# Summer and Christmas leave thin the staff: turnaround stretches by this factor.
_LEAVE_STRETCH = {7: 1.12, 8: 1.12, 12: 1.05}
_MOLECULAR_GROUPS = frozenset(
    {"lung", "breast", "haematopathology", "gastro-intestinal", "gynaecopathology"}
)
_MOLECULAR_SHARE = 0.12
_CONSULT_SHARE = 0.012
_WORKDAY_START = time(7, 30)
_WORKDAY_MINUTES = 9 * 60


@dataclass(frozen=True, slots=True)
class HistoryWait:
    """A pause of the case's turnaround clock, inside its life."""

    reason: WaitReason
    started_at: datetime
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class HistoryCase:
    """One signed-out case of the history (all datetimes UTC)."""

    department: str
    case_type: CaseType
    patient_pseudonym: str
    tumour_group: str
    category: int
    priority: Priority
    second_read_trigger: str | None
    received_at: datetime
    due_at: datetime
    assigned_at: datetime
    signed_out_at: datetime
    pathologist_code: str
    rule: str
    """The engine's rule that placed it: local capacity, or regional least load if shared."""
    second_reader_code: str | None = None
    waits: tuple[HistoryWait, ...] = ()


class _Staff:
    """The region's pathologists, for picking a holder on a given day."""

    def __init__(self, people: Sequence[PathologistSpec]) -> None:
        self.people = tuple(people)
        self._found: dict[tuple[date, str | None, str], list[PathologistSpec]] = {}
        self._weights: dict[tuple[date, str | None, str], list[float]] = {}

    def working(self, day: date, department: str | None, group: str) -> list[PathologistSpec]:
        """Who can take a ``group`` case on ``day`` (of ``department``; None: anywhere): its
        specialists present, else the general pool present, else anyone present, else anyone
        of the department."""
        key = (day, department, group)
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = self._working(day, department, group)
        return found

    def pick(self, rng: random.Random, day: date, department: str, group: str) -> PathologistSpec:
        """One of :meth:`working`, drawn by FTE (who works more takes more)."""
        found = self.working(day, department, group)
        key = (day, department, group)
        weights = self._weights.get(key)
        if weights is None:
            weights = self._weights[key] = list(accumulate(p.fte for p in found))
        return rng.choices(found, cum_weights=weights)[0]

    def _working(self, day: date, department: str | None, group: str) -> list[PathologistSpec]:
        here = [
            p
            for p in self.people
            if (department is None or p.department == department) and p.roster.is_working(day)
        ]
        for wanted in (group, GENERAL):
            found = [p for p in here if wanted in p.subspecialties]
            if found:
                return found
        return here or [p for p in self.people if p.department == department] or list(self.people)


def generate_history(
    region: Region,
    *,
    today: date,
    days: int = 365,
    seed: int = 1,
    end: date | None = None,
    cases_per_year: float = 60_000,
    growth_per_year: float = 0.04,
    fast_department: str | None = "LUMC",
    fast_growth_per_year: float = 0.35,
    fast_end_load: float = 1.2,
    model: WorkloadModel | None = None,
) -> list[HistoryCase]:
    """The cases received on the ``days`` days before ``end`` (default ``today``), all signed
    out before ``today``, in arrival order.

    ``cases_per_year`` is the region's intake at the end, spread over the departments by size as
    in :func:`~worklist.synthetic.case_stream`; it grew ``growth_per_year`` a year before. The
    ``fast_department`` grew ``fast_growth_per_year`` to ``fast_end_load`` times its staff's
    supply (its excess is shared with the region and its turnaround stretches).
    """
    if days < 1:
        raise ValidationError(f"a history needs at least one day, got {days}")
    model = model or WorkloadModel()
    stop = end or today
    first = stop - timedelta(days=days)
    limit = datetime.combine(today, time(0), tzinfo=UTC)
    codes = [d.code for d in region.departments]
    if fast_department is not None and fast_department not in codes:
        raise ValidationError(f"no department {fast_department!r} in the region")
    supply_week = {
        code: sum(p.fte for p in region.pathologists if p.department == code)
        * model.minutes_per_fte_week
        for code in codes
    }
    sizes = {code: SITES.get(code, ("", "", 1.0))[2] for code in codes}
    closed = frozenset(
        day for year in range(first.year, today.year + 1) for day in public_holidays(year)
    )
    rng = random.Random(seed)
    staff = _Staff(region.pathologists)
    planned: list[tuple[CaseIntake, datetime, float]] = []
    end_load: dict[str, float] = {}
    # The fast department last: its intake is set from the others' mean minutes per case.
    minutes_seen, cases_seen = 0.0, 0
    for code in sorted(codes, key=lambda c: c == fast_department):
        level = cases_per_year * sizes[code] / sum(sizes.values())
        growth = growth_per_year
        if code == fast_department:
            if not cases_seen:
                pilot = _stream(first, min(days, 28), seed, codes.index(code), code, level)
                minutes_seen, cases_seen = _minutes(model, pilot), len(pilot)
            mean_minutes = minutes_seen / cases_seen if cases_seen else 1.0
            level = fast_end_load * supply_week[code] * 52 / mean_minutes
            growth = fast_growth_per_year
        stream = _stream(first, days, seed, codes.index(code), code, level)
        minutes = _minutes(model, stream)
        minutes_seen, cases_seen = minutes_seen + minutes, cases_seen + len(stream)
        # The load at the end of the history: the stream's rate of minutes over the supply.
        end_load[code] = minutes * 365 / days / 52 / supply_week[code] if supply_week[code] else 0.0
        for intake in stream:
            received = intake.received_at
            assert received is not None
            years_before = (stop - received.date()).days / 365
            keep = (1 + growth) ** -years_before
            if received.date() in closed:
                keep *= _HOLIDAY_KEEP
            if rng.random() >= keep:
                continue
            load = end_load[code] * (1 + growth) ** -years_before * _month_load(received.date())
            planned.append((intake, received, load))
    planned.sort(key=lambda item: (item[1], item[0].department))
    spare = {code: max(0.05, _SHARE_FROM_LOAD - load) for code, load in end_load.items()}
    setting = _Setting(staff, end_load, spare, closed, limit)
    history = []
    for intake, received, load in planned:
        made = _life(rng, setting, intake, received, load)
        if made is not None:
            history.append(made)
    return history


@dataclass(frozen=True)
class _Setting:
    """What every case's life is drawn against."""

    staff: _Staff
    end_load: dict[str, float]
    """Department -> its demand over its supply at the end of the history."""
    spare: dict[str, float]
    """Department -> how much it can take of the others' excess (a weight)."""
    closed: frozenset[date]
    """Public holidays: no working time."""
    limit: datetime
    """Every case is signed out before this moment (the start of today)."""


def _stream(
    first: date, days: int, seed: int, index: int, code: str, cases_per_year: float
) -> list[CaseIntake]:
    """One department's arrivals at its rate at the end (thinned to the trend afterwards)."""
    return case_stream(
        start=first,
        days=days,
        seed=seed * 1000 + index,
        cases_per_year=cases_per_year,
        departments=(code,),
        scanned=False,
    )


def _minutes(model: WorkloadModel, stream: Sequence[CaseIntake]) -> float:
    return sum(case_minutes(model, c.category, c.priority) for c in stream)


def _month_load(day: date) -> float:
    # The month's share of arrivals relative to the year's mean (the stream's month factor).
    return MONTH_FACTOR[day.month - 1] / (sum(MONTH_FACTOR) / 12)


def _life(
    rng: random.Random, setting: _Setting, intake: CaseIntake, received: datetime, load: float
) -> HistoryCase | None:
    """Assignment, waits and sign-out of one arrival; None if it cannot end before ``limit``."""
    priority = intake.priority
    assigned = _assigned_at(rng, received, priority, setting.closed)
    if assigned >= setting.limit - timedelta(hours=1):
        return None
    share = _BASE_SHARE + (
        0.75 * (load - _SHARE_FROM_LOAD) / load if load > _SHARE_FROM_LOAD else 0
    )
    department = intake.department
    others = [code for code in setting.spare if code != department]
    # Frozen sections are read on site; the rest may go where there is room.
    shared = priority is not Priority.FROZEN and bool(others) and rng.random() < share
    if shared:
        department = rng.choices(others, [setting.spare[c] for c in others])[0]
        load = setting.end_load[department]
    holder = setting.staff.pick(rng, assigned.date(), department, intake.tumour_group)
    waits: list[HistoryWait] = []
    if priority is Priority.FROZEN:
        minutes = min(45.0, max(8.0, rng.gauss(14, 4)))
        signed = max(received + timedelta(minutes=minutes), assigned + timedelta(minutes=5))
    else:
        median, sigma = _TAT_WORKING_DAYS[priority]
        stretch = 1 + 2.0 * max(0.0, load - _STRETCH_FROM_LOAD)
        stretch *= _LEAVE_STRETCH.get(assigned.month, 1.0)
        work_days = median * stretch * math.exp(rng.gauss(0, sigma))
        wait = _wait_reason(rng, intake)
        if wait is None:
            signed = _working_hours(rng, add_working_days(assigned, work_days, setting.closed))
        else:
            before = work_days * rng.uniform(0.2, 0.6)
            started = _working_hours(rng, add_working_days(assigned, before, setting.closed))
            started = max(started, assigned + timedelta(minutes=30))
            length_days = (
                rng.uniform(5, 12) if wait is WaitReason.MOLECULAR_TEST else rng.uniform(4, 14)
            )
            ended = started + timedelta(days=length_days)
            waits.append(HistoryWait(wait, started, ended))
            signed = _working_hours(
                rng, add_working_days(ended, work_days - before, setting.closed)
            )
            signed = max(signed, ended + timedelta(hours=1))
        signed = max(signed, assigned + timedelta(minutes=20))
    limit = setting.limit
    if signed >= limit:
        # Still open today in truth: signed out on the last day before, to stay history.
        earliest = max(assigned + timedelta(minutes=20), limit - timedelta(hours=16))
        signed = earliest + (limit - timedelta(minutes=1) - earliest) * rng.random()
        waits = [w for w in waits if w.ended_at < signed - timedelta(minutes=5)]
    reader = None
    if intake.second_read_trigger is not None:
        readers = [
            p
            for p in setting.staff.working(signed.date(), None, intake.tumour_group)
            if p != holder
        ]
        reader = rng.choice(readers).code if readers else None
    return HistoryCase(
        department=intake.department,
        case_type=intake.case_type,
        patient_pseudonym=intake.patient_pseudonym,
        tumour_group=intake.tumour_group,
        category=intake.category,
        priority=priority,
        second_read_trigger=intake.second_read_trigger if reader else None,
        received_at=received,
        due_at=due_time(received, priority),
        assigned_at=assigned,
        signed_out_at=signed,
        pathologist_code=holder.code,
        rule=(Rule.REGIONAL_LEAST_LOAD if shared else Rule.LOCAL_CAPACITY).value,
        second_reader_code=reader,
        waits=tuple(waits),
    )


def _assigned_at(
    rng: random.Random, received: datetime, priority: Priority, closed: frozenset[date]
) -> datetime:
    """Frozen sections at once; others within hours on a working day, else the next morning."""
    if priority is Priority.FROZEN:
        return received + timedelta(minutes=rng.uniform(2, 8))
    if is_working_day(received.date(), closed) and received.time() < time(15, 0):
        return received + timedelta(minutes=rng.uniform(20, 150))
    next_day = datetime.combine(received.date() + timedelta(days=1), time(0), tzinfo=UTC)
    morning = add_working_days(next_day, 0, closed)
    return datetime.combine(morning.date(), _WORKDAY_START, tzinfo=UTC) + timedelta(
        minutes=rng.uniform(0, 120)
    )


def _working_hours(rng: random.Random, moment: datetime) -> datetime:
    """``moment``'s day at a time within working hours, if it fell outside them."""
    start = datetime.combine(moment.date(), _WORKDAY_START, tzinfo=UTC)
    if start <= moment <= start + timedelta(minutes=_WORKDAY_MINUTES):
        return moment
    return start + timedelta(minutes=rng.uniform(0, _WORKDAY_MINUTES))


def _wait_reason(rng: random.Random, intake: CaseIntake) -> WaitReason | None:
    draw = rng.random()
    if draw < _CONSULT_SHARE:
        return WaitReason.EXTERNAL_CONSULT
    molecular = (
        intake.case_type is CaseType.HISTOLOGY
        and intake.tumour_group in _MOLECULAR_GROUPS
        and (intake.priority is Priority.CANCER_PATHWAY or intake.category >= 4)
    )
    if molecular and draw < _CONSULT_SHARE + _MOLECULAR_SHARE:
        return WaitReason.MOLECULAR_TEST
    return None
