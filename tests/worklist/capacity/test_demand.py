"""Demand per ISO week and per day, by department, tumour group, category and priority."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.worklist.capacity.conftest import case_fact
from worklist.capacity.demand import daily_demand, demand_between, demand_outlook, weekly_demand
from worklist.capacity.facts import CaseFact
from worklist.capacity.periods import ReportWindow, day_range, parse_period
from worklist.enums import Priority

W47 = date(2026, 11, 16)
W48 = date(2026, 11, 23)


def _case(received_at: datetime, minutes: float, **kwargs: Any) -> CaseFact:
    return case_fact(received_at, minutes, **kwargs)


CASES = [
    _case(datetime(2026, 11, 16, 9, tzinfo=UTC), 15.0),
    _case(datetime(2026, 11, 18, 9, tzinfo=UTC), 38.0, department="LUMC", category=4),
    _case(datetime(2026, 11, 20, 9, tzinfo=UTC), 7.7, tumour_group="lung", category=1),
    # 23:30 UTC on Sunday 22 November is 00:30 on Monday 23 November in Amsterdam: week 48.
    _case(datetime(2026, 11, 22, 23, 30, tzinfo=UTC), 54.0, category=5, priority=Priority.URGENT),
    # 22:30 UTC on Sunday 15 November is 23:30 the same Sunday in Amsterdam: week 46.
    _case(datetime(2026, 11, 15, 22, 30, tzinfo=UTC), 20.0, category=3),
]


def test_demand_between_counts_local_days() -> None:
    week = demand_between(CASES, W47, W48)
    assert week.cases == 3
    assert week.minutes == pytest.approx(15 + 38 + 7.7)
    assert demand_between([], W47, W48).cases == 0


def test_weekly_demand_by_department_and_priority() -> None:
    weeks = weekly_demand(CASES, by=("department", "priority"))
    assert weeks[(W47, "HMC", "routine")].minutes == pytest.approx(22.7)
    assert weeks[(W47, "HMC", "routine")].cases == 2
    assert weeks[(W47, "LUMC", "routine")].minutes == 38
    assert weeks[(W48, "HMC", "urgent")].minutes == 54
    assert weeks[(date(2026, 11, 9), "HMC", "routine")].minutes == 20
    assert len(weeks) == 4


def test_weekly_demand_by_tumour_group_and_category() -> None:
    weeks = weekly_demand(CASES, by=("tumour_group", "category"))
    assert weeks[(W47, "lung", 1)].minutes == pytest.approx(7.7)
    assert weeks[(W47, "breast", 4)].cases == 1
    total = weekly_demand(CASES)
    assert total[(W47,)].minutes == pytest.approx(60.7)
    assert sum(d.minutes for d in total.values()) == pytest.approx(134.7)


def test_daily_demand_has_a_value_for_every_day() -> None:
    daily = daily_demand(CASES, first_day=W47, stop_day=W48 + (W48 - W47))
    assert len(daily.minutes) == 14
    assert daily.minutes[0] == 15
    assert daily.minutes[1] == 0  # nothing on Tuesday
    assert daily.minutes[2] == 38
    assert daily.minutes[4] == pytest.approx(7.7)
    assert daily.minutes[7] == 54  # Monday of week 48
    assert daily.cases == (1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0)
    assert daily_demand(CASES, first_day=W48, stop_day=W47).minutes == ()


def test_the_outlook_of_ten_weeks_of_steady_demand() -> None:
    # 100 minutes every weekday for the ten weeks before 2026-W47, supply 600 a weekday.
    first_monday = W47 - timedelta(weeks=10)
    days = [first_monday + timedelta(days=i) for i in range(70)]
    cases = [
        _case(datetime.combine(d, time(9), tzinfo=UTC), 100.0) for d in days if d.weekday() < 5
    ]
    window = ReportWindow.of(parse_period("2026-W47"), date(2026, 12, 2))
    supply = [
        600.0 if d.weekday() < 5 else 0.0 for d in day_range(window.first_day, window.stop_day)
    ]
    outlook = demand_outlook(cases, window=window, daily_supply_minutes=supply)
    assert len(outlook.history_minutes) == 52
    assert outlook.history_minutes[-1] == 0  # nothing arrived in week 47 itself
    assert outlook.history_minutes[-2] == 500
    assert outlook.history_cases[-2] == 5
    assert outlook.history_supply_minutes[-2] == 3000
    assert outlook.forecast is not None
    assert outlook.forecast.weeks[0] == W48
    assert len(outlook.forecast_supply_minutes) == 12
    assert set(outlook.forecast_supply_minutes) == {3000}
    # Week 47 forecast from the ten weeks before it: about 500 minutes, 5 cases.
    assert outlook.period_forecast_minutes == pytest.approx(500, rel=0.1)
    assert outlook.period_forecast_cases == pytest.approx(5, rel=0.1)


def test_no_outlook_without_history() -> None:
    window = ReportWindow.of(parse_period("2026-W47"), date(2026, 12, 2))
    supply = [0.0] * (window.stop_day - window.first_day).days
    outlook = demand_outlook([], window=window, daily_supply_minutes=supply)
    assert outlook.forecast is None
    assert outlook.period_forecast_minutes is None
    assert outlook.period_forecast_cases is None
    assert sum(outlook.history_minutes) == 0


def test_a_month_takes_the_weekdays_it_shares_with_its_first_and_last_weeks() -> None:
    # 100 minutes every weekday for twelve weeks before 26 October 2026. November 2026 starts
    # on a Sunday and ends on a Monday: 21 weekdays, 2,100 minutes; counting the two partial
    # weeks by days (1/7 each) would make it 2,143.
    first_monday = date(2026, 10, 26) - timedelta(weeks=12)
    days = [first_monday + timedelta(days=i) for i in range(84)]
    cases = [
        _case(datetime.combine(d, time(9), tzinfo=UTC), 100.0) for d in days if d.weekday() < 5
    ]
    window = ReportWindow.of(parse_period("2026-11"), date(2026, 12, 2))
    supply = [0.0] * (window.stop_day - window.first_day).days
    outlook = demand_outlook(cases, window=window, daily_supply_minutes=supply)
    assert outlook.period_forecast_minutes == pytest.approx(2100, rel=0.01)
