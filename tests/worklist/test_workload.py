"""The workload model: standard minutes, capacity and due times (working days, weekends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.workload import (
    TatTarget,
    TatUnit,
    WorkloadModel,
    add_working_days,
    due_time,
    is_working_day,
)

FRIDAY_2PM = datetime(2025, 3, 14, 14, 0)
SATURDAY = datetime(2025, 3, 15, 10, 30)
EASTER_MONDAY = date(2025, 4, 21)


def test_nvvp_minutes_per_category() -> None:
    model = WorkloadModel()

    assert [model.case_minutes(c) for c in range(1, 7)] == [7.7, 15, 20, 38, 54, 86]


def test_add_ons_on_top_of_the_category() -> None:
    model = WorkloadModel()

    assert model.case_minutes(2, frozen_section=True) == 15 + 38
    assert model.case_minutes(2, molecular=True) == 15 + 12.5
    assert model.case_minutes(2, molecular_complex=True) == 15 + 25


def test_unknown_category_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown specimen category 7"):
        WorkloadModel().case_minutes(7)


def test_second_opinion_costs_a_configurable_share_of_the_case() -> None:
    assert WorkloadModel().second_opinion_minutes(86) == 43
    assert WorkloadModel(second_opinion_fraction=1.0).second_opinion_minutes(86) == 86
    with pytest.raises(ValidationError, match="second_opinion_fraction"):
        WorkloadModel(second_opinion_fraction=1.5)


def test_capacity_is_63000_minutes_per_fte_over_46_weeks() -> None:
    model = WorkloadModel()

    assert model.minutes_per_fte_week == pytest.approx(1_369.6, abs=0.1)
    assert model.minutes_per_fte_day == pytest.approx(273.9, abs=0.1)
    assert model.weekly_capacity_minutes(0.8) == pytest.approx(0.8 * 63_000 / 46)
    assert model.daily_capacity_minutes(availability=0.5) == pytest.approx(273.9 / 2, abs=0.1)


def test_capacity_is_configuration() -> None:
    model = WorkloadModel(minutes_per_fte_year=46_000, working_weeks_per_year=46)

    assert model.minutes_per_fte_week == 1_000
    assert model.daily_capacity_minutes() == 200


def test_every_priority_needs_a_target() -> None:
    with pytest.raises(ValidationError, match="no turnaround target for priority frozen"):
        WorkloadModel(
            tat_targets={
                p: (TatTarget(1, TatUnit.CALENDAR_DAYS),)
                for p in Priority
                if p is not Priority.FROZEN
            }
        )


def test_frozen_sections_are_on_site_only() -> None:
    model = WorkloadModel()

    assert model.on_site_only(Priority.FROZEN)
    assert not model.on_site_only(Priority.URGENT)


def test_frozen_section_is_due_in_20_minutes() -> None:
    assert due_time(FRIDAY_2PM, Priority.FROZEN) == FRIDAY_2PM + timedelta(minutes=20)


def test_urgent_received_friday_afternoon_is_due_tuesday_afternoon() -> None:
    assert due_time(FRIDAY_2PM, Priority.URGENT) == datetime(2025, 3, 18, 14, 0)


def test_urgent_received_on_saturday_counts_from_monday() -> None:
    # Monday and Tuesday are the two working days: due at the end of Tuesday.
    assert due_time(SATURDAY, Priority.URGENT) == datetime(2025, 3, 19, 0, 0)


def test_cancer_pathway_is_five_working_days() -> None:
    monday_9am = datetime(2025, 3, 10, 9, 0)

    assert due_time(monday_9am, Priority.CANCER_PATHWAY) == datetime(2025, 3, 17, 9, 0)


def test_holidays_do_not_count_as_working_days() -> None:
    thursday_before_easter = datetime(2025, 4, 17, 11, 0)
    good_friday = date(2025, 4, 18)

    assert due_time(thursday_before_easter, Priority.URGENT) == datetime(2025, 4, 21, 11, 0)
    assert due_time(
        thursday_before_easter, Priority.URGENT, holidays=[good_friday, EASTER_MONDAY]
    ) == datetime(2025, 4, 23, 11, 0)


def test_routine_is_due_in_seven_calendar_days_weekend_or_not() -> None:
    assert due_time(FRIDAY_2PM, Priority.ROUTINE) == datetime(2025, 3, 21, 14, 0)
    assert due_time(SATURDAY, Priority.ROUTINE, holidays=[date(2025, 3, 17)]) == datetime(
        2025, 3, 22, 10, 30
    )


def test_routine_targets_are_80_percent_in_7_and_90_percent_in_10_days() -> None:
    routine = WorkloadModel().tat_targets[Priority.ROUTINE]

    assert [(t.amount, t.unit, t.share) for t in routine] == [
        (7, TatUnit.CALENDAR_DAYS, 0.8),
        (10, TatUnit.CALENDAR_DAYS, 0.9),
    ]


def test_due_time_keeps_the_time_zone() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    received = datetime(2025, 3, 28, 16, 0, tzinfo=amsterdam)  # Friday before the clocks go forward

    due = due_time(received, Priority.URGENT)

    assert due.tzinfo is amsterdam
    assert (due.date(), due.hour) == (date(2025, 4, 1), 16)
    assert due_time(received.astimezone(UTC), Priority.URGENT).tzinfo is UTC


def test_model_due_time_uses_its_own_targets() -> None:
    model = WorkloadModel(
        tat_targets={
            **WorkloadModel().tat_targets,
            Priority.URGENT: (TatTarget(1, TatUnit.WORKING_DAYS),),
        }
    )

    assert model.due_time(FRIDAY_2PM, Priority.URGENT) == datetime(2025, 3, 17, 14, 0)


moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31))
holiday_sets = st.frozensets(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 3, 1)), max_size=30
)


def working_time_between(start: datetime, end: datetime, holidays: frozenset[date]) -> timedelta:
    """Brute force: the part of [start, end) that falls on working days."""
    total = timedelta(0)
    day = start.date()
    while day <= end.date():
        if is_working_day(day, holidays):
            lo = max(start, datetime.combine(day, datetime.min.time()))
            hi = min(end, datetime.combine(day + timedelta(days=1), datetime.min.time()))
            total += max(hi - lo, timedelta(0))
        day += timedelta(days=1)
    return total


@settings(max_examples=200, deadline=None)
@given(moments, st.integers(min_value=0, max_value=10), holiday_sets)
def test_working_days_add_exactly_that_much_working_time(
    start: datetime, days: int, holidays: frozenset[date]
) -> None:
    due = add_working_days(start, days, holidays)

    assert due >= start
    assert working_time_between(start, due, holidays) == timedelta(days=days)
    # ...and not a moment more: the due time is the earliest such instant.
    if days:
        assert working_time_between(start, due - timedelta(microseconds=1), holidays) < timedelta(
            days=days
        )


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValidationError, match="cannot be negative"):
        add_working_days(FRIDAY_2PM, -1)
