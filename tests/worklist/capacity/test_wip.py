"""Work in progress at a moment, its ageing buckets, overdue cases, backlog in days of supply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.worklist.capacity.conftest import case_fact
from worklist.capacity.facts import CaseFact
from worklist.capacity.periods import local_midnight
from worklist.capacity.wip import backlog_days, work_in_progress

# The end of 2026-W47: midnight at the start of Monday 23 November, Amsterdam time.
END = local_midnight(datetime(2026, 11, 23).date())


def _case(
    received: datetime,
    minutes: float = 15.0,
    *,
    due_days: float = 7,
    signed: datetime | None = None,
) -> CaseFact:
    return case_fact(
        received, minutes, due_at=received + timedelta(days=due_days), signed_out_at=signed
    )


def test_ages_are_counted_to_the_last_day_before_the_moment() -> None:
    cases = [
        _case(datetime(2026, 11, 22, 9, tzinfo=UTC)),  # Sunday: 0 days -> 0-2
        _case(datetime(2026, 11, 20, 9, tzinfo=UTC)),  # 2 days -> 0-2
        _case(datetime(2026, 11, 19, 9, tzinfo=UTC), 38.0),  # 3 days -> 3-5
        _case(datetime(2026, 11, 16, 9, tzinfo=UTC)),  # 6 days -> 6-7
        _case(datetime(2026, 11, 14, 9, tzinfo=UTC)),  # 8 days -> 8-10, overdue
        _case(datetime(2026, 11, 1, 9, tzinfo=UTC), 86.0),  # 21 days -> >10, overdue
    ]
    wip = work_in_progress(cases, at=END)
    assert wip.cases == 6
    assert wip.minutes == pytest.approx(15 * 4 + 38 + 86)
    assert wip.ageing == {"0-2": 2, "3-5": 1, "6-7": 1, "8-10": 1, ">10": 1}
    assert wip.overdue_cases == 2
    assert wip.overdue_by_bucket == {"0-2": 0, "3-5": 0, "6-7": 0, "8-10": 1, ">10": 1}


def test_signed_out_before_or_received_after_the_moment_is_not_in_progress() -> None:
    cases = [
        _case(datetime(2026, 11, 16, 9, tzinfo=UTC), signed=datetime(2026, 11, 20, tzinfo=UTC)),
        _case(datetime(2026, 11, 23, 9, tzinfo=UTC)),  # received after the moment
        # Signed out after the moment: still in progress at the end of week 47.
        _case(datetime(2026, 11, 16, 9, tzinfo=UTC), signed=datetime(2026, 11, 25, tzinfo=UTC)),
    ]
    wip = work_in_progress(cases, at=END)
    assert wip.cases == 1
    assert wip.ageing["6-7"] == 1


def test_every_case_overdue() -> None:
    cases = [_case(datetime(2026, 11, d, 9, tzinfo=UTC), due_days=0.5) for d in (16, 18, 20)]
    wip = work_in_progress(cases, at=END)
    assert wip.overdue_cases == wip.cases == 3


def test_no_cases() -> None:
    wip = work_in_progress([], at=END)
    assert (wip.cases, wip.minutes, wip.overdue_cases) == (0, 0.0, 0)
    assert set(wip.ageing.values()) == {0}


def test_backlog_in_days_of_supply() -> None:
    # 1,370 minutes of work for a department supplying 548 minutes a working day: 2.5 days.
    assert backlog_days(1370.0, 548.0) == pytest.approx(2.5)
    assert backlog_days(1370.0, 0.0) is None
    assert backlog_days(0.0, 548.0) == 0
