"""Benchmark: the demand forecast on held-out synthetic weeks against a seasonal-naive baseline.

    python -m benchmarks.forecast_accuracy [--seeds 1,2,3,4] [--years 3]

Per department, the synthetic daily demand in workload minutes (``synthetic_daily_minutes``:
the project's case stream, ``worklist.synthetic.case_stream`` with its weekday and month
factors, at the department's share of 120,000 cases a year, growing 1% a quarter, the Dutch
public holidays closed) over ``--years`` years from a Monday; the last 12 weeks are held out.
On the ISO weeks' totals it reports MASE (season 52 weeks, scaled by the training weeks'
in-sample seasonal-naive error) and MAPE of:

- ``model``: ``worklist.capacity.forecast.forecast_daily_demand`` (statsmodels GLM on days);
- ``seasonal-naive``: the same week a year before (the baseline);
- candidates considered for the model, each on weekly totals: ``ets`` (statsmodels Holt-Winters,
  additive trend and 52-week season) and ``sarimax`` (statsmodels SARIMAX(1,0,0), trend, yearly
  Fourier order 4 and the number of public holidays in the week as regressors);

with the 80% interval's coverage of the held-out weeks and the seconds per forecast, medians
over ``--seeds``. Then two shorter histories (two years, and 64 weeks: one year and the 12
held-out weeks, where MASE's scale has too few weeks and only MAPE is shown), and the speed
budget: the 19 forecasts of one report (region, 6 departments, 12 tumour groups: two years
daily) timed together. Writes ``benchmarks/results/forecast_accuracy.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from worklist.calendar import public_holiday
from worklist.capacity.forecast import forecast_daily_demand, mase, seasonal_naive_weekly
from worklist.snapshots import case_minutes
from worklist.synthetic import CYTOLOGY_SHARE, SITES, TUMOUR_GROUPS, case_stream
from worklist.workload import WorkloadModel

RESULTS = Path(__file__).parent / "results"
START = date(2023, 1, 2)  # a Monday
HELD_OUT_WEEKS = 12
REGION_CASES_PER_YEAR = 120_000
QUARTER_DAYS = 91
GROWTH_PER_QUARTER = 1.01

Forecaster = Callable[[list[float], date, int], tuple[list[float], list[float], list[float]]]


def synthetic_daily_minutes(
    department: str, *, weeks: int, seed: int, start: date = START
) -> list[float]:
    """Daily workload minutes of one department's synthetic cases, ``weeks`` weeks from ``start``.

    The case stream in quarters, each 1% busier than the one before (a trend the stream itself
    lacks); cases on a Dutch public holiday are dropped (the lab is closed, as in real history).
    """
    sizes = {code: size for code, (_, _, size) in SITES.items()}
    share = sizes[department] / sum(sizes.values())
    model = WorkloadModel()
    days = weeks * 7
    minutes = [0.0] * days
    for quarter, offset in enumerate(range(0, days, QUARTER_DAYS)):
        stream = case_stream(
            start=start + timedelta(days=offset),
            days=min(QUARTER_DAYS, days - offset),
            seed=seed * 1000 + 100 * list(SITES).index(department) + quarter,
            cases_per_year=REGION_CASES_PER_YEAR * share * GROWTH_PER_QUARTER**quarter,
            departments=(department,),
            scanned=False,
        )
        for case in stream:
            assert case.received_at is not None
            day = case.received_at.date()
            if public_holiday(day) is not None:
                continue
            minutes[(day - start).days] += case_minutes(model, case.category, case.priority)
    return minutes


def weekly_totals(daily: Sequence[float]) -> list[float]:
    """Sums of whole weeks (the series starts on a Monday)."""
    return [float(sum(daily[i : i + 7])) for i in range(0, len(daily) - 6, 7)]


def _model(train: list[float], first_day: date, horizon: int) -> tuple[list[float], ...]:
    result = forecast_daily_demand(train, first_day=first_day, horizon_weeks=horizon)
    return list(result.mean), list(result.lower_80), list(result.upper_80)


def _naive(train: list[float], first_day: date, horizon: int) -> tuple[list[float], ...]:
    mean = seasonal_naive_weekly(weekly_totals(train), horizon)
    return mean, mean, mean


def _holidays_per_week(first_monday: date, weeks: int) -> np.ndarray[Any, Any]:
    return np.array(
        [
            sum(
                public_holiday(first_monday + timedelta(days=7 * w + d)) is not None
                for d in range(5)
            )
            for w in range(weeks)
        ],
        dtype=float,
    )


def _fourier_weeks(first_monday: date, weeks: int, order: int) -> np.ndarray[Any, Any]:
    ordinals = np.array([(first_monday + timedelta(weeks=w)).toordinal() + 3 for w in range(weeks)])
    angle = 2 * np.pi * ordinals / 365.25
    return np.column_stack([f(k * angle) for k in range(1, order + 1) for f in (np.sin, np.cos)])


class NotApplicable(Exception):
    """The method cannot forecast from this history (its row says n/a)."""


def _ets(train: list[float], first_day: date, horizon: int) -> tuple[list[float], ...]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    weekly = np.array(weekly_totals(train))
    if len(weekly) < 104:
        raise NotApplicable("Holt-Winters needs two whole 52-week seasons")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            weekly, trend="add", seasonal="add", seasonal_periods=52,
            initialization_method="estimated",
        ).fit()  # fmt: skip
        mean = np.clip(fit.forecast(horizon), 0, None)
        sims = fit.simulate(horizon, repetitions=500, error="add", anchor="end")
    lower, upper = np.percentile(np.clip(sims, 0, None), [10, 90], axis=1)
    return list(mean), list(lower), list(upper)


def _sarimax(train: list[float], first_day: date, horizon: int) -> tuple[list[float], ...]:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    weekly = np.array(weekly_totals(train))
    n = len(weekly)
    # Constant and trend as regressors (trend="ct" inside SARIMAX mis-fits these levels).
    exog = np.column_stack(
        [
            np.ones(n + horizon),
            np.arange(n + horizon) / 52.0,
            _fourier_weeks(first_day, n + horizon, 4),
            _holidays_per_week(first_day, n + horizon),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SARIMAX(weekly, exog=exog[:n], order=(1, 0, 0), trend="n").fit(disp=False)
        prediction = fit.get_forecast(horizon, exog=exog[n:])
        interval = prediction.conf_int(alpha=0.2)
    mean = np.clip(prediction.predicted_mean, 0, None)
    return list(mean), list(np.clip(interval[:, 0], 0, None)), list(interval[:, 1])


METHODS: dict[str, Forecaster] = {
    "model": _model,
    "seasonal-naive": _naive,
    "ets": _ets,
    "sarimax": _sarimax,
}


def evaluate(
    daily: list[float], first_day: date, method: Forecaster, *, with_mase: bool
) -> dict[str, float]:
    """Hold out the last 12 weeks of ``daily`` and score ``method`` on their weekly totals."""
    train = daily[: len(daily) - HELD_OUT_WEEKS * 7]
    actual = weekly_totals(daily[len(train) :])
    started = time.perf_counter()
    try:
        mean, lower, upper = method(train, first_day, HELD_OUT_WEEKS)
    except NotApplicable:
        return dict.fromkeys(("mase", "mae", "mape_pct", "coverage_80_pct", "seconds"), math.nan)
    seconds = time.perf_counter() - started
    pairs = list(zip(actual, mean, strict=True))
    return {
        "mase": float(mase(actual, mean, weekly_totals(train), 52)) if with_mase else math.nan,
        "mae": statistics.fmean(abs(a - p) for a, p in pairs),
        "mape_pct": 100 * statistics.fmean(abs(a - p) / a for a, p in pairs),
        "coverage_80_pct": 100
        * statistics.fmean(
            float(lo <= a <= hi) for a, lo, hi in zip(actual, lower, upper, strict=True)
        ),
        "seconds": seconds,
    }


# Histories scored: (label, weeks of the series kept, counting the 12 held out, MASE shown).
HISTORIES = (("3 years", 156, True), ("2 years", 104, True), ("64 weeks", 64, False))


def demo_history_daily_minutes(*, weeks: int, seed: int) -> dict[str, list[float]]:
    """Daily workload minutes per department of ``worklist.synthetic_history`` (H6's demo
    history: thinned to a trend, LUMC growing fast), ``weeks`` weeks from ``START``."""
    from worklist.region import default_region
    from worklist.synthetic_history import generate_history

    end = START + timedelta(weeks=weeks)
    cases = generate_history(default_region(), today=end, days=weeks * 7, seed=seed)
    model = WorkloadModel()
    daily = {code: [0.0] * (weeks * 7) for code in SITES}
    for case in cases:
        offset = (case.received_at.date() - START).days
        if 0 <= offset < weeks * 7:
            daily[case.department][offset] += case_minutes(model, case.category, case.priority)
    return daily


def accuracy(
    series: dict[tuple[str, int], list[float]], seeds: Sequence[int], source: str
) -> list[dict[str, Any]]:
    """One row per (history, department, method) of ``series`` ((department, seed) -> days
    from ``START``): medians over the seeds."""
    total_weeks = min(len(daily) for daily in series.values()) // 7
    rows: list[dict[str, Any]] = []
    for label, weeks, with_mase in HISTORIES:
        if weeks > total_weeks:
            continue
        for code in SITES:
            scores: dict[str, list[dict[str, float]]] = {name: [] for name in METHODS}
            for seed in seeds:
                daily = series[code, seed]
                kept = daily[len(daily) - weeks * 7 :]
                first_day = START + timedelta(days=len(daily) - len(kept))
                for name, method in METHODS.items():
                    scores[name].append(evaluate(kept, first_day, method, with_mase=with_mase))
            # The seeds on which the model's held-out error is below the baseline's.
            wins = sum(
                m["mae"] < b["mae"]
                for m, b in zip(scores["model"], scores["seasonal-naive"], strict=True)
            )
            for name in METHODS:
                rows.append(
                    {
                        "source": source,
                        "history": label,
                        "department": code,
                        "method": name,
                        **{
                            key: statistics.median(s[key] for s in scores[name])
                            for key in ("mase", "mae", "mape_pct", "coverage_80_pct", "seconds")
                        },
                        "seeds": len(seeds),
                        "model_beats_baseline_seeds": wins if name == "model" else None,
                    }
                )
    return rows


_SPEED_RUN = """
import json, sys, time
from datetime import date
started, cpu_started = time.perf_counter(), time.process_time()
from worklist.capacity.forecast import forecast_daily_demand
every = json.load(open(sys.argv[1]))
for _ in range(2):
    for daily in every:
        forecast_daily_demand(daily, first_day=date.fromisoformat(sys.argv[2]))
    print(time.perf_counter() - started, time.process_time() - cpu_started)
    started, cpu_started = time.perf_counter(), time.process_time()
