"""The demand forecast: the coming weeks' workload minutes (or cases) with an 80% interval.

The model is a statsmodels GLM on the *daily* series, quasi-Poisson (log link, Pearson
dispersion), with a linear trend, day-of-week effects and yearly Fourier terms:

    log E[demand on day d] = b0 + b1 * years(d) + dow(d) + sum_k a_k sin(2 pi k doy) + c_k cos(...)

Why this one, measured in ``benchmarks/forecast_accuracy.py``
(``benchmarks/results/forecast_accuracy.md``: 12 held-out weeks of 6 departments, 4 seeds of
``worklist.synthetic.case_stream`` and 2 of the demo's ``worklist.synthetic_history``):

- accuracy: with two or three years of history its MASE is about 0.56-0.76 against the
  seasonal-naive baseline's 0.82-1.07, below Holt-Winters' (weekly, 52-week season; it needs
  two whole seasons) and SARIMAX's (weekly, trend, Fourier and holiday regressors). With one
  year it still beats the baseline on both sources, where SARIMAX loses to it on the case
  stream. Arrivals are multiplicative (level x weekday x season), which a log link fits
  directly, and a model on days knows where the Dutch public holidays fall in the coming
  weeks (Easter, Ascension and Whit Monday move: weekly models only see their count).
- speed: a fit takes a few milliseconds of CPU (19 forecasts of one report: about 0.1 s, plus
  about a second to import statsmodels once), where one fit of SARIMAX or UnobservedComponents
  on the days takes about a second or more per series (19 of them: over the budget of 4 s a
  report), and MSTL drops a yearly period from under two years of days.

Terms by history: a trend from 60 weeks on (``TREND_MIN_DAYS``). At one year a linear trend
is told from the season only by the jump where the year wraps: measured, fitting it made the
forecast worse than none on the case stream (MAE 0.99 of the baseline's against 0.81), and a
trend weighted by its evidence (z^2 / (1 + z^2)) was worse on the demo's history (1.47 against
0.96 of the baseline's), so under 60 weeks there is none (``method`` says so; a department
growing fast is then forecast low: the demo's LUMC, 35% a year, by about a fifth; the demo's
455 days of history are past the threshold). Yearly
seasonality from 52 weeks on, Fourier order 6 (order 2 to 4 could not follow the summer and
December dips, 8 and more fitted noise), none under a year.

Closed days are not modelled: a weekday with no demand in the whole history (a lab closed at
weekends) and the Dutch public holidays are left out of the fit. A closed weekday is forecast
zero; a holiday is forecast as the model's value times the share of it that past holidays
received (zero for a lab that closes on them, the usual case).

Weeks are ISO weeks named by their Monday. ``weeks[0]`` is the week of the day after the last
day given: the next week when the history ends on a Sunday, else the week in progress, whose
figure is the days already given (as they are) plus the model's forecast for the rest of it.

The 80% interval of a week's sum is coherent: the variance of the sum is the model's parameter
uncertainty propagated through the sum (its covariance matrix, delta method) plus the
observation noise of a whole week (the Pearson dispersion of the history's *weekly* residuals,
which carries the correlation between days of one week); not the sum of daily bounds.

Fallbacks, never an exception or a NaN, ``method`` names the one used: no demand at all (zero);
a constant series (that constant); under 8 weeks of history, or a model that does not fit (the
mean week of the history, +/-50% or its spread if wider). Negative or non-finite values are read
as zero.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from worklist.calendar import public_holiday
from worklist.errors import ValidationError

__all__ = [
    "MIN_HISTORY_DAYS",
    "WeeklyForecast",
    "forecast_daily_demand",
    "mase",
    "seasonal_naive_weekly",
    "shortfall_fte",
]

MIN_HISTORY_DAYS = 56
"""Under 8 weeks of history there is no model, only the mean week (a documented fallback)."""
YEARLY_MIN_DAYS = 364
"""From 52 weeks of history on, yearly seasonality (Fourier terms of order ``YEARLY_ORDER``)."""
YEARLY_ORDER = 6
TREND_MIN_DAYS = 420
"""From 60 weeks on, a trend: with less, the season has no second one to be compared with."""

_Z_80 = 1.2815515655446004  # the standard normal's 90% quantile: a central 80% interval
_DAYS_PER_YEAR = 365.25
_FALLBACK_RELATIVE_HALF_WIDTH = 0.5
_MEAN_WEEK = "mean week of the history (+/-50% or its spread)"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WeeklyForecast:
    """Forecast demand per ISO week with its central 80% interval."""

    weeks: tuple[date, ...]
    """Mondays of the forecast weeks."""
    mean: tuple[float, ...]
    lower_80: tuple[float, ...]
    upper_80: tuple[float, ...]
    method: str
    """How it was made, for the reader: the model, or the fallback and why."""


def forecast_daily_demand(
    daily: Sequence[float], *, first_day: date, horizon_weeks: int = 12
) -> WeeklyForecast:
    """Forecast ``horizon_weeks`` ISO weeks of demand from one value per day from ``first_day``.

    See the module docstring for the model, the first week and the fallbacks.
    """
    if horizon_weeks < 1:
        raise ValidationError(f"a forecast needs at least one week, got {horizon_weeks}")
    values = np.nan_to_num(np.asarray(daily, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0.0, None)
    history_days = len(values)
    next_day = first_day + timedelta(days=history_days)
    first_week = next_day - timedelta(days=next_day.weekday())
    weeks = tuple(first_week + timedelta(weeks=w) for w in range(horizon_weeks))
    # The days of the week in progress that are already known count as they are.
    known_in_first_week = (
        float(values[max(0, history_days - next_day.weekday()) :].sum())
        if (next_day.weekday() and history_days)
        else 0.0
    )

    if history_days == 0 or not values.any():
        return _flat(
            weeks, 0.0, 0.0, known_in_first_week, next_day, "no demand in the history: zero"
        )
    if float(values.max() - values.min()) == 0.0:
        per_day = float(values[0])
        return _flat(
            weeks, per_day, 0.0, known_in_first_week, next_day,
            "constant history: the same value every day",
        )  # fmt: skip
    if history_days < MIN_HISTORY_DAYS:
        return _mean_week(
            values, weeks, known_in_first_week, next_day,
            f"{_MEAN_WEEK}: {history_days} days is under 8 weeks",
        )  # fmt: skip
    try:
        result = _glm_forecast(values, first_day, weeks, next_day, known_in_first_week)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        return _mean_week(
            values, weeks, known_in_first_week, next_day,
            f"{_MEAN_WEEK}: the model did not fit ({error})",
        )  # fmt: skip
    if not all(math.isfinite(v) for v in (*result.mean, *result.lower_80, *result.upper_80)):
        return _mean_week(
            values, weeks, known_in_first_week, next_day,
            f"{_MEAN_WEEK}: the model gave no finite forecast",
        )  # fmt: skip
    return result


def _terms(history_days: int) -> tuple[bool, int]:
    """Whether to fit a trend, and the yearly Fourier order, for this much history."""
    return history_days >= TREND_MIN_DAYS, YEARLY_ORDER if history_days >= YEARLY_MIN_DAYS else 0


def _design(
    days: Sequence[date],
    first_day: date,
    terms: tuple[bool, int],
    open_weekdays: Sequence[int],
) -> FloatArray:
    """Columns: constant, trend (years), one per open weekday but the first, yearly Fourier."""
    trend, order = terms
    ordinals = np.array([d.toordinal() for d in days], dtype=np.float64)
    weekday = np.array([d.weekday() for d in days])
    columns = [np.ones(len(days))]
    if trend:
        columns.append((ordinals - first_day.toordinal()) / _DAYS_PER_YEAR)
    columns += [(weekday == w).astype(np.float64) for w in open_weekdays[1:]]
    # Phase by the calendar (ordinal), so the terms mean the same season in any series.
    angle = 2.0 * np.pi * ordinals / _DAYS_PER_YEAR
    for k in range(1, order + 1):
        columns += [np.sin(k * angle), np.cos(k * angle)]
    return np.column_stack(columns)


def _glm_forecast(
    values: FloatArray, first_day: date, weeks: tuple[date, ...], next_day: date, known: float
) -> WeeklyForecast:
    history = [first_day + timedelta(days=i) for i in range(len(values))]
    closed = _Closed.of(values, history)
    terms = _terms(len(values))
    means, variances = _weekly_moments(values, history, closed, terms, weeks, next_day)
    trend_text = "trend" if terms[0] else "no trend (under 60 weeks of history)"
    order = terms[1]
    half_widths = _Z_80 * np.sqrt(np.clip(variances, 0.0, None))
    already = np.zeros(len(weeks))
    already[0] = known
    yearly = (
        f"yearly seasonality (Fourier order {order})"
        if order
        else "no yearly seasonality (under a year of history)"
    )
    return WeeklyForecast(
        weeks=weeks,
        mean=tuple(float(v) for v in already + means),
        lower_80=tuple(float(v) for v in already + np.clip(means - half_widths, 0.0, None)),
        upper_80=tuple(float(v) for v in already + means + half_widths),
        method=f"statsmodels GLM (quasi-Poisson, log link): {trend_text}, day of week, {yearly}",
    )


@dataclass(frozen=True, slots=True)
class _Closed:
    """Which history days are holidays, and which weekdays the lab is open on."""

    holiday: npt.NDArray[np.bool_]
    weekday: npt.NDArray[np.int_]
    open_weekdays: tuple[int, ...]

    @classmethod
    def of(cls, values: FloatArray, history: Sequence[date]) -> _Closed:
        holiday = np.array([public_holiday(d) is not None for d in history])
        weekday = np.array([d.weekday() for d in history])
        open_weekdays = tuple(w for w in range(7) if values[(weekday == w) & ~holiday].sum() > 0)
        return cls(holiday, weekday, open_weekdays)

    @property
    def fitted_rows(self) -> npt.NDArray[np.bool_]:
        return np.isin(self.weekday, self.open_weekdays) & ~self.holiday


def _weekly_moments(
    values: FloatArray,
    history: Sequence[date],
    closed: _Closed,
    terms: tuple[bool, int],
    weeks: tuple[date, ...],
    next_day: date,
) -> tuple[FloatArray, FloatArray]:
    """Fit the GLM with ``terms``; each forecast week's (unknown days') mean and variance."""
    import statsmodels.api as sm  # type: ignore[import-untyped]  # a second to import: only here
    from statsmodels.tools import sm_exceptions  # type: ignore[import-untyped]
    from threadpoolctl import threadpool_limits

    first_day = history[0]
    open_weekdays = closed.open_weekdays
    fitted_rows = closed.fitted_rows
    design = _design(history, first_day, terms, open_weekdays)
    # One BLAS thread: the fit's least squares are small (hundreds of rows, ~20 columns), and
    # a BLAS thread pool per fit costs more than it saves (measured: a report's 38 fits took
    # half to a third of the time with one thread on a loaded 2-core machine).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        # Local only: IRLS on a short or odd series may warn; the checks after it decide.
        for category in (
            sm_exceptions.ConvergenceWarning,
            sm_exceptions.PerfectSeparationWarning,
            sm_exceptions.DomainWarning,
            RuntimeWarning,
        ):
            warnings.simplefilter("ignore", category)
        model = sm.GLM(values[fitted_rows], design[fitted_rows], family=sm.families.Poisson())
        try:
            fit = model.fit()
        except sm_exceptions.PerfectSeparationError as error:
            raise ValueError(str(error)) from error
        # Quasi-Poisson: the Pearson dispersion scales the covariance. Computed here, not with
        # fit(scale="X2"), which fails on a perfect fit (a dispersion of zero).
        daily_dispersion = float(fit.pearson_chi2) / max(1.0, float(fit.df_resid))
        params: FloatArray = np.asarray(fit.params, dtype=np.float64)
        covariance: FloatArray = daily_dispersion * np.asarray(fit.cov_params(), dtype=np.float64)
        fitted_all: FloatArray = np.exp(design @ params)

    # Past holidays: the share of the model's value they received (0 for a closed lab).
    model_on_holidays = float(
        fitted_all[closed.holiday & np.isin(closed.weekday, open_weekdays)].sum()
    )
    holiday_share = (
        min(1.0, float(values[closed.holiday].sum()) / model_on_holidays)
        if model_on_holidays > 0
        else 0.0
    )
    weekly_dispersion = _weekly_dispersion(
        values, fitted_all, fitted_rows, closed.holiday, holiday_share, history
    )
    dispersion = max(daily_dispersion, weekly_dispersion)

    means, variances = np.zeros(len(weeks)), np.zeros(len(weeks))
    for index, monday in enumerate(weeks):
        days = [monday + timedelta(days=i) for i in range(7)]
        days = [d for d in days if d >= next_day]
        x = _design(days, first_day, terms, open_weekdays)
        factor = np.array(
            [
                0.0 if d.weekday() not in open_weekdays
                else (holiday_share if public_holiday(d) is not None else 1.0)
                for d in days
            ]
        )  # fmt: skip
        mu = np.exp(x @ params) * factor
        means[index] = float(mu.sum())
        gradient = mu @ x  # d(total)/d(params) under the log link
        variances[index] = float(gradient @ covariance @ gradient) + dispersion * means[index]
    return means, variances


def _weekly_dispersion(
    values: FloatArray,
    fitted: FloatArray,
    fitted_rows: npt.NDArray[np.bool_],
    holiday: npt.NDArray[np.bool_],
    holiday_share: float,
    history: Sequence[date],
) -> float:
    """Pearson dispersion of whole ISO weeks' sums: how far weeks stray from the model."""
    expected = np.where(fitted_rows, fitted, 0.0) + np.where(holiday, fitted * holiday_share, 0.0)
    start = (7 - history[0].weekday()) % 7  # the first Monday
    whole = (len(values) - start) // 7
    if whole < 2:
        return 0.0
    stop = start + whole * 7
    actual_weeks = values[start:stop].reshape(whole, 7).sum(axis=1)
    expected_weeks = expected[start:stop].reshape(whole, 7).sum(axis=1)
    positive = expected_weeks > 0
    if not positive.any():
        return 0.0
    residual = (actual_weeks[positive] - expected_weeks[positive]) ** 2 / expected_weeks[positive]
    return float(residual.mean())


