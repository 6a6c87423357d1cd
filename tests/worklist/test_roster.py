"""The roster rule: part-time days, Dutch public holidays and absences, and why a day is off."""

from __future__ import annotations

from datetime import date

import pytest

from worklist.errors import ValidationError
from worklist.roster import Absence, Roster, parse_working_days

PART_TIME = Roster(parse_working_days("mon,tue,thu"))


def test_a_part_time_day_off_and_the_weekend_are_not_working_days() -> None:
    assert PART_TIME.is_working(date(2026, 3, 2))  # Monday
    assert PART_TIME.why_absent(date(2026, 3, 4)) == "not a working day"  # Wednesday
    assert PART_TIME.why_absent(date(2026, 3, 7)) == "not a working day"  # Saturday


def test_a_public_holiday_on_a_working_day_is_off_and_named() -> None:
    assert not PART_TIME.is_working(date(2026, 4, 6))
    assert PART_TIME.why_absent(date(2026, 4, 6)) == "public holiday: Easter Monday"
    open_on_holidays = Roster(PART_TIME.working_weekdays, observes_public_holidays=False)
    assert open_on_holidays.is_working(date(2026, 4, 6))


def test_an_absence_says_its_kind_on_each_day_it_covers_and_not_after() -> None:
    roster = Roster(
        parse_working_days("mon,tue,wed,thu,fri"),
        (Absence(date(2026, 3, 9), date(2026, 3, 10), "sickness"),),
    )
    assert roster.why_absent(date(2026, 3, 9)) == "sickness"
    assert roster.why_absent(date(2026, 3, 10)) == "sickness"
    assert roster.is_working(date(2026, 3, 11))
    # Week of 9 March 2026: five weekdays, two sick.
    assert roster.working_days_between(date(2026, 3, 9), date(2026, 3, 15)) == 3


def test_bad_rosters_are_refused() -> None:
    with pytest.raises(ValidationError, match="before it starts"):
        Absence(date(2026, 3, 10), date(2026, 3, 9))
    with pytest.raises(ValidationError, match="unknown weekday"):
        parse_working_days("mon,funday")
    with pytest.raises(ValidationError, match="at least one"):
        parse_working_days("")
