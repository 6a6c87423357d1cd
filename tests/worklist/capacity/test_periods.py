"""Reporting periods: ISO weeks, months, quarters, and the report's window."""

from __future__ import annotations

from datetime import date

import pytest

from worklist.capacity.periods import (
    Period,
    ReportWindow,
    next_weeks,
    parse_period,
    previous_weeks,
    slice_days,
    week_label,
    week_start,
)
from worklist.errors import ValidationError


def test_an_iso_week_runs_monday_to_monday() -> None:
    period = parse_period("2026-W47")
    assert period == Period("2026-W47", date(2026, 11, 16), date(2026, 11, 23))
    assert period.weeks() == (date(2026, 11, 16),)
    assert period.days == 7


def test_week_one_of_2026_starts_in_2025_and_week_53_exists_in_2026() -> None:
    assert parse_period("2026-W01").start == date(2025, 12, 29)
    assert parse_period("2026-W53").start == date(2026, 12, 28)


def test_a_month_overlaps_the_iso_weeks_that_hold_its_days() -> None:
    period = parse_period("2026-11")
    assert (period.start, period.stop) == (date(2026, 11, 1), date(2026, 12, 1))
    # 1 November 2026 is a Sunday: its week starts on 26 October.
    assert period.weeks()[0] == date(2026, 10, 26)
    assert period.weeks()[-1] == date(2026, 11, 30)
    assert len(period.weeks()) == 6
    assert parse_period("2026-12").stop == date(2027, 1, 1)


def test_a_quarter_is_three_months() -> None:
    period = parse_period("2026-q4")
    assert period.label == "2026-Q4"
    assert (period.start, period.stop) == (date(2026, 10, 1), date(2027, 1, 1))
    assert parse_period("2026-Q1").stop == date(2026, 4, 1)


@pytest.mark.parametrize(
    "text",
    ["2026-W54", "2025-W53", "2026-13", "2026-00", "2026-Q5", "2026-Q0", "W47", "2026/11", "", "x"],
)
def test_anything_else_is_a_clear_validation_error(text: str) -> None:
    with pytest.raises(ValidationError, match="period"):
        parse_period(text)


def test_week_helpers() -> None:
    assert week_start(date(2026, 11, 22)) == date(2026, 11, 16)  # a Sunday
    assert week_label(date(2025, 12, 29)) == "2026-W01"
    assert previous_weeks(date(2026, 11, 18), 3) == (
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
    )
    assert next_weeks(date(2026, 11, 18), 2) == (date(2026, 11, 23), date(2026, 11, 30))


def test_the_window_of_an_ended_week_forecasts_from_the_next_monday() -> None:
    window = ReportWindow.of(parse_period("2026-W47"), date(2026, 12, 2))
    assert window.end_day == date(2026, 11, 23)
    assert window.forecast_start == date(2026, 11, 23)
    assert window.history_weeks[-1] == date(2026, 11, 16)
    assert len(window.history_weeks) == 52
    assert len(window.forecast_weeks) == 12
    assert window.forecast_stop == date(2027, 2, 15)


def test_the_window_of_a_running_month_ends_today_and_forecasts_the_current_week() -> None:
    window = ReportWindow.of(parse_period("2026-12"), date(2026, 12, 3))  # a Thursday
    assert window.end_day == date(2026, 12, 4)
    assert window.forecast_start == date(2026, 11, 30)
    assert window.history_weeks[-1] == date(2026, 11, 23)
    assert window.stop_day == max(window.forecast_stop, date(2027, 1, 1))


def test_slice_days_clips_to_the_series() -> None:
    first = date(2026, 11, 16)
    values = [1, 2, 3, 4, 5, 6, 7]
    assert slice_days(values, first, date(2026, 11, 17), date(2026, 11, 19)) == [2, 3]
    assert slice_days(values, first, date(2026, 11, 1), date(2026, 11, 18)) == [1, 2]
    assert slice_days(values, first, date(2026, 11, 20), date(2026, 12, 1)) == [5, 6, 7]
    assert slice_days(values, first, date(2026, 11, 1), date(2026, 11, 10)) == []
