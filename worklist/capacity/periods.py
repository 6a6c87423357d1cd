"""Reporting periods: an ISO week (``2026-W47``), a month (``2026-11``) or a quarter (``2026-Q4``).

A period is a half-open range of local calendar days ``[start, stop)``. Weeks are ISO weeks
(Monday first); a month or quarter overlaps the ISO weeks that hold any of its days. Days are
those of the region's wall clock (:data:`worklist.snapshots.REGION_TIMEZONE`), as rosters and
the ageing of the backlog count them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TypeVar

from worklist.errors import ValidationError
from worklist.snapshots import REGION_TIMEZONE

__all__ = [
    "Period",
    "ReportWindow",
    "day_range",
    "local_day",
    "local_midnight",
    "next_weeks",
    "parse_period",
    "previous_weeks",
    "slice_days",
    "week_label",
    "week_start",
]

_T = TypeVar("_T")
_WEEK = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")
_MONTH = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})$")
_QUARTER = re.compile(r"^(?P<year>\d{4})-Q(?P<quarter>\d)$")
_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: local days ``start`` (inclusive) to ``stop`` (exclusive)."""

    label: str
    start: date
    stop: date

    def __post_init__(self) -> None:
        if self.stop <= self.start:
            raise ValidationError(f"period {self.label!r} ends before it starts")

    @property
    def days(self) -> int:
        """Number of calendar days in the period."""
        return (self.stop - self.start).days

    @property
    def calendar_weeks(self) -> float:
        """The period's length in weeks of seven calendar days (4.43 for a 31-day month)."""
        return self.days / 7

    def weeks(self) -> tuple[date, ...]:
        """The Mondays of the ISO weeks that overlap the period."""
        monday = week_start(self.start)
        mondays: list[date] = []
        while monday < self.stop:
            mondays.append(monday)
            monday += _ONE_WEEK
        return tuple(mondays)

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the period."""
        return self.start <= day < self.stop


def parse_period(text: str) -> Period:
    """The period named ``2026-W47`` (ISO week), ``2026-11`` (month) or ``2026-Q4`` (quarter)."""
    value = text.strip().upper()
    try:
        if match := _WEEK.match(value):
            year, week = int(match["year"]), int(match["week"])
            start = date.fromisocalendar(year, week, 1)
            return Period(f"{year:04d}-W{week:02d}", start, start + _ONE_WEEK)
        if match := _MONTH.match(value):
            year, month = int(match["year"]), int(match["month"])
            start = date(year, month, 1)
            return Period(f"{year:04d}-{month:02d}", start, _add_months(start, 1))
        if match := _QUARTER.match(value):
            year, quarter = int(match["year"]), int(match["quarter"])
            if not 1 <= quarter <= 4:
                raise ValueError(f"quarter {quarter} is not 1..4")
            start = date(year, 3 * quarter - 2, 1)
            return Period(f"{year:04d}-Q{quarter}", start, _add_months(start, 3))
    except ValueError as exc:
        raise ValidationError(f"period {text!r} does not exist: {exc}") from None
    raise ValidationError(
        f"period {text!r} is not an ISO week (2026-W47), a month (2026-11) or a quarter (2026-Q4)"
    )


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def week_start(day: date) -> date:
    """The Monday of the ISO week that holds ``day``."""
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    """The ISO week's name, ``2026-W47``."""
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def previous_weeks(end: date, count: int) -> tuple[date, ...]:
    """The Mondays of the ``count`` ISO weeks that end with the week holding ``end``."""
    last = week_start(end)
    return tuple(last - _ONE_WEEK * (count - 1 - i) for i in range(count))


def next_weeks(after: date, count: int) -> tuple[date, ...]:
    """The Mondays of the ``count`` ISO weeks that follow the week holding ``after``."""
    first = week_start(after) + _ONE_WEEK
    return tuple(first + _ONE_WEEK * i for i in range(count))


def day_range(start: date, stop: date) -> list[date]:
    """The days ``start`` (inclusive) to ``stop`` (exclusive)."""
    return [start + timedelta(days=i) for i in range((stop - start).days)]


def slice_days(values: Sequence[_T], first_day: date, start: date, stop: date) -> Sequence[_T]:
    """The values of days ``[start, stop)`` from a series with one value a day from
    ``first_day`` (clipped to the series)."""
    return values[max((start - first_day).days, 0) : max((stop - first_day).days, 0)]


def local_day(moment: datetime, timezone: tzinfo = REGION_TIMEZONE) -> date:
    """The date of an aware ``moment`` on the region's wall clock."""
    return moment.astimezone(timezone).date()


def local_midnight(day: date, timezone: tzinfo = REGION_TIMEZONE) -> datetime:
    """The aware moment at which local ``day`` begins."""
    return datetime.combine(day, time(0), tzinfo=timezone)


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """The days a report of ``period`` looks at, seen from ``today``.

    ``end_day`` (exclusive) is the period's end, or the day after ``today`` when the period has
    not ended: work in progress is measured at its first moment. The history is the
    ``history_weeks`` full ISO weeks before the week holding ``end_day``; the forecast covers
    ``horizon_weeks`` from that week on (the current week is forecast, not half-counted).
    The forecast learns from up to ``learn_days`` before the forecast's first day.
    """

    period: Period
    end_day: date
    forecast_start: date
    history_weeks: tuple[date, ...]
    forecast_weeks: tuple[date, ...]
    learn_first: date
    forecast_stop: date
    """The day after the last forecast week."""

    @classmethod
    def of(
        cls,
        period: Period,
        today: date,
        *,
        history_weeks: int = 52,
        horizon_weeks: int = 12,
        learn_days: int = 2 * 364,
    ) -> ReportWindow:
        """The window of ``period`` seen from ``today``; a :class:`ValidationError` for one
        whose history or forecast weeks would leave the calendar (near year 1 or 9999)."""
        try:
            end_day = min(period.stop, today + _ONE_DAY)
            forecast_start = week_start(end_day)
            window = cls(
                period=period,
                end_day=end_day,
                forecast_start=forecast_start,
                history_weeks=previous_weeks(forecast_start - _ONE_DAY, history_weeks),
                forecast_weeks=tuple(forecast_start + _ONE_WEEK * i for i in range(horizon_weeks)),
                learn_first=forecast_start - timedelta(days=learn_days),
                forecast_stop=forecast_start + _ONE_WEEK * horizon_weeks,
            )
        except OverflowError:
            raise ValidationError(
                f"period {period.label!r} is too far from {today.isoformat()} to report on"
            ) from None
        return window

    @property
    def first_day(self) -> date:
        """The first day any figure of the report needs."""
        return min(self.learn_first, self.period.start)

    @property
    def stop_day(self) -> date:
        """The day after the last day any figure of the report needs."""
        return max(self.forecast_stop, self.period.stop)