"""


def report_speed(weeks: int = 104, repeats: int = 5) -> dict[str, dict[str, float]]:
    """The 19 forecasts of one report (region, 6 departments, 12 tumour groups), timed.

    In fresh processes: ``cold`` includes importing the forecast module and statsmodels (the
    first report of a process pays it), ``warm`` is the same forecasts again. Best of
    ``repeats`` (the machine is shared: the best run is the one least disturbed), wall clock
    and CPU time, with OpenBLAS's default threads and with one (``OPENBLAS_NUM_THREADS=1``: on
    these small matrices its threads only wait for each other when the cores are busy).
    """
    departments = [synthetic_daily_minutes(code, weeks=weeks, seed=7) for code in SITES]
    region = [float(sum(day)) for day in zip(*departments, strict=True)]
    shares = [*TUMOUR_GROUPS.values(), CYTOLOGY_SHARE]
    groups = [[v * share for v in region] for share in shares]
    every = [region, *departments, *groups]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        series_file = Path(tmp) / "series.json"
        series_file.write_text(json.dumps(every))
        for label, threads in (("default BLAS threads", None), ("one BLAS thread", "1")):
            env = dict(os.environ)
            if threads:
                env["OPENBLAS_NUM_THREADS"] = threads
            runs = []
            for _ in range(repeats):
                done = subprocess.run(
                    [sys.executable, "-c", _SPEED_RUN, str(series_file), START.isoformat()],
                    capture_output=True, text=True, check=True, env=env,
                )  # fmt: skip
                runs.append([float(v) for v in done.stdout.split()])
            results[label] = {
                "series": len(every),
                "days": weeks * 7,
                "cold_s": min(r[0] for r in runs),
                "cold_cpu_s": min(r[1] for r in runs),
                "warm_s": min(r[2] for r in runs),
                "warm_cpu_s": min(r[3] for r in runs),
                "load_average_1min": os.getloadavg()[0],
            }
    return results


def daily_candidates_seconds(weeks: int = 104) -> dict[str, float]:
    """Seconds to fit the state-space candidates on one department's days (no forecast).

    Why they were not chosen: one fit costs more than all 19 forecasts of a report may. (MSTL
    drops a yearly period of 365 days from under 730 days of history, so it is not timed.)
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    daily = np.array(synthetic_daily_minutes("HMC", weeks=weeks, seed=7))
    timings: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, build in (
            (
                "unobserved_components_s",
                lambda: UnobservedComponents(
                    daily,
                    level="local linear trend",
                    freq_seasonal=[
                        {"period": 7, "harmonics": 3},
                        {"period": 365.25, "harmonics": 6},
                    ],
                ),
            ),
            (
                "sarimax_daily_s",
                lambda: SARIMAX(daily, order=(1, 0, 0), seasonal_order=(1, 0, 0, 7), trend="ct"),
            ),
        ):
            runs = []
            for _ in range(3):  # best of three: the machine is shared
                started = time.perf_counter()
                build().fit(disp=False)
                runs.append(time.perf_counter() - started)
            timings[name] = min(runs)
    return timings


