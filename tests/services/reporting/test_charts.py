"""The report's charts: Vega-Lite v6 specs that vl-convert compiles and draws, for a small
report, for one with nothing in it and for the report of a database without cases."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import vl_convert
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.reporting.charts import SCHEMA, capacity_charts
from tests.services.reporting.sample import empty_report, sample_report
from tests.worklist.conftest import database_url, engine, region_ids  # noqa: F401 - fixtures
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.seeding import ImportSummary

NAMES = ["demand_supply", "backlog_ageing", "tat_distribution", "utilisation"]


def _values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every inline datum of a spec, its layers' too."""
    found = list(spec.get("data", {}).get("values", []))
    for layer in spec.get("layer", []) + spec.get("spec", {}).get("layer", []):
        found += _values(layer)
    return found


def _mark_count(svg: str) -> int:
    return svg.count('class="mark-')


def _compiles_and_draws(report: dict[str, Any]) -> None:
    charts = capacity_charts(report)
    assert [c.name for c in charts] == NAMES
    for chart in charts:
        spec = chart.spec
        assert spec["$schema"] == SCHEMA
        assert spec["title"]["text"] == chart.title
        assert isinstance(spec["description"], str) and len(spec["description"]) > 40
        text = json.dumps(spec)
        assert '"url"' not in text, f"{chart.name} fetches its data"
        vega = vl_convert.vegalite_to_vega(spec)
        assert vega["$schema"].startswith("https://vega.github.io/schema/vega/v6")
        svg = vl_convert.vegalite_to_svg(spec)
        assert svg.startswith("<svg") and _mark_count(svg) > 0, chart.name
        assert chart.as_dict() == {"name": chart.name, "title": chart.title, "spec": spec}


def test_the_charts_of_a_small_report_compile_and_draw() -> None:
    _compiles_and_draws(sample_report())


def test_the_charts_of_an_empty_report_compile_and_draw() -> None:
    _compiles_and_draws(empty_report())


def test_the_charts_of_a_database_without_cases_compile_and_draw(
    engine: Engine,  # noqa: F811
    region_ids: ImportSummary,  # noqa: F811
) -> None:
    with Session(engine) as session:
        report = capacity_report(session, parse_period("2026-W47"), today=date(2026, 12, 2))
    _compiles_and_draws(report)


def test_demand_and_supply_carry_every_week_with_the_band_on_the_forecast_only() -> None:
    spec = capacity_charts(sample_report())[0].spec
    values = spec["data"]["values"]
    # 3 entities x 6 weeks x (demand, supply)
    assert len(values) == 3 * 6 * 2
    hmc = [v for v in values if v["entity"].startswith("HMC (")]
    recorded = [v for v in hmc if v["series"] == "Demand, recorded"]
    forecast = [v for v in hmc if v["series"] == "Demand, forecast"]
    assert [v["minutes"] for v in recorded] == [1000.0, 1010.0, 1020.0, 1030.0]
    assert [(v["lower_80"], v["upper_80"]) for v in forecast] == [(800.0, 1200.0)] * 2
    assert all(v["lower_80"] is None for v in recorded)
    assert spec["facet"]["row"]["sort"][0] == "Region (Test region)"
    # The period is shaded.
    band = spec["spec"]["layer"][0]["data"]["values"]
    assert band == [{"start": "2026-11-16", "stop": "2026-11-23"}]


def test_ageing_stacks_the_five_buckets_per_department() -> None:
    spec = capacity_charts(sample_report())[1].spec
    rows = spec["data"]["values"]
    assert [(r["department"], r["bucket"], r["cases"]) for r in rows[:5]] == [
        ("HMC", "0-2 days", 3),
        ("HMC", "3-5 days", 2),
        ("HMC", "6-7 days", 1),
        ("HMC", "8-10 days", 0),
        ("HMC", ">10 days", 1),
    ]
    assert len(rows) == 10
    assert spec["encoding"]["color"]["scale"]["domain"][-1] == ">10 days"


def test_turnaround_has_rules_at_7_and_10_days_and_the_last_bar_is_or_more() -> None:
    spec = capacity_charts(sample_report())[2].spec
    bars, rules, labels = spec["layer"]
    assert [r["days"] for r in rules["data"]["values"]] == [7, 10]
    assert rules["mark"]["type"] == "rule"
    assert [r["label"] for r in labels["data"]["values"]] == ["7-day target", "10-day target"]
    last = [v for v in bars["data"]["values"] if v["days"] == 30]
    assert {v["label"] for v in last} == {"30+"}
    assert sum(v["cases"] for v in bars["data"]["values"]) == sum(d % 5 for d in range(31)) + 31


def test_utilisation_is_in_percent_against_the_target() -> None:
    spec = capacity_charts(sample_report())[3].spec
    bars, target = spec["layer"]
    assert [v["utilisation_pct"] for v in bars["data"]["values"]] == [75.0, 120.0, None]
    assert target["data"]["values"][0]["target_pct"] == pytest.approx(85.0)
    assert "85%" in spec["description"]


def test_without_a_target_utilisation_draws_no_rule() -> None:
    report = sample_report()
    report["region"]["utilisation"]["norm"] = None
    spec = capacity_charts(report)[3].spec
    assert len(spec["layer"]) == 1
    assert "no target" in spec["description"]