def _flat(
    weeks: tuple[date, ...],
    per_day: float,
    half_width_per_day: float,
    known: float,
    next_day: date,
    method: str,
) -> WeeklyForecast:
    means, lowers, uppers = [], [], []
    for index, monday in enumerate(weeks):
        days = 7 - (next_day - monday).days if index == 0 else 7
        already = known if index == 0 else 0.0
        means.append(already + per_day * days)
        lowers.append(already + max(0.0, (per_day - half_width_per_day) * days))
        uppers.append(already + (per_day + half_width_per_day) * days)
    return WeeklyForecast(weeks, tuple(means), tuple(lowers), tuple(uppers), method)


def _mean_week(
    values: FloatArray, weeks: tuple[date, ...], known: float, next_day: date, method: str
) -> WeeklyForecast:
    """The history's mean day, +/-50% or its weekly spread if that is wider."""
    per_day = float(values.mean())
    whole = len(values) // 7
    spread = 0.0
    if whole >= 2:
        sums = values[len(values) - whole * 7 :].reshape(whole, 7).sum(axis=1)
        spread = _Z_80 * float(sums.std(ddof=1)) / 7.0
    half_width = max(_FALLBACK_RELATIVE_HALF_WIDTH * per_day, spread)
    return _flat(weeks, per_day, half_width, known, next_day, method)


