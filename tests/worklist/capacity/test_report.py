"""The capacity report: its JSON shape, figures checked by hand, edge cases."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.worklist.capacity.conftest import CaseRows, utc
from worklist.capacity.norm import CapacityNorm
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
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
