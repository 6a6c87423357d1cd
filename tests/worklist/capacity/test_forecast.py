"""The demand forecast: weeks, hand-computed cases, fallbacks, the baseline and its error."""

from __future__ import annotations

import math
import random
import warnings
from datetime import date, timedelta

import numpy as np
import pytest

from benchmarks.forecast_accuracy import synthetic_daily_minutes, weekly_totals
from worklist.calendar import public_holiday
from worklist.capacity.forecast import (
    WeeklyForecast,
    forecast_daily_demand,
    mase,
    seasonal_naive_weekly,
    shortfall_fte,
)
from worklist.errors import ValidationError

MONDAY = date(2025, 1, 6)


def _weekdays_only(first_day: date, days: int, per_day: float) -> list[float]:
    """``per_day`` on working days, zero at weekends and on Dutch public holidays."""
    values = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        closed = day.weekday() >= 5 or public_holiday(day) is not None
        values.append(0.0 if closed else per_day)
    return values


def _assert_sane(result: WeeklyForecast, horizon_weeks: int) -> None:
    assert len(result.weeks) == len(result.mean) == horizon_weeks
    assert len(result.lower_80) == len(result.upper_80) == horizon_weeks
    assert all(monday.weekday() == 0 for monday in result.weeks)
    for low, mean, high in zip(result.lower_80, result.mean, result.upper_80, strict=True):
        assert math.isfinite(low) and math.isfinite(mean) and math.isfinite(high)
        assert 0.0 <= low <= mean <= high
    assert result.method


def test_a_history_ending_on_sunday_is_forecast_from_the_next_monday() -> None:
    daily = _weekdays_only(MONDAY, 20 * 7, 100.0)
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=4)
    first = MONDAY + timedelta(weeks=20)
    assert result.weeks == tuple(first + timedelta(weeks=w) for w in range(4))


def test_a_perfectly_regular_lab_is_forecast_exactly_holidays_included() -> None:
    # 100 minutes every working day, by hand: 500 a week, 400 in a week with one holiday.
    # 20 weeks from 2025-01-06 end on Sunday 2025-05-25; the forecast weeks hold Ascension
    # (Thursday 29 May) and Whit Monday (9 June).
    daily = _weekdays_only(MONDAY, 20 * 7, 100.0)
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=4)
    assert result.weeks[0] == date(2025, 5, 26)
    assert result.mean == pytest.approx((400.0, 500.0, 400.0, 500.0), rel=1e-6)
    assert result.lower_80 == pytest.approx(result.mean, rel=1e-6)
    assert result.upper_80 == pytest.approx(result.mean, rel=1e-6)
    assert "GLM" in result.method and "no yearly seasonality" in result.method


def test_the_week_in_progress_counts_its_known_days_as_they_are() -> None:
    # History ends on Wednesday 2025-05-21: Monday to Wednesday are known (3 x 100 but the
    # Wednesday given as 250), Thursday and Friday come from the model (2 x 100).
    daily = _weekdays_only(MONDAY, 19 * 7 + 3, 100.0)
    daily[-1] = 250.0
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=2)
    assert result.weeks[0] == date(2025, 5, 19)
    assert result.mean[0] == pytest.approx(100 + 100 + 250 + 2 * 100, rel=0.02)
    assert result.lower_80[0] >= 450.0  # the known days are certain


def test_the_weekly_interval_is_the_sums_not_the_sum_of_daily_bounds() -> None:
    # Poisson days of mean 40 on weekdays for two years: a week's sum has variance about 5 x 40,
    # so the 80% half-width is about 1.2816 * sqrt(200) = 18.1; the sum of five daily bounds
    # would be 5 * 1.2816 * sqrt(40) = 40.5.
    rng = np.random.default_rng(3)
    days = 104 * 7
    daily = []
    for offset in range(days):
        day = MONDAY + timedelta(days=offset)
        closed = day.weekday() >= 5 or public_holiday(day) is not None
        daily.append(0.0 if closed else float(rng.poisson(40.0)))
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=12)
    _assert_sane(result, 12)
    full_weeks = [
        i for i, monday in enumerate(result.weeks)
        if all(public_holiday(monday + timedelta(days=d)) is None for d in range(5))
    ]  # fmt: skip
    half_widths = [(result.upper_80[i] - result.lower_80[i]) / 2 for i in full_weeks]
    assert 14.0 < min(half_widths) and max(half_widths) < 26.0
    assert all(180.0 < result.mean[i] < 220.0 for i in full_weeks)


@pytest.mark.parametrize(
    ("daily", "method_part"),
    [
        ([], "no demand"),
        ([0.0] * 400, "no demand"),
        ([7.5] * 400, "constant"),
        ([10.0, 0.0, 30.0] * 10, "under 8 weeks"),
        ([math.nan, -5.0, math.inf] + [12.0] * 20, "under 8 weeks"),
    ],
)
def test_fallbacks_never_raise_nor_give_nan(daily: list[float], method_part: str) -> None:
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=12)
    _assert_sane(result, 12)
    assert method_part in result.method


