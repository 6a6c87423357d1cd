"""The capacity report: its JSON shape, figures checked by hand, edge cases."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.worklist.capacity.conftest import CaseRows, utc
from worklist.capacity.norm import CapacityNorm
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.seeding import ImportSummary

METRICS = (
    "demand_minutes",
    "demand_cases",
    "supply_minutes",
    "signed_out_minutes",
    "utilisation",
    "balance_gini",
    "wip_cases",
    "wip_minutes",
    "backlog_days",
    "overdue_cases",
    "tat_median_days",
    "tat_p80_days",
    "tat_p90_days",
    "pct_within_7_days",
    "pct_within_10_days",
    "pct_within_target",
    "shortfall_fte",
)
TODAY = date(2026, 12, 2)
# HMC-01 1.0 FTE (5 days), HMC-02 0.8 FTE (4 days), LUMC-01 0.9 FTE (5 days): minutes per FTE
# week 63,000 / 46.
FTE_WEEK = 63_000 / 46
NORM = CapacityNorm(department_fte={"HMC": 1.5, "LUMC": 1.0}, tumour_group_fte={"breast": 0.5})


def _report(engine: Engine, period: str = "2026-W47", **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("norm", NORM)
    with Session(engine) as session:
        return capacity_report(
            session, parse_period(period), today=TODAY, region_name="test region", **kwargs
        )


def _check_shape(report: dict[str, Any]) -> None:
    json.dumps(report, allow_nan=False)  # JSON-safe: raises on NaN / inf or a date
    assert set(report) == {
        "period",
        "today",
        "scope",
        "forecast_method",
        "region",
        "departments",
        "tumour_groups",
        "pathologists",
        "weekly",
        "tat_histogram",
        "summary",
    }
    for section in [report["region"], *report["departments"], *report["tumour_groups"]]:
        assert {"code", "name", "ageing", "tat_by_priority", "tat_by_category"} <= set(section)
        for metric in METRICS:
            assert set(section[metric]) == {"realisation", "norm", "forecast"}, metric
    entities = {"region"} | {d["code"] for d in report["departments"]}
    assert {row["entity"] for row in report["weekly"]} == entities
    for entity in entities:
        kinds = [row["kind"] for row in report["weekly"] if row["entity"] == entity]
        assert kinds == ["history"] * 52 + ["forecast"] * 12
    assert all(isinstance(sentence, str) for sentence in report["summary"])


def test_no_cases_at_all_gives_the_full_shape_with_nulls(
    engine: Engine, region_ids: ImportSummary
) -> None:
    report = _report(engine)
    _check_shape(report)
    region = report["region"]
    assert region["code"] == "region"
    assert region["name"] == "test region"
    assert region["demand_minutes"]["realisation"] == 0
    assert region["demand_cases"]["realisation"] == 0
    assert region["utilisation"]["realisation"] == 0
    assert region["tat_median_days"]["realisation"] is None
    assert region["pct_within_target"]["realisation"] is None
    assert region["demand_minutes"]["forecast"] is None
    assert region["wip_cases"]["realisation"] == 0
    assert region["ageing"] == {"0-2": 0, "3-5": 0, "6-7": 0, "8-10": 0, ">10": 0}
    assert [d["code"] for d in report["departments"]] == ["HMC", "LUMC"]
    assert [g["code"] for g in report["tumour_groups"]] == ["breast"]  # from the norm
    assert report["period"] == {
        "label": "2026-W47",
        "start": "2026-11-16",
        "stop": "2026-11-23",
        "weeks": ["2026-W47"],
    }
    assert report["today"] == "2026-12-02"
    assert report["forecast_method"] == "none: no demand history"
    assert all(r["demand_minutes"] is None for r in report["weekly"] if r["kind"] == "forecast")
    assert report["summary"][0].startswith("No department's forecast demand exceeds")


def test_the_region_is_the_sum_of_its_departments_and_tumour_groups(rows: CaseRows) -> None:
    rows.add(
        received_at=utc(2026, 11, 16),
        category=4,
        signed_out_at=utc(2026, 11, 18),
        pathologist="HMC-01",
    )
    rows.add(
        received_at=utc(2026, 11, 17),
        department="LUMC",
        tumour_group="haematopathology",
        category=6,
        pathologist="LUMC-01",
    )
    rows.add(received_at=utc(2026, 11, 20), tumour_group="dermatopathology", category=1)
    rows.add(received_at=utc(2026, 11, 10), tumour_group="dermatopathology")  # before W47
    report = _report(rows.engine)
    _check_shape(report)
    region = report["region"]["demand_minutes"]["realisation"]
    assert region == pytest.approx(38 + 86 + 7.7)
    for key in ("departments", "tumour_groups"):
        parts = sum(s["demand_minutes"]["realisation"] for s in report[key])
        assert math.isclose(parts, region), key
    assert report["region"]["demand_cases"]["realisation"] == 3


def test_an_unknown_department_or_tumour_group_is_refused(
    engine: Engine, region_ids: ImportSummary
) -> None:
    with pytest.raises(ValidationError, match="unknown department 'XYZ'"):
        _report(engine, department="XYZ")
    with pytest.raises(ValidationError, match="unknown tumour group 'astrology'"):
        _report(engine, tumour_group="astrology")


# -- 2026-W18 by hand: Monday 27 April is King's Day; LUMC-01 is on leave all week -----------
#
# Supply (minutes per FTE week 1369.57, a rostered day 273.91 for HMC-01 and HMC-02 and
# 0.9 x 1369.57 / 5 = 246.52 for LUMC-01): HMC-01 Tue-Fri 4 days = 1095.65; HMC-02 (not on
# Wednesdays) Tue, Thu, Fri = 821.74; HMC 1917.39; LUMC-01 on leave: 0.
DAY = FTE_WEEK / 5
HMC_SUPPLY = 7 * DAY


def _w18(rows: CaseRows) -> dict[str, int]:
    rows.absence("LUMC-01", date(2026, 4, 27), date(2026, 5, 3))
    return {
        "gi": rows.add(
            category=4,  # 38 minutes
            received_at=utc(2026, 4, 28),
            signed_out_at=utc(2026, 4, 30),
            pathologist="HMC-01",
        ),
        "derm": rows.add(
            tumour_group="dermatopathology",
            received_at=utc(2026, 4, 28),
            signed_out_at=utc(2026, 5, 1),
            pathologist="HMC-02",
        ),
        "open": rows.add(
            tumour_group="dermatopathology",
            category=1,  # 7.7 minutes; 4 days old at the end, not yet due
            received_at=utc(2026, 4, 29),
            pathologist="HMC-02",
        ),
        # LUMC's case from week 17, signed out by HMC-01 in week 18 (8 days).
        "shared": rows.add(
            department="LUMC",
            category=6,
            received_at=utc(2026, 4, 20),
            due_at=utc(2026, 4, 27),
            signed_out_at=utc(2026, 4, 28),
            pathologist="HMC-01",
        ),
        # Received on King's Day, due the next day: overdue at the end, 6 days old.
        "overdue": rows.add(
            department="LUMC",
            tumour_group="haematopathology",
            category=3,
            received_at=utc(2026, 4, 27),
            due_at=utc(2026, 4, 28),
        ),
    }


def _real(section: dict[str, Any], metric: str) -> Any:
    return section[metric]["realisation"]


def test_week_18_by_hand(rows: CaseRows) -> None:
    _w18(rows)
    report = _report(
        rows.engine,
        "2026-W18",
    )
    _check_shape(report)
    region = report["region"]
    hmc, lumc = report["departments"]
    groups = {g["code"]: g for g in report["tumour_groups"]}
    # Demand: what was received in the week.
    assert _real(region, "demand_minutes") == pytest.approx(38 + 15 + 7.7 + 20)
    assert _real(region, "demand_cases") == 4
    assert _real(hmc, "demand_minutes") == pytest.approx(60.7)
    assert _real(lumc, "demand_minutes") == 20
    assert _real(groups["gastro-intestinal"], "demand_minutes") == 38
    # ... by category (one case of each of 1-4; none of 5 and 6) and by priority.
    by_category = {r["category"]: (r["cases"], r["minutes"]) for r in region["demand_by_category"]}
    assert by_category == {1: (1, 7.7), 2: (1, 15), 3: (1, 20), 4: (1, 38), 5: (0, 0), 6: (0, 0)}
    by_priority = region["demand_by_priority"]
    assert [r["priority"] for r in by_priority] == [p.value for p in Priority]
    assert sum(r["cases"] for r in by_priority) == 4
    assert sum(r["minutes"] for r in by_priority) == pytest.approx(38 + 15 + 7.7 + 20)
    assert _real(groups["dermatopathology"], "demand_minutes") == pytest.approx(22.7)
    assert _real(groups["haematopathology"], "demand_minutes") == 20
    # Supply and its norm: budgeted FTE x minutes per FTE week x 1 week.
    assert _real(hmc, "supply_minutes") == pytest.approx(HMC_SUPPLY, abs=1e-3)
    assert _real(lumc, "supply_minutes") == 0
    assert _real(region, "supply_minutes") == pytest.approx(HMC_SUPPLY, abs=1e-3)
    assert hmc["supply_minutes"]["norm"] == pytest.approx(1.5 * FTE_WEEK, abs=1e-3)
    assert hmc["demand_minutes"]["norm"] == pytest.approx(1.5 * FTE_WEEK, abs=1e-3)
    assert region["supply_minutes"]["norm"] == pytest.approx(2.5 * FTE_WEEK, abs=1e-3)
    # Signed out: HMC's staff signed out 38 + 15 + 86 (LUMC's case) minutes.
    assert _real(hmc, "signed_out_minutes") == pytest.approx(139)
    assert _real(lumc, "signed_out_minutes") == 0
    assert _real(region, "signed_out_minutes") == pytest.approx(139)
    assert _real(hmc, "utilisation") == pytest.approx(139 / HMC_SUPPLY, abs=1e-4)
    assert _real(lumc, "utilisation") is None  # no supply: null, not 0 or infinity
    assert hmc["utilisation"]["norm"] == 0.85
    # Balance: HMC-01 124 / 1095.65, HMC-02 15 / 821.74; LUMC-01 (no supply) left out.
    high, low = 124 / (4 * DAY), 15 / (3 * DAY)
    assert _real(hmc, "balance_gini") == pytest.approx((high - low) / (2 * (high + low)), abs=1e-4)
    assert _real(region, "balance_gini") == _real(hmc, "balance_gini")
    assert _real(lumc, "balance_gini") is None
    assert _real(groups["gastro-intestinal"], "balance_gini") is None
    people = {p["code"]: p for p in report["pathologists"]}
    assert people["LUMC-01"]["utilisation"] is None
    assert people["LUMC-01"]["supply_minutes"] == 0
    assert people["HMC-01"]["signed_out_minutes"] == 124
    assert people["HMC-01"]["utilisation"] == pytest.approx(high, abs=1e-4)
    # Work in progress at the end of the week (Monday 4 May 00:00 in Amsterdam).
    assert (_real(region, "wip_cases"), _real(region, "wip_minutes")) == (2, pytest.approx(27.7))
    assert region["ageing"] == {"0-2": 0, "3-5": 1, "6-7": 1, "8-10": 0, ">10": 0}
    assert _real(region, "overdue_cases") == 1
    assert _real(lumc, "overdue_cases") == 1
    assert _real(hmc, "overdue_cases") == 0
    assert hmc["overdue_cases"]["norm"] == 0
    # Backlog: work in progress over the supply of an average working day (4 this week).
    assert _real(hmc, "backlog_days") == pytest.approx(7.7 / (HMC_SUPPLY / 4), abs=1e-4)
    assert _real(region, "backlog_days") == pytest.approx(27.7 / (HMC_SUPPLY / 4), abs=1e-4)
    assert _real(lumc, "backlog_days") is None
    # Shortfall: (demand - supply) / minutes per FTE week.
    assert _real(hmc, "shortfall_fte") == pytest.approx((60.7 - HMC_SUPPLY) / FTE_WEEK, abs=1e-4)
    assert hmc["shortfall_fte"]["norm"] == 0
    # The weekly series shows King's Day and the leave: history week 18 has the same supply.
    w18 = [r for r in report["weekly"] if r["week"] == "2026-W18"]
    assert {r["entity"]: r["supply_minutes"] for r in w18} == {
        "region": pytest.approx(HMC_SUPPLY, abs=1e-3),
        "HMC": pytest.approx(HMC_SUPPLY, abs=1e-3),
        "LUMC": 0,
    }
    assert {r["entity"]: r["demand_minutes"] for r in w18}["region"] == pytest.approx(80.7)


def test_narrowed_to_a_department(rows: CaseRows) -> None:
    _w18(rows)
    report = _report(rows.engine, "2026-W18", department="HMC")
    _check_shape(report)
    region, (hmc,) = report["region"], report["departments"]
    assert report["scope"] == {"department_code": "HMC", "tumour_group": None}
    # The narrowed "region" holds the department's figures, and its name says so.
    assert region["name"].startswith(f"{hmc['name']} (narrowed from ")
    for metric in ("demand_minutes", "supply_minutes", "signed_out_minutes", "wip_minutes"):
        assert _real(region, metric) == pytest.approx(_real(hmc, metric)), metric
    assert _real(region, "demand_minutes") == pytest.approx(60.7)
    assert region["demand_minutes"]["norm"] == pytest.approx(1.5 * FTE_WEEK, abs=1e-3)
    assert {p["code"] for p in report["pathologists"]} == {"HMC-01", "HMC-02"}
    assert {r["department_code"] for r in report["tat_histogram"]} == {"HMC"}
    groups = sum(_real(g, "demand_minutes") for g in report["tumour_groups"])
    assert groups == pytest.approx(60.7)


def test_narrowed_to_a_tumour_group(rows: CaseRows) -> None:
    _w18(rows)
    report = _report(rows.engine, "2026-W18", tumour_group="dermatopathology")
    _check_shape(report)
    region = report["region"]
    assert [g["code"] for g in report["tumour_groups"]] == ["dermatopathology"]
    assert report["tumour_groups"][0]["name"] == "Dermatopathology"
    assert _real(region, "demand_minutes") == pytest.approx(22.7)
    # HMC-01 gives half their supply to dermatopathology (two subspecialties), HMC-02 all.
    assert _real(region, "supply_minutes") == pytest.approx(0.5 * 4 * DAY + 3 * DAY, abs=1e-3)
    assert _real(region, "signed_out_minutes") == 15
    assert sum(_real(d, "demand_minutes") for d in report["departments"]) == pytest.approx(22.7)


def test_every_case_overdue(rows: CaseRows) -> None:
    for day in (16, 17, 18):
        rows.add(received_at=utc(2026, 11, day), due_at=utc(2026, 11, day, 12))
    report = _report(rows.engine)
    region = report["region"]
    assert _real(region, "overdue_cases") == _real(region, "wip_cases") == 3
    assert region["overdue_by_bucket"] == region["ageing"]
    assert any("3 case(s) were overdue at the end of 2026-11-22" in s for s in report["summary"])


def test_a_forecast_and_the_shortfall_it_shows(rows: CaseRows) -> None:
    # Twelve weeks before 2026-W47 of 20 complex resections (86 minutes) a weekday at HMC:
    # 8,600 minutes a week against HMC's 2,465: a shortfall of about 4.5 FTE.
    start = date(2026, 8, 24)
    weekdays = [
        start + timedelta(days=i)
        for i in range(7 * 13)
        if (start + timedelta(days=i)).weekday() < 5
    ]
    received = [
        datetime.combine(d, time(9), tzinfo=UTC) + timedelta(minutes=m)
        for d in weekdays
        for m in range(20)
    ]
    rows.add_many(received, category=6, signed_after=timedelta(days=3))
    report = _report(rows.engine)
    _check_shape(report)
    hmc = report["departments"][0]
    assert report["forecast_method"]
    forecast = hmc["demand_minutes"]["forecast"]
    assert forecast == pytest.approx(8600, rel=0.15)
    assert hmc["demand_cases"]["forecast"] == pytest.approx(100, rel=0.15)
    assert hmc["utilisation"]["forecast"] == pytest.approx(
        forecast / hmc["supply_minutes"]["realisation"], abs=1e-4
    )
    ahead = [r for r in report["weekly"] if r["entity"] == "HMC" and r["kind"] == "forecast"]
    assert all(r["lower_80"] <= r["demand_minutes"] <= r["upper_80"] for r in ahead)
    assert [r["week"] for r in ahead][:2] == ["2026-W48", "2026-W49"]
    # Christmas (Friday 25 December) takes a day from both HMC pathologists: 9 days -> 7.
    supply = {r["week"]: r["supply_minutes"] for r in ahead}
    assert supply["2026-W50"] == pytest.approx(9 * DAY, abs=1e-3)
    assert supply["2026-W52"] == pytest.approx(7 * DAY, abs=1e-3)
    assert hmc["shortfall_fte"]["forecast"] > 3
    assert hmc["shortfall_fte"]["realisation"] == pytest.approx(
        (8600 - 9 * DAY) / FTE_WEEK, rel=0.01
    )
    assert report["summary"][0].startswith("HMC: forecast demand exceeds planned supply by ")
    assert "because" in report["summary"][0]
    assert any(
        s.startswith("HMC: in 2026-W47 demand exceeded supply by ") and "utilisation" in s
        for s in report["summary"]
    )
    # No history before the period: no forecast of it.
    early = _report(rows.engine, "2026-W36")
    assert early["departments"][0]["demand_minutes"]["forecast"] is None


def test_json_safety() -> None:
    from worklist.capacity.report import _json_safe

    cleaned = _json_safe(
        {"a": math.nan, "b": [math.inf, -math.inf, 1.23456789], "c": date(2026, 1, 2)}
    )
    assert cleaned == {"a": None, "b": [None, None, 1.2346], "c": "2026-01-02"}
    json.dumps(cleaned, allow_nan=False)


def test_week_18_turnaround_by_hand(rows: CaseRows) -> None:
    _w18(rows)
    report = _report(rows.engine, "2026-W18")
    region = report["region"]
    hmc, lumc = report["departments"]
    # Signed out in week 18: HMC's 2.0 and 3.0 days, LUMC's 8.0 days (due 7 days earlier).
    assert _real(region, "tat_median_days") == 3.0
    # numpy's linear percentiles of [2, 3, 8]: P80 at 1.6 -> 3 + 0.6 x 5 = 6, P90 -> 7.
    assert _real(region, "tat_p80_days") == pytest.approx(6.0)
    assert _real(region, "tat_p90_days") == pytest.approx(7.0)
    assert _real(region, "pct_within_7_days") == pytest.approx(200 / 3, abs=1e-3)
    assert _real(region, "pct_within_10_days") == 100
    assert _real(region, "pct_within_target") == pytest.approx(200 / 3, abs=1e-3)
    assert region["tat_p80_days"]["norm"] == 7
    assert region["tat_p90_days"]["norm"] == 10
    assert region["pct_within_7_days"]["norm"] == 80
    assert region["pct_within_10_days"]["norm"] == 90
    assert _real(hmc, "tat_median_days") == 2.5
    assert _real(hmc, "pct_within_target") == 100
    assert _real(lumc, "tat_median_days") == 8
    assert _real(lumc, "pct_within_target") == 0
    routine = {row["priority"]: row for row in region["tat_by_priority"]}["routine"]
    assert (routine["cases"], routine["median_days"]) == (3, 3.0)
    assert routine["target"] == "80% within 7 calendar days; 90% within 10 calendar days"
    categories = {row["category"]: row for row in region["tat_by_category"]}
    assert (categories[6]["cases"], categories[6]["median_days"]) == (1, 8.0)
    assert categories[6]["pct_within_target"] == 0
    histogram = {
        (r["department_code"], r["days"]): r["cases"] for r in report["tat_histogram"] if r["cases"]
    }
    assert histogram == {("HMC", 2): 1, ("HMC", 3): 1, ("LUMC", 8): 1}
    assert len(report["tat_histogram"]) == 2 * 31


def test_a_paused_clock(rows: CaseRows) -> None:
    # Ten days from receipt to sign-out, four of them waiting on a molecular test: 6 days,
    # and the due time (7 days) moves by the four: signed out within target.
    rows.add(
        received_at=utc(2026, 11, 16),
        signed_out_at=utc(2026, 11, 26),
        pathologist="HMC-01",
        waits=[(utc(2026, 11, 17), utc(2026, 11, 21))],
    )
    report = _report(rows.engine, "2026-W48")
    hmc = report["departments"][0]
    assert _real(hmc, "tat_median_days") == pytest.approx(6.0)
    assert _real(hmc, "pct_within_7_days") == 100
    assert _real(hmc, "pct_within_target") == 100


def test_a_period_too_far_ahead_or_off_the_calendar_is_refused(
    engine: Engine, region_ids: ImportSummary
) -> None:
    with pytest.raises(ValidationError, match="more than two years after 2026-12-02"):
        _report(engine, "2029-Q1")
    with pytest.raises(ValidationError, match="too far from 2026-12-02"):
        _report(engine, "0001-W01")
    assert _report(engine, "2028-11")["period"]["label"] == "2028-11"
