"""The workload model: standard minutes per case, capacity per pathologist, turnaround targets.

Every number here is configuration, not code: the defaults are the Dutch NVVP standard minutes
("normtijden") per specimen complexity category and the network's turnaround targets, and a
region can override any of them by building its own :class:`WorkloadModel`.

Time is always an input. Nothing in this module reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType

from worklist.enums import Priority
from worklist.errors import ValidationError

__all__ = [
    "DEFAULT_CATEGORY_MINUTES",
    "DEFAULT_TAT_TARGETS",
    "TatTarget",
    "TatUnit",
    "WorkloadModel",
    "add_working_days",
    "due_time",
    "is_working_day",
]

DEFAULT_CATEGORY_MINUTES: Mapping[int, float] = MappingProxyType(
    {1: 7.7, 2: 15.0, 3: 20.0, 4: 38.0, 5: 54.0, 6: 86.0}
)
"""NVVP standard minutes per specimen complexity category (tumour-board time included)."""


class TatUnit(StrEnum):
    """How a turnaround target is counted."""

    MINUTES = "minutes"
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"


@dataclass(frozen=True, slots=True)
class TatTarget:
    """One turnaround target: ``share`` of the cases are reported within ``amount`` ``unit``."""

    amount: float
    unit: TatUnit
    share: float = 1.0
    on_site_only: bool = False
    """Only a pathologist at the originating department can meet it (a frozen section)."""

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValidationError(f"a turnaround target cannot be negative, got {self.amount}")
        if not 0.0 < self.share <= 1.0:
            raise ValidationError(f"a turnaround share must lie in (0, 1], got {self.share}")


DEFAULT_TAT_TARGETS: Mapping[Priority, tuple[TatTarget, ...]] = MappingProxyType(
    {
        Priority.FROZEN: (TatTarget(20, TatUnit.MINUTES, on_site_only=True),),
        Priority.URGENT: (TatTarget(2, TatUnit.WORKING_DAYS),),
        Priority.CANCER_PATHWAY: (TatTarget(5, TatUnit.WORKING_DAYS),),
        Priority.ROUTINE: (
            TatTarget(7, TatUnit.CALENDAR_DAYS, share=0.8),
            TatTarget(10, TatUnit.CALENDAR_DAYS, share=0.9),
        ),
    }
)
"""Turnaround targets per priority, strictest first; the first one sets a case's due time."""


def _default_category_minutes() -> Mapping[int, float]:
    return DEFAULT_CATEGORY_MINUTES


def _default_tat_targets() -> Mapping[Priority, tuple[TatTarget, ...]]:
    return DEFAULT_TAT_TARGETS


