"""Turnaround with the paused clock, its statistics, the due target, the histogram; by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worklist.capacity.facts import CaseFact, WaitFact
from worklist.capacity.turnaround import (
    TurnaroundStats,
    paused_time,
    pct_within_target,
    tat_histogram,
    turnaround_by,
    turnaround_days,
    turnaround_stats,
    within_target,
)
from worklist.enums import CaseStatus, Priority
from worklist.errors import ValidationError
from worklist.workload import WorkloadModel, due_time

MODEL = WorkloadModel()


def utc(day: int, hour: int = 9, month: int = 11) -> datetime:
    """A time in November 2026 (Monday 2 November is the first Monday)."""
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _case(
    received: datetime,
    signed: datetime | None,
    waits: tuple[tuple[datetime, datetime | None], ...] = (),
    *,
    priority: Priority = Priority.ROUTINE,
    department: str = "HMC",
    case_id: int = 1,
) -> CaseFact:
    return CaseFact(
        case_id=case_id,
        department_code=department,
        tumour_group="breast",
        category=2,
        priority=priority,
        workload_minutes=15.0,
        received_at=received,
        due_at=due_time(received, priority),
        signed_out_at=signed,
        status=CaseStatus.SIGNED_OUT if signed else CaseStatus.ASSIGNED,
        pathologist_code=None,
        waits=tuple(WaitFact(start, end) for start, end in waits),
    )


# -- the paused clock -------------------------------------------------------------------------


def test_without_waits_turnaround_is_calendar_days() -> None:
    assert turnaround_days(_case(utc(2), utc(9))) == 7.0
    assert turnaround_days(_case(utc(2), utc(2, 21))) == 0.5


def test_one_wait_is_subtracted() -> None:
    # 7 days less Tuesday 09:00 .. Wednesday 21:00 (1.5 days).
    case = _case(utc(2), utc(9), ((utc(3), utc(4, 21)),))
    assert turnaround_days(case) == 5.5
    assert paused_time(case) == timedelta(days=1.5)


def test_overlapping_waits_count_once() -> None:
    # Tue 09:00 .. Wed 09:00 and Tue 21:00 .. Thu 09:00: the union is Tue 09:00 .. Thu 09:00.
    case = _case(utc(2), utc(9), ((utc(3), utc(4)), (utc(3, 21), utc(5))))
    assert turnaround_days(case) == 5.0


def test_a_wait_inside_another_counts_once() -> None:
    case = _case(utc(2), utc(9), ((utc(3), utc(6)), (utc(4), utc(5))))
    assert turnaround_days(case) == 4.0


def test_an_open_wait_counts_until_sign_out() -> None:
    # Waiting since Sunday 8 November 09:00, signed out Monday 9 November 09:00: one day paused.
    case = _case(utc(2), utc(9), ((utc(8), None),))
    assert turnaround_days(case) == 6.0


def test_waits_are_clipped_to_receipt_and_sign_out() -> None:
    # Half a day of the first wait lies after receipt; the second lies after sign-out.
    case = _case(utc(2), utc(9), ((utc(1), utc(2, 21)), (utc(10), utc(11))))
    assert turnaround_days(case) == 6.5


def test_not_signed_out_has_no_turnaround() -> None:
    case = _case(utc(2), None, ((utc(3), None),))
    assert turnaround_days(case) is None
    assert paused_time(case) == timedelta(0)
    assert within_target(case, MODEL) is None


# -- statistics -------------------------------------------------------------------------------


def test_exact_percentiles_on_a_small_list() -> None:
    # numpy linear interpolation on sorted [1, 2, 3, 4, 10]: rank (n - 1) * q.
    # p50: rank 2 -> 3; p80: rank 3.2 -> 4 + 0.2 * 6 = 5.2; p90: rank 3.6 -> 4 + 0.6 * 6 = 7.6.
    stats = turnaround_stats([10, 3, 1, 4, 2])
    assert stats.cases == 5
    assert stats.median_days == 3.0
    assert stats.p80_days == pytest.approx(5.2)
    assert stats.p90_days == pytest.approx(7.6)
    assert stats.pct_within_7_days == 80.0  # 4 of 5
    assert stats.pct_within_10_days == 100.0  # 10 days is within 10


def test_median_of_an_even_list_is_the_mean_of_the_middle_two() -> None:
    assert turnaround_stats([1.0, 2.0, 4.0, 8.0]).median_days == 3.0


def test_no_cases_have_no_figures() -> None:
    assert turnaround_stats([]) == TurnaroundStats(0, None, None, None, None, None)


def test_every_case_late() -> None:
    stats = turnaround_stats([11.0, 12.0, 30.0])
    assert stats.pct_within_7_days == 0.0
    assert stats.pct_within_10_days == 0.0
    late = [_case(utc(2), utc(10), case_id=i) for i in range(3)]  # 8 days, due in 7
    assert pct_within_target(late, MODEL) == 0.0


def test_non_finite_days_are_refused() -> None:
    with pytest.raises(ValidationError):
        turnaround_stats([1.0, float("nan")])


# -- within target ----------------------------------------------------------------------------


def test_a_wait_moves_a_calendar_due_time_later() -> None:
    # Routine: due 7 calendar days after receipt (Monday 9 November 09:00); signed out a day late.
    assert within_target(_case(utc(2), utc(10)), MODEL) is False
    # A 1.5-day wait moves the due time to Tuesday 10 November 21:00.
    assert within_target(_case(utc(2), utc(10), ((utc(3), utc(4, 21)),)), MODEL) is True
    assert within_target(_case(utc(2), utc(9)), MODEL) is True  # exactly on the due time


def test_a_weekend_wait_moves_a_working_day_due_time_by_its_working_time() -> None:
    # Urgent (2 working days), received Thursday 5 November 09:00: due Monday 9 November 09:00.
    received = utc(5)
    assert due_time(received, Priority.URGENT) == utc(9)
    # Waiting Friday 09:00 .. Monday 09:00 pauses 15 + 9 hours of working time: one working day,
    # so the due time moves to Tuesday 10 November 09:00 (not the 72 wall-clock hours later).
    weekend = ((utc(6), utc(9)),)
    on_time = _case(received, utc(10, 8), weekend, priority=Priority.URGENT)
    late = _case(received, utc(10, 10), weekend, priority=Priority.URGENT)
    assert within_target(on_time, MODEL) is True
    assert within_target(late, MODEL) is False


def test_a_holiday_pauses_no_working_time() -> None:
    # The same weekend wait with Friday a holiday pauses only Monday's 9 hours: due Monday 18:00.
    weekend = ((utc(6), utc(9)),)
    friday = [utc(6).date()]
    late = _case(utc(5), utc(9, 19), weekend, priority=Priority.URGENT)
    on_time = _case(utc(5), utc(9, 17), weekend, priority=Priority.URGENT)
    assert within_target(late, MODEL, holidays=friday) is False
    assert within_target(on_time, MODEL, holidays=friday) is True


def test_pct_within_target_of_a_group() -> None:
    cases = [
        _case(utc(2), utc(9), case_id=1),  # on time
        _case(utc(2), utc(10), case_id=2),  # late
        _case(utc(2), utc(10), ((utc(3), utc(4, 21)),), case_id=3),  # on time after the wait
        _case(utc(2), None, case_id=4),  # open: not judged
    ]
    assert pct_within_target(cases, MODEL) == pytest.approx(200 / 3)
    assert pct_within_target([], MODEL) is None


# -- histogram and groups ---------------------------------------------------------------------


def test_histogram_bins_whole_days_and_caps_the_last() -> None:
    cases = [
        _case(utc(2), utc(9), ((utc(3), utc(4, 21)),)),  # 5.5 -> 5
        _case(utc(2), utc(7)),  # 5.0 -> 5
        _case(utc(2), utc(8)),  # 6.0 -> 6
        _case(utc(2), utc(3, month=12)),  # 31 days -> the last bin (30 or more)
        _case(utc(2), utc(2, 10)),  # 1 hour -> 0
        _case(utc(2), None),  # open: not counted
    ]
    histogram = tat_histogram(cases)
    assert len(histogram) == 31
    assert [day for day, _ in histogram] == list(range(31))
    counts = dict(histogram)
    assert (counts[0], counts[5], counts[6], counts[30]) == (1, 2, 1, 1)
    assert sum(counts.values()) == 5
    assert dict(tat_histogram(cases, max_days=5)) == {0: 1, 1: 0, 2: 0, 3: 0, 4: 0, 5: 4}


def test_empty_histogram_has_every_bin_at_zero() -> None:
    assert tat_histogram([], max_days=3) == [(0, 0), (1, 0), (2, 0), (3, 0)]


def test_turnaround_by_groups_signed_out_cases() -> None:
    cases = [
        _case(utc(2), utc(4), department="HMC", case_id=1),  # 2 days
        _case(utc(2), utc(8), department="HMC", case_id=2),  # 6 days
        _case(utc(2), utc(14), department="LUMC", case_id=3),  # 12 days
        _case(utc(2), None, department="RDGG", case_id=4),
    ]
    stats = turnaround_by(cases, lambda case: case.department_code)
    assert list(stats) == ["HMC", "LUMC", "RDGG"]
    assert stats["HMC"].cases == 2
    assert stats["HMC"].median_days == 4.0
    assert stats["HMC"].pct_within_7_days == 100.0
    assert stats["LUMC"].pct_within_10_days == 0.0
    assert stats["RDGG"] == TurnaroundStats(0, None, None, None, None, None)
