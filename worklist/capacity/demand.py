"""Demand: the workload minutes and cases that arrive, per ISO week or per day.

A case is demand on the local day it was received (``CaseFact.received_day``), for its workload
minutes (fixed when the specimen arrives). Weeks are ISO weeks, named by their Monday.

:func:`demand_outlook` puts a report window's demand history beside its forecast
(:mod:`worklist.capacity.forecast`) and the supply of the same weeks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from worklist.capacity.facts import CaseFact
from worklist.capacity.forecast import MIN_HISTORY_DAYS, WeeklyForecast, forecast_daily_demand
from worklist.capacity.periods import ReportWindow, slice_days, week_start

__all__ = [
    "GROUPINGS",
    "DailyDemand",
    "Demand",
    "DemandOutlook",
    "daily_demand",
    "demand_between",
    "demand_by",
    "demand_outlook",
    "weekly_demand",
]

GROUPINGS: dict[str, Callable[[CaseFact], Hashable]] = {
    "department": lambda case: case.department_code,
    "tumour_group": lambda case: case.tumour_group,
    "category": lambda case: case.category,
    "priority": lambda case: case.priority.value,
}
"""What demand can be grouped by: the name -> the case's value."""
_ONE_WEEK = timedelta(days=7)


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


def demand_by(
    cases: Iterable[CaseFact], start: date, stop: date, *, by: str
) -> dict[Hashable, Demand]:
    """The demand received on local days ``[start, stop)`` per value of one grouping of
    :data:`GROUPINGS` (e.g. ``by="priority"``); values without arrivals are absent."""
    key = GROUPINGS[by]
    groups: dict[Hashable, Demand] = defaultdict(Demand)
    for case in cases:
        if start <= case.received_day < stop:
            groups[key(case)].add(case)
    return dict(groups)


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


@dataclass(frozen=True)
class DemandOutlook:
    """Demand and supply week by week: the history, the forecast ahead, and the forecast of
    the period made from the history before it."""

    history_minutes: tuple[float, ...]
    """Demand minutes of each of the window's history weeks."""
    history_cases: tuple[int, ...]
    history_supply_minutes: tuple[float, ...]
    forecast: WeeklyForecast | None
    """The window's forecast weeks; None without any history."""
    forecast_supply_minutes: tuple[float, ...]
    """Planned supply of each forecast week (rosters, recorded absences, holidays)."""
    period_forecast_minutes: float | None
    """The period's demand forecast from the history before its first week; None with under
    eight weeks of that history."""
    period_forecast_cases: float | None
    """The same in cases, at the history's minutes per case."""


def demand_outlook(
    cases: Sequence[CaseFact], *, window: ReportWindow, daily_supply_minutes: Sequence[float]
) -> DemandOutlook:
    """The outlook of ``cases`` in ``window``, with the supply per day from the window's first
    day (:attr:`ReportWindow.first_day`) to compare with."""
    first = window.first_day
    history = daily_demand(cases, first_day=first, stop_day=window.forecast_start)
    # The forecast learns from the first arrival on: the days before it are no history.
    learn_first = max(first, min(c.received_day for c in cases)) if cases else window.forecast_start
    ahead = _forecast(
        history.minutes, first, learn_first, window.forecast_start, len(window.forecast_weeks)
    )

    def weekly(values: Sequence[float], mondays: Sequence[date]) -> tuple[float, ...]:
        return tuple(sum(slice_days(values, first, m, m + _ONE_WEEK)) for m in mondays)

    period_minutes = _period_forecast(history.minutes, first, learn_first, window, ahead)
    total_minutes, total_cases = sum(history.minutes), sum(history.cases)
    return DemandOutlook(
        history_minutes=weekly(history.minutes, window.history_weeks),
        history_cases=tuple(
            int(sum(slice_days(history.cases, first, m, m + _ONE_WEEK)))
            for m in window.history_weeks
        ),
        history_supply_minutes=weekly(daily_supply_minutes, window.history_weeks),
        forecast=ahead,
        forecast_supply_minutes=weekly(daily_supply_minutes, window.forecast_weeks),
        period_forecast_minutes=period_minutes,
        period_forecast_cases=(
            period_minutes * total_cases / total_minutes
            if period_minutes is not None and total_minutes > 0
            else None
        ),
    )


def _forecast(
    daily: Sequence[float], first: date, learn_first: date, cut: date, horizon_weeks: int
) -> WeeklyForecast | None:
    """The weekly forecast from the days ``[learn_first, cut)``; None without any history (the
    forecast's own fallbacks cover short histories)."""
    if cut <= learn_first or horizon_weeks <= 0:
        return None
    return forecast_daily_demand(
        list(slice_days(daily, first, learn_first, cut)),
        first_day=learn_first,
        horizon_weeks=horizon_weeks,
    )


def _period_forecast(
    daily: Sequence[float],
    first: date,
    learn_first: date,
    window: ReportWindow,
    ahead: WeeklyForecast | None,
) -> float | None:
    """The forecast demand of the period's days, from the history before its first week. A
    week that overlaps the period in part counts for the share of a week's demand that its
    overlapping weekdays had in that history (a month that starts on a Sunday takes little of
    its first week)."""
    period = window.period
    weeks = period.weeks()
    cut = min(weeks[0], window.forecast_start)
    horizon = (weeks[-1] - cut).days // 7 + 1
    # Under eight weeks before the period, no forecast of it (rather than the fallback's guess).
    if (cut - learn_first).days < MIN_HISTORY_DAYS:
        return None
    if cut == window.forecast_start and horizon <= len(window.forecast_weeks):
        made = ahead
    else:
        made = _forecast(daily, first, learn_first, cut, horizon)
    if made is None:
        return None
    shares = _weekday_shares(slice_days(daily, first, learn_first, cut), learn_first)
    total = 0.0
    for monday, mean in zip(made.weeks, made.mean, strict=True):
        days = [monday + timedelta(days=i) for i in range(7)]
        total += float(mean) * sum(shares[d.weekday()] for d in days if period.contains(d))
    return total


def _weekday_shares(daily: Sequence[float], first_day: date) -> list[float]:
    """Each weekday's share (Monday first) of a week's demand in ``daily``; 1/7 each without."""
    per_weekday = [0.0] * 7
    for i, minutes in enumerate(daily):
        per_weekday[(first_day.weekday() + i) % 7] += minutes
    total = sum(per_weekday)
    return [m / total for m in per_weekday] if total > 0 else [1 / 7] * 7
