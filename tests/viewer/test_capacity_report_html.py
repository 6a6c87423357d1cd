"""The capacity report's HTML file in Chromium, opened from disk with the network cut: no
console error, no request leaving the file, every chart drawn (an SVG with its marks), axe-core
clean, and a screenshot (test-artifacts/screenshots/capacity-report-html.png).

The report is made from a database (a year of the demo's synthetic history on the small test
region), as ``coupe report --format html`` makes it; the hand-made report with hostile names
shows that no text of it runs as markup; and the same specs draw with the web app's own
vega-lite and expression interpreter (no eval), as the Reports page draws them.
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
from tests.services.reporting.sample import HOSTILE_NAME, empty_report, sample_report
from tests.worklist.conftest import (  # noqa: F401 - fixtures
    SMALL_REGION,
    database_url,
    engine,
    region_ids,
)
from worklist.actor import Actor
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.db import run_in_transaction
from worklist.region import parse_region
from worklist.seeding import ImportSummary
from worklist.synthetic_history import generate_history
from worklist.synthetic_history_insert import insert_history

TODAY = date(2026, 12, 2)

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
    """The report of 2026-W47 on a year of synthetic history of the small test region (the
    demo's generator, scaled to its three pathologists), as ``coupe report`` makes it."""
    region = parse_region(SMALL_REGION, source="small-region.toml")
    history = generate_history(
        region, today=TODAY, end=TODAY - timedelta(days=7), days=364, seed=3, cases_per_year=2600
    )
    run_in_transaction(engine, lambda s: insert_history(s, history, actor=Actor.system()))
    with Session(engine) as session:
        return capacity_report(session, parse_period("2026-W47"), today=TODAY)


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
        # Grouped by entity: a heading row, then its metrics.
        rows = page.locator('table[data-table="metrics"] tbody tr')
        assert rows.nth(0).inner_text().startswith("Region Regionale digitale pathologie")
        assert rows.nth(1).inner_text().split("\t")[:2] == ["Demand", "minutes"]
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


# The web app's own libraries (viewer/node_modules, pinned by its lockfile), served under a
# made-up origin: the Reports page draws these very specs with them, without eval.
VENDOR = Path(__file__).resolve().parents[2] / "viewer" / "node_modules"
CHART_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>charts</title>
<script type="importmap">{"imports": {"vega-util": "/vega-util/build/index.js"}}</script>
<script src="/vega/build/vega.min.js"></script>
<script src="/vega-lite/build/vega-lite.min.js"></script>
<script type="module">
import { expressionInterpreter } from "/vega-interpreter/build/vega-interpreter.js";
window.drawSvg = async (spec) => {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled, null, { ast: true }), {
    expr: expressionInterpreter, renderer: "none",
  });
  return await view.toSVG();
};
window.ready = true;
</script></head><body></body></html>"""


def test_the_specs_draw_with_the_web_apps_vega_lite_and_no_eval(
    browser: Any,
    database_report: dict[str, Any],
) -> None:
    origin = "http://charts.test"
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(origin)
        if path == "/":
            route.fulfill(body=CHART_PAGE, content_type="text/html")
            return
        file = (VENDOR / path.lstrip("/")).resolve()
        if VENDOR in file.parents and file.is_file():
            route.fulfill(path=str(file), content_type="text/javascript")
        else:
            errors.append(f"not found: {path}")
            route.abort()

    context.route("**/*", serve)
    try:
        page.goto(origin + "/")
        page.wait_for_function("window.ready === true")
        version = page.evaluate("vegaLite.version")
        assert version.startswith("6."), version
        for report in (database_report, sample_report(), empty_report()):
            for chart in capacity_charts(report):
                svg = page.evaluate("spec => window.drawSvg(spec)", chart.spec)
                assert 'class="mark-' in svg, chart.name
        assert errors == []
    finally:
        context.close()