def seasonal_naive_weekly(
    weekly: Sequence[float], horizon_weeks: int, season_weeks: int = 52
) -> list[float]:
    """The baseline: each coming week repeats the same week one season earlier."""
    if season_weeks < 1 or len(weekly) < season_weeks:
        raise ValidationError(
            f"a seasonal-naive forecast needs a season ({season_weeks} weeks) of history, "
            f"got {len(weekly)}"
        )
    last_season = list(weekly[len(weekly) - season_weeks :])
    return [float(last_season[h % season_weeks]) for h in range(horizon_weeks)]


def mase(
    actual: Sequence[float], predicted: Sequence[float], training: Sequence[float], season: int
) -> float:
    """Mean absolute scaled error: the forecast's mean absolute error over the in-sample one of
    the seasonal-naive forecast (lag ``season``) on ``training``. Under 1 beats that naive."""
    if len(actual) != len(predicted) or not actual:
        raise ValidationError(
            "actual and predicted need the same, non-zero length, "
            f"got {len(actual)} and {len(predicted)}"
        )
    if len(training) <= season:
        raise ValidationError(f"MASE needs more than {season} training values, got {len(training)}")
    naive_errors = [abs(training[t] - training[t - season]) for t in range(season, len(training))]
    scale = sum(naive_errors) / len(naive_errors)
    if scale == 0.0:
        raise ValidationError("MASE is undefined: the training series repeats itself exactly")
    errors = [abs(a - p) for a, p in zip(actual, predicted, strict=True)]
    return sum(errors) / len(errors) / scale


def shortfall_fte(demand_minutes: float, supply_minutes: float, minutes_per_fte: float) -> float:
    """(demand - planned supply) / capacity per FTE over the same span; negative is spare room."""
    if minutes_per_fte <= 0:
        raise ValidationError(f"capacity per FTE must be positive, got {minutes_per_fte}")
    return (demand_minutes - supply_minutes) / minutes_per_fte
