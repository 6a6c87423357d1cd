"""The capacity report's HTML file in Chromium, opened from disk with the network cut: no
console error, no request leaving the file, every chart drawn (an SVG with its marks), axe-core
clean, and a screenshot (test-artifacts/screenshots/capacity-report-html.png).

The report is made from a database (the small region with ten weeks of cases and a week of
its own), as ``coupe report --format html`` makes it; the hand-made report with hostile names
shows that no text of it runs as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.reporting.charts import capacity_charts
from services.reporting.html import render_html
from tests.services.reporting.sample import HOSTILE_NAME, sample_report
from tests.worklist.capacity.conftest import CaseRows, utc
from tests.worklist.conftest import database_url, engine, region_ids  # noqa: F401 - fixtures
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.seeding import ImportSummary

# The marks each chart must draw: its data, not only its axes.
CHART_MARKS = {
    "demand_supply": ("mark-line", "mark-area"),
    "backlog_ageing": ("mark-rect",),
    "tat_distribution": ("mark-rect", "mark-rule"),
    "utilisation": ("mark-rect", "mark-rule"),
}


@pytest.fixture
def database_report(
    engine: Engine,  # noqa: F811 - pytest's fixture injection
    region_ids: ImportSummary,  # noqa: F811
) -> dict[str, Any]:
    rows = CaseRows(engine, region_ids)
    first = date(2026, 9, 7)
    days = [first + timedelta(days=d) for d in range(75)]
    weekdays = [d for d in days if d.weekday() < 5]
    rows.add_many([utc(d.year, d.month, d.day) for d in weekdays], signed_after=timedelta(days=3))
    rows.add_many(
        [utc(d.year, d.month, d.day, 10) for d in weekdays[::2]],
        department="LUMC",
        tumour_group="haematopathology",
        signed_after=timedelta(days=9),
    )
    rows.add_many([utc(2026, 11, 18, 11)] * 4, department="LUMC")  # in progress, unassigned
    rows.add(received_at=utc(2026, 11, 10), pathologist="HMC-01")  # in progress, 12 days old
    rows.add(received_at=utc(2026, 11, 16), signed_out_at=utc(2026, 11, 19), pathologist="HMC-02")
    with Session(engine) as session:
        return capacity_report(session, parse_period("2026-W47"), today=date(2026, 12, 2))


def _open_offline(browser: Any, path: Path) -> tuple[Any, Any, list[str], list[str]]:
    """A page on the file; every other request is refused and recorded (the list returned)."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    refused: list[str] = []
    own = path.as_uri()

    def only_the_file(route: Any) -> None:
        if route.request.url == own:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    context.route("**/*", only_the_file)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page, errors, refused


def _check_charts(page: Any, report: dict[str, Any]) -> None:
    charts = capacity_charts(report)
    assert page.locator("figure[data-chart] svg").count() == len(charts)
    for chart in charts:
        figure = page.locator(f'figure[data-chart="{chart.name}"]')
        svg = figure.locator("svg")
        assert svg.get_attribute("role") == "img"
        assert svg.get_attribute("aria-label") == chart.spec["description"]
        box = svg.bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 150, chart.name
        for mark in CHART_MARKS[chart.name]:
            drawn = svg.locator(f"g.{mark} > *")
            assert drawn.count() > 0, f"{chart.name}: no {mark}"


def test_the_html_report_opens_offline_with_every_chart_drawn(
    browser: Any,
    database_report: dict[str, Any],
    tmp_path: Path,
    assert_accessible: Callable[[Any, str], None],
) -> None:
    path = tmp_path / "capacity-2026-W47.html"
    path.write_text(render_html(database_report), encoding="utf-8")
    context, page, errors, refused = _open_offline(browser, path)
    try:
        assert page.get_by_role("heading", name="Summary").is_visible()
        assert (
            page.get_by_role("heading", level=1).inner_text().startswith("Capacity report 2026-W47")
        )
        _check_charts(page, database_report)
        assert page.locator("table").count() >= 7
        first_metric = page.locator('table[data-table="metrics"] tbody tr').first
        assert "Demand" in first_metric.inner_text()
        assert_accessible(page, "capacity-report-html")
        assert errors == []
        assert refused == [], "the file asked for something beyond itself"
    finally:
        context.close()


def test_no_text_of_the_report_runs_as_markup(browser: Any, tmp_path: Path) -> None:
    report = sample_report()
    path = tmp_path / "sample.html"
    path.write_text(render_html(report), encoding="utf-8")
    context, page, errors, refused = _open_offline(browser, path)
    try:
        page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
        assert page.locator("script").count() == 0
        assert page.locator("b").count() == 0
        cell = page.locator('table[data-table="pathologists"] tbody tr').first
        assert HOSTILE_NAME in cell.inner_text()
        assert "because <b>demand</b> grew" in page.locator("ul.summary").inner_text()
        _check_charts(page, report)
        assert errors == []
        assert refused == []
    finally:
        context.close()
