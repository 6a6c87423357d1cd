"""The report's tables as data: numbers as numbers, days as dates, utilisation in percent."""

from __future__ import annotations

from datetime import date

import pytest

from services.reporting.tables import METRICS, Kind, report_tables
from tests.services.reporting.sample import empty_report, sample_report

NAMES = [
    "summary",
    "report",
    "metrics",
    "ageing",
    "demand_by_priority",
    "demand_by_category",
    "tat_by_priority",
    "tat_by_category",
    "pathologists",
    "weekly",
    "tat_histogram",
]


def _table(name: str, report: dict | None = None):  # type: ignore[no-untyped-def]
    return next(t for t in report_tables(report or sample_report()) if t.name == name)


def test_the_tables_in_reading_order_every_row_as_wide_as_its_columns() -> None:
    tables = report_tables(sample_report())
    assert [t.name for t in tables] == NAMES
    for table in tables:
        assert len({c.key for c in table.columns}) == len(table.columns)
        assert all(len(row) == len(table.columns) for row in table.rows), table.name


def test_metrics_side_by_side_realisation_norm_forecast_for_every_entity() -> None:
    table = _table("metrics")
    # region + 2 departments + 1 tumour group, every metric of the contract
    assert len(table.rows) == 4 * len(METRICS)
    records = list(table.records())
    hmc_demand = next(r for r in records if r["code"] == "HMC" and r["metric"] == "demand_minutes")
    assert hmc_demand["level"] == "department"
    assert (hmc_demand["realisation"], hmc_demand["norm"]) == (1000.0, 2400.0)
    assert hmc_demand["forecast"] == pytest.approx(1100.0)
    used = next(r for r in records if r["code"] == "region" and r["metric"] == "utilisation")
    assert (used["realisation"], used["norm"], used["forecast"]) == (75.0, 85.0, 80.0)
    assert used["unit"] == "%"
    cases = next(r for r in records if r["code"] == "LUMC" and r["metric"] == "demand_cases")
    assert isinstance(cases["realisation"], int) and cases["realisation"] == 25
    within = next(r for r in records if r["metric"] == "pct_within_target")
    assert within["realisation"] is None and within["norm"] == 90.0
    assert [r["level"] for r in records if r["metric"] == "shortfall_fte"] == [
        "region",
        "department",
        "department",
        "tumour group",
    ]


def test_a_metric_the_report_adds_later_still_gets_a_row() -> None:
    report = sample_report()
    report["region"]["new_measure_minutes"] = {"realisation": 5, "norm": None, "forecast": None}
    rows = [r for r in _table("metrics", report).records() if r["metric"] == "new_measure_minutes"]
    assert len(rows) == 1 and rows[0]["realisation"] == 5


def test_ageing_weekly_pathologists_and_histogram() -> None:
    ageing = list(_table("ageing").records())
    assert ageing[1]["code"] == "HMC"
    assert [ageing[1][b] for b in ("0-2", "3-5", "6-7", "8-10", ">10")] == [3, 2, 1, 0, 1]
    assert (ageing[1]["wip_cases"], ageing[1]["overdue_cases"]) == (7, 2)
    weekly = _table("weekly")
    assert next(c for c in weekly.columns if c.key == "week_start").kind is Kind.DATE
    first = next(weekly.records())
    assert first["week_start"] == date(2026, 10, 26)
    assert (first["demand_minutes"], first["demand_cases"]) == (3000.0, 20)
    people = list(_table("pathologists").records())
    assert [p["utilisation_pct"] for p in people] == [75.0, 120.0, None]
    histogram = _table("tat_histogram")
    assert len(histogram.rows) == 62
    about = next(_table("report").records())
    assert (about["first_day"], about["last_day"]) == (date(2026, 11, 16), date(2026, 11, 22))


def test_turnaround_by_priority_and_category() -> None:
    priority = list(_table("tat_by_priority").records())
    assert len(priority) == 4 * 2
    urgent = priority[1]
    assert (urgent["priority"], urgent["cases"], urgent["median_days"]) == ("urgent", 0, None)
    assert urgent["target"] == "2 working days"
    category = list(_table("tat_by_category").records())
    assert category[0]["category"] == 2 and "target" not in category[0]


def test_an_empty_report_has_its_tables_with_no_rows_to_speak_of() -> None:
    tables = {t.name: t for t in report_tables(empty_report())}
    assert list(tables) == NAMES
    assert tables["summary"].rows == ()
    assert tables["weekly"].rows == () and tables["pathologists"].rows == ()
    assert len(tables["metrics"].rows) == len(METRICS)
    assert all(r[-3:] == (None, None, None) for r in tables["metrics"].rows)
    about = next(tables["report"].records())
    assert about["forecast_method"].startswith("none")


def test_demand_by_priority_and_category_per_entity() -> None:
    records = list(_table("demand_by_priority").records())
    routine = next(r for r in records if r["code"] == "region" and r["priority"] == "routine")
    assert isinstance(routine["cases"], int) and routine["minutes"] == 20.0 * routine["cases"]
    assert {r["priority"] for r in records} == {"routine", "urgent"}
    (category,) = [r for r in _table("demand_by_category").records() if r["code"] == "region"]
    assert category["category"] == 3
