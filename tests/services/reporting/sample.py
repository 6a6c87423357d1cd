"""Hand-made capacity reports in the contract's shape (docs/plans/capacity-planning.md, "The
report JSON"), for the renderers' tests: a small one whose figures the tests know, and one with
no cases at all.

The small report has two departments (HMC, LUMC) and one tumour group, three pathologists (one
with a name that is HTML, one that a spreadsheet would take for a formula), four recorded and
two forecast weeks, and a summary sentence with markup in it: all of it must come out as text.
"""

from __future__ import annotations

import copy
from typing import Any

HOSTILE_NAME = "dr. <script>alert(1)</script> & Zn"
FORMULA_NAME = '=HYPERLINK("http://example.invalid","x")'
WEEKS = (
    ("2026-W44", "2026-10-26"),
    ("2026-W45", "2026-11-02"),
    ("2026-W46", "2026-11-09"),
    ("2026-W47", "2026-11-16"),
)
FORECAST_WEEKS = (("2026-W48", "2026-11-23"), ("2026-W49", "2026-11-30"))


def metric(realisation: Any, norm: Any = None, forecast: Any = None) -> dict[str, Any]:
    return {"realisation": realisation, "norm": norm, "forecast": forecast}


def section(code: str, name: str, *, demand: float, cases: int, supply: float) -> dict[str, Any]:
    """One entity's metrics and detail; demand, cases and supply as given, the rest fixed."""
    return {
        "code": code,
        "name": name,
        "demand_minutes": metric(demand, 2400.0, round(demand * 1.1, 4)),
        "demand_cases": metric(cases, None, cases + 1.5),
        "supply_minutes": metric(supply, 2400.0),
        "signed_out_minutes": metric(demand * 0.9),
        "utilisation": metric(0.75, 0.85, 0.8),
        "balance_gini": metric(0.125),
        "wip_cases": metric(7),
        "wip_minutes": metric(350.5),
        "backlog_days": metric(1.5, 3.0),
        "overdue_cases": metric(2, 0),
        "tat_median_days": metric(4.25),
        "tat_p80_days": metric(6.5, 7),
        "tat_p90_days": metric(9.0, 10),
        "pct_within_7_days": metric(82.5, 80.0),
        "pct_within_10_days": metric(91.0, 90.0),
        "pct_within_target": metric(None, 90.0),
        "shortfall_fte": metric(-0.25, 0.0, 0.4),
        "ageing": {"0-2": 3, "3-5": 2, "6-7": 1, "8-10": 0, ">10": 1},
        "overdue_by_bucket": {"0-2": 0, "3-5": 0, "6-7": 1, "8-10": 0, ">10": 1},
        "demand_by_priority": [
            {"priority": "routine", "cases": cases, "minutes": 20.0 * cases},
            {"priority": "urgent", "cases": 0, "minutes": 0.0},
        ],
        "demand_by_category": [{"category": 3, "cases": cases, "minutes": 20.0 * cases}],
        "tat_by_priority": [
            {
                "priority": "routine",
                "cases": cases,
                "median_days": 4.25,
                "p80_days": 6.5,
                "p90_days": 9.0,
                "pct_within_target": 80.0,
                "target": "80% within 7 calendar days",
            },
            {
                "priority": "urgent",
                "cases": 0,
                "median_days": None,
                "p80_days": None,
                "p90_days": None,
                "pct_within_target": None,
                "target": "2 working days",
            },
        ],
        "tat_by_category": [
            {
                "category": 2,
                "cases": cases,
                "median_days": 4.25,
                "p80_days": 6.5,
                "p90_days": 9.0,
                "pct_within_target": 80.0,
                "target": None,
            }
        ],
    }


def _weekly(entity: str, demand: float, supply: float) -> list[dict[str, Any]]:
    rows = [
        {
            "entity": entity,
            "week": week,
            "week_start": monday,
            "kind": "history",
            "demand_minutes": demand + 10 * i,
            "demand_cases": 20 + i,
            "supply_minutes": supply,
            "lower_80": None,
            "upper_80": None,
        }
        for i, (week, monday) in enumerate(WEEKS)
    ]
    rows += [
        {
            "entity": entity,
            "week": week,
            "week_start": monday,
            "kind": "forecast",
            "demand_minutes": demand,
            "demand_cases": None,
            "supply_minutes": supply,
            "lower_80": demand * 0.8,
            "upper_80": demand * 1.2,
        }
        for week, monday in FORECAST_WEEKS
    ]
    return rows


def sample_report() -> dict[str, Any]:
    """The small report (a fresh copy: a test may change it)."""
    report: dict[str, Any] = {
        "period": {
            "label": "2026-W47",
            "start": "2026-11-16",
            "stop": "2026-11-23",
            "weeks": ["2026-W47"],
        },
        "today": "2026-12-02",
        "forecast_method": "statsmodels GLM (quasi-Poisson), day of week",
        "region": section("region", "Test region", demand=3000.0, cases=40, supply=4000.0),
        "departments": [
            section("HMC", "Haaglanden Medisch Centrum", demand=1000.0, cases=15, supply=2000.0),
            section("LUMC", "Leids Universitair MC", demand=2000.0, cases=25, supply=2000.0),
        ],
        "tumour_groups": [
            section(
                "gastro-intestinal", "Gastro-intestinal", demand=3000.0, cases=40, supply=4000.0
            )
        ],
        "pathologists": [
            {
                "code": "HMC-01",
                "name": HOSTILE_NAME,
                "department_code": "HMC",
                "fte": 1.0,
                "supply_minutes": 2000.0,
                "signed_out_minutes": 1500.0,
                "utilisation": 0.75,
            },
            {
                "code": "LUMC-01",
                "name": FORMULA_NAME,
                "department_code": "LUMC",
                "fte": 0.9,
                "supply_minutes": 2000.0,
                "signed_out_minutes": 2400.0,
                "utilisation": 1.2,
            },
            {
                "code": "LUMC-02",
                "name": "dr. Z. Null",
                "department_code": "LUMC",
                "fte": 0.0,
                "supply_minutes": 0.0,
                "signed_out_minutes": 0.0,
                "utilisation": None,
            },
        ],
        "weekly": [
            *_weekly("region", 3000.0, 4000.0),
            *_weekly("HMC", 1000.0, 2000.0),
            *_weekly("LUMC", 2000.0, 2000.0),
        ],
        "tat_histogram": [
            {"department_code": code, "days": day, "cases": (day % 5) if code == "HMC" else 1}
            for code in ("HMC", "LUMC")
            for day in range(31)
        ],
        "summary": [
            "LUMC: forecast demand exceeds planned supply by 0.4 FTE, because <b>demand</b> grew.",
            "2 case(s) were overdue at the end of 2026-11-22.",
        ],
    }
    return copy.deepcopy(report)


def empty_report() -> dict[str, Any]:
    """A report with no cases, no staff and no departments: every figure null or zero."""
    region = section("region", "Empty region", demand=0.0, cases=0, supply=0.0)
    for key, value in region.items():
        if isinstance(value, dict) and "realisation" in value:
            region[key] = metric(None)
    region["ageing"] = dict.fromkeys(("0-2", "3-5", "6-7", "8-10", ">10"), 0)
    region["tat_by_priority"] = []
    region["tat_by_category"] = []
    return {
        "period": {"label": "2026-11", "start": "2026-11-01", "stop": "2026-12-01", "weeks": []},
        "today": "2026-12-02",
        "forecast_method": None,
        "region": region,
        "departments": [],
        "tumour_groups": [],
        "pathologists": [],
        "weekly": [],
        "tat_histogram": [],
        "summary": [],
    }