def test_the_constant_and_zero_fallbacks_by_hand() -> None:
    assert forecast_daily_demand([7.5] * 14, first_day=MONDAY, horizon_weeks=1).mean == (52.5,)
    zero = forecast_daily_demand([0.0] * 14, first_day=MONDAY, horizon_weeks=1)
    assert (zero.mean, zero.lower_80, zero.upper_80) == ((0.0,), (0.0,), (0.0,))


def test_the_short_history_fallback_is_the_mean_week_plus_or_minus_half() -> None:
    daily = _weekdays_only(date(2025, 2, 3), 21, 100.0)  # 3 weeks, no holiday: 500 a week
    result = forecast_daily_demand(daily, first_day=date(2025, 2, 3), horizon_weeks=2)
    assert result.mean == pytest.approx((500.0, 500.0))
    assert result.lower_80 == pytest.approx((250.0, 250.0))
    assert result.upper_80 == pytest.approx((750.0, 750.0))


def test_a_falling_series_never_goes_negative_and_warns_nothing() -> None:
    daily = [max(0.0, 500.0 - 2.5 * i) if (i % 7) < 5 else 0.0 for i in range(210)]
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=12)
    assert warnings.filters == before
    _assert_sane(result, 12)


@pytest.mark.parametrize(
    ("weeks", "trend", "yearly"),
    [
        (30, "no trend", "no yearly seasonality"),
        (52, "no trend", "yearly seasonality (Fourier order 6)"),
        (60, "GLM (quasi-Poisson, log link): trend", "yearly seasonality (Fourier order 6)"),
    ],
)
def test_the_method_names_the_terms_the_history_allows(weeks: int, trend: str, yearly: str) -> None:
    rng = random.Random(weeks)
    daily = [v * rng.uniform(0.8, 1.2) for v in _weekdays_only(MONDAY, weeks * 7, 100.0)]
    result = forecast_daily_demand(daily, first_day=MONDAY, horizon_weeks=12)
    _assert_sane(result, 12)
    assert trend in result.method and yearly in result.method


def test_a_horizon_under_one_week_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least one week"):
        forecast_daily_demand([1.0] * 100, first_day=MONDAY, horizon_weeks=0)


def test_the_model_beats_seasonal_naive_on_held_out_synthetic_weeks() -> None:
    # Two seeded years of the smallest department (the noisiest series), the last 12 weeks
    # held out, MASE on weekly totals (season 52), averaged over the benchmark's first three
    # seeds: one series alone can go either way (the benchmark at two years: 23 of 24 won,
    # median MASE 0.59 against 0.82).
    model_mases, naive_mases = [], []
    for seed in (1, 2, 3):
        daily = synthetic_daily_minutes("GHZ", weeks=104, seed=seed)
        train, held_out = daily[: -12 * 7], weekly_totals(daily[-12 * 7 :])
        training_weeks = weekly_totals(train)
        result = forecast_daily_demand(train, first_day=date(2023, 1, 2), horizon_weeks=12)
        _assert_sane(result, 12)
        assert "trend, day of week, yearly seasonality (Fourier order 6)" in result.method
        model_mases.append(mase(held_out, result.mean, training_weeks, 52))
        naive = seasonal_naive_weekly(training_weeks, 12)
        naive_mases.append(mase(held_out, naive, training_weeks, 52))
    assert sum(model_mases) / 3 < 0.9 * sum(naive_mases) / 3
    assert max(model_mases) < 1.0


def test_seasonal_naive_repeats_last_season_by_hand() -> None:
    weekly = [float(w) for w in range(1, 105)]  # weeks 1..104: the last season is 53..104
    assert seasonal_naive_weekly(weekly, 3) == [53.0, 54.0, 55.0]
    assert seasonal_naive_weekly(weekly, 54)[-2:] == [53.0, 54.0]
    assert seasonal_naive_weekly([1.0, 2.0, 3.0], 2, season_weeks=2) == [2.0, 3.0]
    with pytest.raises(ValidationError, match="season"):
        seasonal_naive_weekly([1.0] * 51, 12)


def test_mase_by_hand() -> None:
    # Naive (lag 2) errors on the training: |3-1|, |4-2|, |5-3|, |6-4| = 2 each: scale 2.
    # Forecast errors |10-12|, |10-9|: mean 1.5; MASE 1.5 / 2 = 0.75.
    assert mase([10.0, 10.0], [12.0, 9.0], [1, 2, 3, 4, 5, 6], 2) == pytest.approx(0.75)
    with pytest.raises(ValidationError, match="repeats itself"):
        mase([1.0], [1.0], [5.0, 5.0, 5.0], 1)
    with pytest.raises(ValidationError, match="same"):
        mase([1.0], [1.0, 2.0], [1.0, 2.0, 3.0], 1)


def test_shortfall_fte_by_hand() -> None:
    # (20,000 - 16,300) / 1,000 = 3.7 FTE short; (9,000 - 10,000) / 500 = 2 FTE to spare.
    assert shortfall_fte(20_000.0, 16_300.0, 1_000.0) == pytest.approx(3.7)
    assert shortfall_fte(9_000.0, 10_000.0, 500.0) == pytest.approx(-2.0)
    with pytest.raises(ValidationError, match="positive"):
        shortfall_fte(1.0, 1.0, 0.0)