def _markdown(
    rows: list[dict[str, Any]],
    speed: dict[str, dict[str, float]],
    daily_fits: dict[str, float],
    seeds: Sequence[int],
    history_seeds: Sequence[int],
) -> str:
    lines = [
        "# Demand forecast: held-out synthetic weeks against the seasonal-naive baseline",
        "",
        f"`python -m benchmarks.forecast_accuracy`, medians over seeds "
        f"{','.join(map(str, seeds))} (case_stream) and {','.join(map(str, history_seeds))} "
        f"(synthetic_history), {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.machine()}. Daily workload minutes per department from "
        "`worklist.synthetic.case_stream` (+1% a quarter, public holidays closed) and from "
        "`worklist.synthetic_history.generate_history` (the demo's history, 4% a year, LUMC "
        "35% a year, holidays nearly empty), three years from 2023-01-02; the last "
        f"{HELD_OUT_WEEKS} weeks held out; errors on ISO-week totals. MASE: season 52 weeks, "
        "scaled by the training weeks' seasonal-naive error (< 1 beats it in sample; the "
        "baseline's own held-out MASE is the bar). model = `forecast_daily_demand` "
        "(statsmodels GLM on days); ets = Holt-Winters on weeks; sarimax = SARIMAX(1,0,0) on "
        "weeks with trend, Fourier and holiday regressors. Coverage: share of held-out weeks "
        "inside the 80% interval. Wins: seeds on which the model's error is below the baseline's. "
        "ms: one forecast's wall time on this shared machine, noisy (the speed section at the "
        "end is the measurement).",
    ]
    for source, label, with_mase in [
        (source, label, with_mase)
        for source in dict.fromkeys(r["source"] for r in rows)
        for label, _, with_mase in HISTORIES
    ]:
        chosen = [r for r in rows if r["history"] == label and r["source"] == source]
        if not chosen:
            continue
        metric, unit = ("mase", "MASE") if with_mase else ("mape_pct", "MAPE %")
        # The two further columns: MAPE beside a MASE table, MAE (minutes) beside a MAPE one.
        extra, extra_unit = ("mape_pct", "MAPE %") if with_mase else ("mae", "MAE min")
        lines += [
            "",
            f"## {source}: {label} of history ({unit})",
            "",
            f"| department | model {unit} | seasonal-naive {unit} | ets {unit} | sarimax {unit} "
            f"| model {extra_unit} | naive {extra_unit} | model 80% coverage % "
            "| model ms | ets ms | sarimax ms | wins |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        by = {(r["department"], r["method"]): r for r in chosen}
        departments = list(dict.fromkeys(r["department"] for r in chosen))
        for code in [*departments, "median"]:
            if code == "median":
                cell = {
                    m: {
                        k: statistics.median(by[d, m][k] for d in departments)
                        for k in ("mase", "mae", "mape_pct", "coverage_80_pct", "seconds")
                    }
                    for m in METHODS
                }
                wins = f"{sum(by[d, 'model']['model_beats_baseline_seeds'] for d in departments)}"
                wins += f"/{sum(by[d, 'model']['seeds'] for d in departments)}"
            else:
                cell = {m: by[code, m] for m in METHODS}
                model_row = by[code, "model"]
                wins = f"{model_row['model_beats_baseline_seeds']}/{model_row['seeds']}"
            lines.append(
                f"| {code} | {cell['model'][metric]:.3f} | {cell['seasonal-naive'][metric]:.3f} "
                f"| {cell['ets'][metric]:.3f} | {cell['sarimax'][metric]:.3f} "
                f"| {cell['model'][extra]:.1f} | {cell['seasonal-naive'][extra]:.1f} "
                f"| {cell['model']['coverage_80_pct']:.0f} "
                f"| {1000 * cell['model']['seconds']:.1f} | {1000 * cell['ets']['seconds']:.0f} "
                f"| {1000 * cell['sarimax']['seconds']:.0f} | {wins} |".replace("| nan ", "| n/a ")
            )
    first = next(iter(speed.values()))
    lines += [
        "",
        "## Speed: the forecasts of one report",
        "",
        f"{first['series']:.0f} series (region, 6 departments, 12 tumour groups) of "
        f"{first['days']:.0f} days, in a fresh process: cold = importing statsmodels and the "
        "forecasts, warm = the same forecasts again; best of 5 runs, wall clock (CPU time). "
        "Budget: 4 s.",
        "",
        "| BLAS threads | cold s | warm s | load average (1 min) |",
        "|---|---:|---:|---:|",
        *[
            f"| {label} | {r['cold_s']:.2f} ({r['cold_cpu_s']:.2f}) | {r['warm_s']:.3f} "
            f"({r['warm_cpu_s']:.3f}) | {r['load_average_1min']:.1f} on {os.cpu_count()} cores |"
            for label, r in speed.items()
        ],
        "",
        "Candidates on days, one fit of one department's 728 days, best of 3 (19 of "
        f"them would take 19 times that): UnobservedComponents (local linear trend, weekly and "
        f"yearly harmonics) {daily_fits['unobserved_components_s']:.2f} s, SARIMAX(1,0,0)"
        f"(1,0,0,7) {daily_fits['sarimax_daily_s']:.2f} s. MSTL drops a 365-day period from "
        "under 730 days of history.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", default="1,2,3,4", help="comma-separated seeds (1,2,3,4)")
    parser.add_argument("--years", type=int, default=3, help="years of synthetic history (3)")
    parser.add_argument(
        "--history-seeds",
        default="1,2",
        help="seeds of worklist.synthetic_history's series (1,2; empty: skip, ~1 min a seed)",
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    speed = report_speed()  # first: its cold figure includes importing statsmodels
    weeks = 52 * args.years
    stream = {
        (code, seed): synthetic_daily_minutes(code, weeks=weeks, seed=seed)
        for code in SITES
        for seed in seeds
    }
    rows = accuracy(stream, seeds, "case_stream")
    history_seeds = [int(s) for s in args.history_seeds.split(",") if s]
    demo = {}
    for seed in history_seeds:
        for code, daily in demo_history_daily_minutes(weeks=weeks, seed=seed).items():
            demo[code, seed] = daily
    if demo:
        rows += accuracy(demo, history_seeds, "synthetic_history")
    daily_fits = daily_candidates_seconds()
    markdown = _markdown(rows, speed, daily_fits, seeds, history_seeds)
    RESULTS.mkdir(exist_ok=True)
    clean = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in rows
    ]
    data = {
        "seeds": seeds,
        "held_out_weeks": HELD_OUT_WEEKS,
        "rows": clean,
        "speed": speed,
        "daily_fits": daily_fits,
    }
    (RESULTS / "forecast_accuracy.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "forecast_accuracy.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
