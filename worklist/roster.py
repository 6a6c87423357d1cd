"""Rosters as pure values: part-time working days and absences.

A roster answers one question, "does this pathologist take diagnostic work on this day?",
for the assignment engine and the capacity reports alike (one rule, one place): a working
weekday of their part-time pattern, not a Dutch public holiday, not in an absence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from worklist.calendar import public_holiday
from worklist.errors import ValidationError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What an absence is; stored in ``absence.reason``. Region files may use others (kept as given).
ABSENCE_KINDS: tuple[str, ...] = ("leave", "sickness", "course", "other")


def parse_working_days(days: str | Iterable[str]) -> frozenset[int]:
    """Weekday numbers (Monday 0) from ``"mon,tue"`` or ``["mon", "tue"]``."""
    names = [d.strip().lower() for d in (days.split(",") if isinstance(days, str) else days)]
    names = [n for n in names if n]
    unknown = sorted(set(names) - set(WEEKDAYS))
    if unknown:
        raise ValidationError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
    if not names:
        raise ValidationError("a roster needs at least one working day")
    return frozenset(WEEKDAYS.index(n) for n in names)


def format_working_days(weekdays: Iterable[int]) -> str:
    """The storage form of a set of weekday numbers: ``"mon,tue,thu"``."""
    return ",".join(WEEKDAYS[d] for d in sorted(set(weekdays)))


@dataclass(frozen=True, slots=True)
class Absence:
    """An inclusive date range without diagnostic work (leave, illness, course)."""

    starts_on: date
    ends_on: date
    reason: str = "leave"

    def __post_init__(self) -> None:
        if self.ends_on < self.starts_on:
            raise ValidationError(
                f"absence ends {self.ends_on.isoformat()} before it starts "
                f"{self.starts_on.isoformat()}"
            )

    def covers(self, day: date) -> bool:
        """Whether ``day`` falls in the absence."""
        return self.starts_on <= day <= self.ends_on


@dataclass(frozen=True, slots=True)
class Roster:
    """Working weekdays (Monday 0) and absences."""

    working_weekdays: frozenset[int]
    absences: tuple[Absence, ...] = ()
    # False only for a pathologist who works on public holidays (none in the packaged region).
    observes_public_holidays: bool = True

    @classmethod
    def from_strings(
        cls, working_days: str | Iterable[str], absences: Sequence[tuple[date, date, str]] = ()
    ) -> Roster:
        """Build a roster from its storage form."""
        return cls(
            parse_working_days(working_days),
            tuple(Absence(start, end, reason) for start, end, reason in absences),
        )

    def is_working(self, day: date) -> bool:
        """Whether the pathologist takes diagnostic work on ``day``."""
        return self.why_absent(day) is None

    def why_absent(self, day: date) -> str | None:
        """None on a working day; else why not: ``"not a working day"`` (weekend or part-time
        day), ``"public holiday: King's Day"``, or the absence's kind (``"leave"``,
        ``"sickness"``, ...)."""
        if day.weekday() not in self.working_weekdays:
            return "not a working day"
        if self.observes_public_holidays:
            holiday = public_holiday(day)
            if holiday is not None:
                return f"public holiday: {holiday}"
        for absence in self.absences:
            if absence.covers(day):
                return absence.reason
        return None

    def working_days_between(self, first: date, last: date) -> int:
        """Number of working days in the inclusive range ``first..last``."""
        count = 0
        day = first
        while day <= last:
            count += self.is_working(day)
            day = date.fromordinal(day.toordinal() + 1)
        return count
