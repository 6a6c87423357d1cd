"""The report files read back: the XLSX with openpyxl, the CSV with the csv module, the HTML
as text, the JSON as JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]

from services.reporting.csv_export import render_csv
from services.reporting.files import ReportFormat, render_report
from services.reporting.html import format_value, render_html
from services.reporting.tables import Kind, report_tables
from services.reporting.xlsx import render_xlsx
from tests.services.reporting.sample import (
    FORMULA_NAME,
    HOSTILE_NAME,
    empty_report,
    sample_report,
)


def test_the_workbook_has_one_sheet_per_table_with_numbers_as_numbers() -> None:
    report = sample_report()
    book = load_workbook(io.BytesIO(render_xlsx(report)))
    tables = report_tables(report)
    assert book.sheetnames == [t.name for t in tables]
    for table in tables:
        sheet = book[table.name]
        assert sheet.freeze_panes == "A2"
        assert [c.value for c in sheet[1]] == [c.title for c in table.columns]
        assert sheet.max_row == len(table.rows) + 1
    metrics = book["metrics"]
    region_demand = [c.value for c in metrics[2]]
    assert region_demand[:6] == [
        "region",
        "region",
        "Test region",
        "demand_minutes",
        "Demand",
        "minutes",
    ]
    assert region_demand[6:] == [3000.0, 2400.0, pytest.approx(3300.0)]
    assert all(isinstance(v, int | float) for v in region_demand[6:])  # not text
    assert metrics.cell(row=2, column=7).data_type == "n"
    weekly = book["weekly"]
    monday = weekly.cell(row=2, column=3)
    assert monday.is_date and monday.value == datetime(2026, 10, 26)
    assert weekly.cell(row=2, column=6).value == 20  # demand cases, an int
    assert weekly.cell(row=2, column=8).value is None  # no band on a recorded week
    people = book["pathologists"]
    assert [people.cell(row=r, column=7).value for r in (2, 3, 4)] == [75.0, 120.0, None]
    # A name that looks like a formula stays text.
    formula = people.cell(row=3, column=2)
    assert formula.value == FORMULA_NAME and formula.data_type == "s"
    assert people.column_dimensions["B"].width >= len(HOSTILE_NAME)


def test_an_empty_report_makes_a_workbook_too() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(empty_report())))
    assert book["weekly"].max_row == 1
    assert book["summary"]["A1"].value == "Line"


def _sections(text: str) -> dict[str, list[dict[str, str]]]:
    sections = {}
    for block in text.split("\n\n"):
        rows = list(csv.DictReader(io.StringIO(block)))
        names = {row["table"] for row in rows}
        if rows:
            assert len(names) == 1
            sections[names.pop()] = rows
    return sections


def test_the_csv_holds_every_table_in_sections_read_back_with_dictreader() -> None:
    report = sample_report()
    text = render_csv(report)
    sections = _sections(text)
    tables = {t.name: t for t in report_tables(report) if t.rows}
    assert list(sections) == list(tables)
    for name, table in tables.items():
        assert len(sections[name]) == len(table.rows)
        assert list(sections[name][0]) == ["table", *(c.key for c in table.columns)]
    demand = sections["metrics"][0]
    assert (demand["realisation"], demand["norm"], demand["forecast"]) == (
        "3000.0",
        "2400.0",
        "3300.0",
    )
    assert float(demand["forecast"]) == pytest.approx(3300.0)
    weekly = sections["weekly"][0]
    assert date.fromisoformat(weekly["week_start"]) == date(2026, 10, 26)
    assert weekly["lower_80"] == ""  # nothing: an empty cell
    people = sections["pathologists"]
    assert people[0]["name"] == HOSTILE_NAME
    assert people[1]["name"] == "'" + FORMULA_NAME  # not run as a formula
    assert people[2]["utilisation_pct"] == ""


def test_an_empty_report_makes_a_csv_of_headers() -> None:
    text = render_csv(empty_report())
    headers = [line for line in text.splitlines() if line.startswith("table,")]
    assert len(headers) == len(report_tables(empty_report()))


def test_the_html_escapes_every_text_and_fetches_nothing() -> None:
    page = render_html(sample_report())
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zn" in page
    assert "because &lt;b&gt;demand&lt;/b&gt; grew" in page
    assert "default-src 'none'" in page
    for needle in ('src="', 'href="http', "@import", "url(http"):
        assert needle not in page
    assert page.count("<svg") == 4
    assert page.count('role="img"') == 4
    for name in ("demand_supply", "backlog_ageing", "tat_distribution", "utilisation"):
        assert f'data-chart="{name}"' in page
    for table in report_tables(sample_report()):
        if table.name not in ("summary", "report"):
            assert f'data-table="{table.name}"' in page


def test_two_charts_never_share_an_id() -> None:
    page = render_html(sample_report())
    import re

    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_the_html_of_an_empty_report() -> None:
    page = render_html(empty_report())
    assert page.count("<svg") == 4
    assert "Nothing to remark." in page
    assert "No rows." in page


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (None, Kind.NUMBER, "\u2013"),
        (41453.1, Kind.NUMBER, "41,453"),
        (82.54, Kind.NUMBER, "82.5"),
        (0.3275, Kind.NUMBER, "0.33"),
        (1562, Kind.INTEGER, "1,562"),
        (date(2026, 11, 16), Kind.DATE, "2026-11-16"),
        ("HMC", Kind.TEXT, "HMC"),
    ],
)
def test_values_as_people_read_them(value: object, kind: Kind, shown: str) -> None:
    assert format_value(value, kind) == shown


def test_json_is_the_report_itself() -> None:
    report = sample_report()
    assert json.loads(render_report(report, ReportFormat.JSON)) == report
    assert render_report(report, ReportFormat.XLSX)[:2] == b"PK"
    assert ReportFormat.XLSX.is_text is False and ReportFormat.CSV.media_type.startswith("text/csv")
