"""Supply per day from FTE, rosters, absences and holidays; utilisation; the Gini balance."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.worklist.capacity.conftest import case_fact
from worklist.capacity.facts import CaseFact, PathologistFact
from worklist.capacity.supply import (
    gini,
    minutes_per_working_day,
    signed_out_minutes,
    supply_table,
    utilisation,
)
from worklist.workload import WorkloadModel

MODEL = WorkloadModel()
FTE_WEEK = 63_000 / 46  # 1369.565... minutes per FTE week
FULL = PathologistFact("P-01", "dr. Full", "HMC", 1.0, frozenset(range(5)), ())
PART = PathologistFact("P-02", "dr. Part", "HMC", 0.8, frozenset({0, 1, 3, 4}), ())
# 2026-W18: Monday 27 April 2026 is King's Day.
W18 = date(2026, 4, 27)
W19 = date(2026, 5, 4)


def _signed(code: str | None, minutes: float, at: datetime) -> CaseFact:
    return case_fact(at, minutes, signed_out_at=at, pathologist=code)


def test_a_part_timer_works_fewer_full_days() -> None:
    # 0.8 FTE over 4 days: 0.8 x 1369.57 / 4 = 273.91, a full-timer's day (1369.57 / 5).
    assert minutes_per_working_day(MODEL, PART) == pytest.approx(FTE_WEEK / 5)
    assert minutes_per_working_day(MODEL, FULL) == pytest.approx(FTE_WEEK / 5)


def test_a_week_without_holidays_supplies_fte_times_minutes_per_fte_week() -> None:
    table = supply_table([FULL, PART], first_day=W19, stop_day=W19 + (W19 - W18), model=MODEL)
    assert table.minutes("P-01", W19, date(2026, 5, 11)) == pytest.approx(FTE_WEEK)
    assert table.minutes("P-02", W19, date(2026, 5, 11)) == pytest.approx(0.8 * FTE_WEEK)
    # Wednesday is the part-timer's day off; the weekend is nobody's.
    assert list(table.daily_minutes["P-02"])[2] == 0
    assert list(table.daily_minutes["P-01"])[5:] == [0, 0]


def test_kings_day_takes_a_day_of_supply() -> None:
    table = supply_table([FULL, PART], first_day=W18, stop_day=W19, model=MODEL)
    # Full-timer: Tuesday to Friday, 4 x 273.91; part-timer: Tuesday, Thursday, Friday.
    assert table.minutes("P-01", W18, W19) == pytest.approx(4 * FTE_WEEK / 5)
    assert table.minutes("P-02", W18, W19) == pytest.approx(3 * FTE_WEEK / 5)
    assert table.total(["P-01", "P-02"], W18, W19) == pytest.approx(7 * FTE_WEEK / 5)
    assert table.working_days(["P-01", "P-02"], W18, W19) == 4


def test_christmas_week_2026() -> None:
    monday = date(2026, 12, 21)  # Christmas Day is Friday 25 December
    table = supply_table([FULL], first_day=monday, stop_day=date(2026, 12, 28), model=MODEL)
    assert table.minutes("P-01", monday, date(2026, 12, 28)) == pytest.approx(4 * FTE_WEEK / 5)


def test_absence_zero_fte_and_inactive_supply_nothing() -> None:
    absent = PathologistFact(
        "P-03", "dr. Away", "HMC", 1.0, frozenset(range(5)), ((W19, date(2026, 5, 8)),)
    )
    zero = PathologistFact("P-04", "dr. Zero", "HMC", 0.0, frozenset(range(5)), ())
    gone = PathologistFact("P-05", "dr. Gone", "HMC", 1.0, frozenset(range(5)), (), active=False)
    table = supply_table(
        [absent, zero, gone], first_day=W18, stop_day=date(2026, 5, 11), model=MODEL
    )
    assert table.minutes("P-03", W19, date(2026, 5, 11)) == 0
    assert table.minutes("P-03", W18, W19) == pytest.approx(4 * FTE_WEEK / 5)
    assert table.minutes("P-04", W18, W19) == 0
    assert table.minutes("P-05", W18, W19) == 0
    assert table.minutes("nobody", W18, W19) == 0


def test_signed_out_minutes_count_on_the_local_day_of_sign_out() -> None:
    cases = [
        _signed("P-01", 20.0, datetime(2026, 5, 4, 9, tzinfo=UTC)),
        # 23:30 UTC on Sunday 3 May is 01:30 on Monday 4 May in Amsterdam: week 19.
        _signed("P-01", 15.0, datetime(2026, 5, 3, 23, 30, tzinfo=UTC)),
        _signed("P-02", 7.7, datetime(2026, 5, 3, 12, tzinfo=UTC)),  # week 18
        _signed(None, 54.0, datetime(2026, 5, 5, 12, tzinfo=UTC)),
    ]
    assert signed_out_minutes(cases, W19, date(2026, 5, 11)) == {"P-01": 35.0, None: 54.0}
    assert signed_out_minutes(cases, W18, W19) == {"P-02": 7.7}


def test_utilisation_is_null_without_supply() -> None:
    assert utilisation(685.0, 1370.0) == pytest.approx(0.5)
    assert utilisation(10.0, 0.0) is None
    assert utilisation(0.0, 0.0) is None


def test_gini_by_hand() -> None:
    assert gini([0.8, 0.8, 0.8]) == 0
    assert gini([0.0, 1.0]) == pytest.approx(0.5)
    # |1-2| + |1-3| + |2-3| = 4, both ways 8, over 2 n^2 mean = 2 x 9 x 2: 0.2222
    assert gini([3.0, 1.0, 2.0]) == pytest.approx(8 / 36)
    # Pathologists without supply (utilisation None) are left out.
    assert gini([1.0, None, 3.0]) == pytest.approx(gini([1.0, 3.0]))
    assert gini([1.0, 3.0]) == pytest.approx(4 / (2 * 4 * 2))
    assert gini([None, None]) is None
    assert gini([]) is None
    assert gini([0.0, 0.0]) == 0
