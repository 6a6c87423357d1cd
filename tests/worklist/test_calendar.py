"""Dutch public holidays come from the ``holidays`` library, per year."""

from __future__ import annotations

from datetime import date

from worklist.calendar import public_holiday, public_holidays


def test_kings_day_moves_to_saturday_when_27_april_is_a_sunday() -> None:
    assert public_holiday(date(2025, 4, 26)) == "King's Day"  # 27 April 2025 is a Sunday
    assert public_holiday(date(2025, 4, 27)) is None
    assert public_holiday(date(2026, 4, 27)) == "King's Day"


def test_movable_feasts_follow_easter_each_year() -> None:
    assert public_holiday(date(2026, 4, 6)) == "Easter Monday"
    assert public_holiday(date(2027, 3, 29)) == "Easter Monday"
    assert public_holiday(date(2026, 5, 14)) == "Ascension Day"


def test_an_ordinary_day_is_no_holiday_and_every_year_has_christmas() -> None:
    assert public_holiday(date(2026, 3, 3)) is None
    for year in (2025, 2030, 2040):
        assert public_holidays(year)[date(year, 12, 25)] == "Christmas Day"
