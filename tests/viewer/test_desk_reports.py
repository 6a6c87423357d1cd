"""The Capacity reports page in Chromium: a lab manager picks a period and sees the headline
tables (realisation, norm, forecast), every chart drawn under the page's policy, the summary
and the files to download; axe-core finds nothing serious; a pathologist sees none of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Non-blank pixels of a chart's canvas: a drawn chart has axes and marks, an empty one none.
_INKED_PIXELS = """(canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
}"""


def test_a_lab_manager_reads_a_capacity_report(
    signed_in_page: Callable[..., Any], assert_accessible: Callable[[Any, str], None]
) -> None:
    errors: list[str] = []
    page = signed_in_page("manager")  # HMC's lab manager
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/desk/reports")
    page.get_by_role("heading", name="Capacity reports", level=1).wait_for()
    period = page.get_by_label("Period", exact=True)
    period.locator("option").nth(1).wait_for(state="attached")
    # The page opens on the last full week: the second week offered (the first is this one).
    week = period.input_value()
    assert week == period.locator("option").nth(1).get_attribute("value")
    page.get_by_role("status").filter(has_text=re.compile(f"^Report for {week}")).wait_for(
        timeout=90_000
    )

    region = page.get_by_role("table", name="Region:")
    headers = region.locator("thead th").all_inner_texts()
    assert headers == ["Metric (unit)", "Realisation", "Norm", "Forecast"]
    assert "Demand (workload minutes)" in region.locator("tbody").inner_text()
    tables = page.locator("#headline-tables table")
    assert tables.count() == 2  # the region and HMC: no other department
    page.get_by_role("table", name="HMC:").wait_for()
    assert page.locator("#summary li").count() >= 1
    groups = page.get_by_role("table", name="Per tumour group")
    assert groups.locator("thead th").first.inner_text() == "Tumour group"
    assert groups.locator("tbody tr").count() >= 5

    figures = page.locator("#charts figure")
    page.get_by_role("status").filter(has_text="charts drawn").wait_for(timeout=90_000)
    assert figures.count() >= 4
    for index in range(figures.count()):
        figure = figures.nth(index)
        assert figure.locator("figcaption").inner_text().strip()
        drawing = figure.get_by_role("img").locator("canvas")
        assert drawing.evaluate(_INKED_PIXELS) > 100, figure.get_attribute("data-chart")
    for name in ("HTML report", "Spreadsheet (XLSX", "Tables (CSV)"):
        assert f"period={week}" in (page.get_by_role("link", name=name).get_attribute("href") or "")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    assert_accessible(page, "desk-reports")

    # Another period: the month before this one.
    page.get_by_label("Period type").select_option("month")
    month = period.locator("option").nth(1).get_attribute("value")
    assert month is not None and period.input_value() == month
    page.get_by_role("button", name="Show report").click()
    page.get_by_role("status").filter(has_text=re.compile(f"^Report for {month}")).wait_for(
        timeout=90_000
    )
    link = page.get_by_role("link", name="Tables (CSV)").get_attribute("href") or ""
    assert f"period={month}" in link
    assert page.locator("#headline-tables table").count() == 2


def test_a_pathologist_cannot_reach_the_reports(signed_in_page: Callable[..., Any]) -> None:
    page = signed_in_page("hmc")
    page.goto("/desk/reports")
    alert = page.get_by_role("alert").filter(has_text="could not be shown")
    alert.wait_for(timeout=30_000)
    assert "lab_manager" in alert.inner_text()
    assert page.locator("#report").is_hidden()
    assert page.locator("#headline-tables table").count() == 0