@dataclass(frozen=True, slots=True)
class WorkloadModel:
    """Standard minutes per case and capacity per pathologist; every default can be overridden."""

    category_minutes: Mapping[int, float] = field(default_factory=_default_category_minutes)
    frozen_section_minutes: float = 38.0
    molecular_minutes_simple: float = 12.5
    molecular_minutes_complex: float = 25.0
    second_opinion_fraction: float = 0.5
    """A second opinion costs this fraction of the case's minutes (the norm allows 0.5 to 1.0)."""
    minutes_per_fte_year: float = 63_000.0
    working_weeks_per_year: float = 46.0
    working_days_per_week: int = 5
    tat_targets: Mapping[Priority, tuple[TatTarget, ...]] = field(
        default_factory=_default_tat_targets
    )

    def __post_init__(self) -> None:
        if not self.category_minutes:
            raise ValidationError("a workload model needs at least one specimen category")
        for category, minutes in self.category_minutes.items():
            if minutes <= 0:
                raise ValidationError(f"category {category} must cost minutes > 0, got {minutes}")
        if not 0.0 < self.second_opinion_fraction <= 1.0:
            raise ValidationError(
                f"second_opinion_fraction must lie in (0, 1], got {self.second_opinion_fraction}"
            )
        if self.minutes_per_fte_year <= 0 or self.working_weeks_per_year <= 0:
            raise ValidationError("capacity per FTE and working weeks per year must be positive")
        if not 1 <= self.working_days_per_week <= 7:
            raise ValidationError(
                f"working_days_per_week must lie in 1..7, got {self.working_days_per_week}"
            )
        missing = [p.value for p in Priority if not self.tat_targets.get(p)]
        if missing:
            raise ValidationError(f"no turnaround target for priority {', '.join(missing)}")

    # -- case minutes -------------------------------------------------------------------------

    def case_minutes(
        self,
        category: int,
        *,
        frozen_section: bool = False,
        molecular: bool = False,
        molecular_complex: bool = False,
    ) -> float:
        """Standard minutes for one case of ``category``, with its add-ons."""
        try:
            minutes = self.category_minutes[category]
        except KeyError:
            known = ", ".join(str(c) for c in sorted(self.category_minutes))
            raise ValidationError(
                f"unknown specimen category {category!r} (known: {known})"
            ) from None
        if frozen_section:
            minutes += self.frozen_section_minutes
        if molecular_complex:
            minutes += self.molecular_minutes_complex
        elif molecular:
            minutes += self.molecular_minutes_simple
        return minutes

    def second_opinion_minutes(self, case_minutes: float) -> float:
        """Minutes a second reader spends on a case that costs ``case_minutes`` to report."""
        return case_minutes * self.second_opinion_fraction

    # -- capacity -----------------------------------------------------------------------------

    @property
    def minutes_per_fte_week(self) -> float:
        """Diagnostic minutes one full-time clinical pathologist supplies per working week."""
        return self.minutes_per_fte_year / self.working_weeks_per_year

    @property
    def minutes_per_fte_day(self) -> float:
        """Diagnostic minutes one full-time clinical pathologist supplies per working day."""
        return self.minutes_per_fte_week / self.working_days_per_week

    def weekly_capacity_minutes(self, fte: float, availability: float = 1.0) -> float:
        """Minutes per week for ``fte``; ``availability`` is the rostered share of the week."""
        _check_capacity_inputs(fte, availability)
        return self.minutes_per_fte_week * fte * availability

    def daily_capacity_minutes(self, fte: float = 1.0, availability: float = 1.0) -> float:
        """Minutes on one rostered day.

        A part-timer works fewer days, not shorter ones, so the day's capacity is that of a full
        day (``fte`` 1.0). Pass the person's FTE only to spread it evenly over the week instead.
        ``availability`` is the share of the day left for diagnostics (0.5 for a half day of
        teaching or a tumour board).
        """
        _check_capacity_inputs(fte, availability)
        return self.minutes_per_fte_day * fte * availability

    def rostered_day_minutes(self, fte: float, working_weekdays: int) -> float:
        """Minutes on one rostered day of someone with ``fte`` who works ``working_weekdays``
        days a week: the weekly capacity spread over those days (0 with no working day).
        The engine's snapshot and the capacity supply both count a day so."""
        if working_weekdays <= 0:
            return 0.0
        return self.weekly_capacity_minutes(fte) / working_weekdays

    # -- turnaround ---------------------------------------------------------------------------

    def due_target(self, priority: Priority) -> TatTarget:
        """The target that sets a case's due time: the strictest for its priority."""
        return self.tat_targets[priority][0]

    def on_site_only(self, priority: Priority) -> bool:
        """Whether only the originating department can take a case of this priority."""
        return any(target.on_site_only for target in self.tat_targets[priority])

    def due_time(
        self, received_at: datetime, priority: Priority, holidays: Iterable[date] = ()
    ) -> datetime:
        """When a case received at ``received_at`` is due, by the first target of its priority."""
        return due_time(received_at, priority, holidays, targets=self.tat_targets)


def _check_capacity_inputs(fte: float, availability: float) -> None:
    if fte < 0:
        raise ValidationError(f"FTE cannot be negative, got {fte}")
    if not 0.0 <= availability <= 1.0:
        raise ValidationError(f"availability must lie in [0, 1], got {availability}")


def is_working_day(day: date, holidays: Iterable[date] = ()) -> bool:
    """Monday to Friday and not a holiday."""
    return day.weekday() < 5 and day not in frozenset(holidays)


def add_working_days(
    start: datetime, working_days: float, holidays: Iterable[date] = ()
) -> datetime:
    """The moment ``working_days`` of working time have passed since ``start``.

    Working time runs only on working days (Monday to Friday, not a holiday), 24 hours each, so
    a case received on Friday at 14:00 with two working days is due on Tuesday at 14:00, and one
    received on Saturday is due at the end of Tuesday (Wednesday 00:00). The result keeps
    ``start``'s time zone; dates are those of ``start``'s wall clock.
    """
    if working_days < 0:
        raise ValidationError(f"working_days cannot be negative, got {working_days}")
    closed = frozenset(holidays)
    day = start.date()
    into_day = timedelta(
        hours=start.hour,
        minutes=start.minute,
        seconds=start.second,
        microseconds=start.microsecond,
    )
    if not is_working_day(day, closed):
        day, into_day = _next_working_day(day, closed), timedelta(0)
    remaining = timedelta(days=working_days)
    one_day = timedelta(days=1)
    while remaining > one_day - into_day:
        remaining -= one_day - into_day
        day, into_day = _next_working_day(day, closed), timedelta(0)
    return datetime.combine(day, time(0), tzinfo=start.tzinfo) + into_day + remaining


def _next_working_day(day: date, closed: frozenset[date]) -> date:
    day += timedelta(days=1)
    while not is_working_day(day, closed):
        day += timedelta(days=1)
    return day


def due_time(
    received_at: datetime,
    priority: Priority,
    holidays: Iterable[date] = (),
    *,
    targets: Mapping[Priority, tuple[TatTarget, ...]] = DEFAULT_TAT_TARGETS,
) -> datetime:
    """When a case is due: ``received_at`` plus the first turnaround target of its priority.

    Working-day targets skip weekends and ``holidays``; calendar-day and minute targets do not.
    """
    target = targets[priority][0]
    if target.unit is TatUnit.MINUTES:
        return received_at + timedelta(minutes=target.amount)
    if target.unit is TatUnit.CALENDAR_DAYS:
        return received_at + timedelta(days=target.amount)
    return add_working_days(received_at, target.amount, holidays)
