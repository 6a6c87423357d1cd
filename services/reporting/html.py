"""The capacity report as one self-contained HTML file: summary, charts (inline SVG), tables.

The file opens offline and asks for nothing: the charts are the specifications of
:mod:`services.reporting.charts` rendered to SVG by vl-convert, the style sheet is inline and
the page's Content-Security-Policy (``default-src 'none'``) forbids every request, so a
mistake shows as a refusal, not as a call to a server. Every text of the report, the
summary's sentences and names included, is escaped: nothing in it is read as HTML.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from html import escape
from typing import Any

from services.reporting.charts import Chart, capacity_charts
from services.reporting.tables import ENTITY_KEYS, Kind, Table, report_tables

__all__ = ["chart_svg", "format_value", "render_html"]

_STYLE = """
:root { color: #1b1b1b; background: #fff; font: 15px/1.45 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
body { margin: 0 auto; max-width: 1080px; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #0b5cad; }
.meta { color: #444; margin: 0; }
.summary li { margin: .25rem 0; }
figure { margin: 1rem 0 2rem; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; font-size: .85rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .5rem; vertical-align: top; }
thead th { background: #eef3f9; text-align: left; position: sticky; top: 0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.empty { color: #767676; text-align: right; }
tr.group th { text-align: left; background: #f6f6f6; padding-top: .5rem; }
.wide { overflow-x: auto; }
@media print {
  :root { font-size: 10pt; }
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  thead th { position: static; }
  tr { break-inside: avoid; }
  .wide { overflow: visible; }
}
"""

# Where an SVG names or refers to an id (clip paths, gradients).
_REFERENCE = re.compile(r'(\bid="|url\(#|href="#)')


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML document (a ``str``; write it as UTF-8)."""
    tables = report_tables(report)
    summary = next(t for t in tables if t.name == "summary")
    about = next(t for t in tables if t.name == "report")
    period = report["period"]
    title = f"Capacity report {period['label']}: {report['region']['name']}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escape(title)}</h1>",
        _about_line(about),
        "</header>",
        "<main>",
        '<section aria-labelledby="summary-heading">',
        '<h2 id="summary-heading">Summary</h2>',
        _summary_list(summary),
        "</section>",
        '<section aria-labelledby="charts-heading">',
        '<h2 id="charts-heading">Charts</h2>',
        *(_figure(chart, index) for index, chart in enumerate(capacity_charts(report))),
        "</section>",
        '<section aria-labelledby="tables-heading">',
        '<h2 id="tables-heading">Tables</h2>',
        *(_table(table) for table in tables if table.name not in ("summary", "report")),
        "</section>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _policy() -> str:
    """Nothing may be fetched; only this file's own style sheet applies."""
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:"


def _about_line(about: Table) -> str:
    (row,) = list(about.records())
    text = (
        f"{row['period']}: {format_value(row['first_day'], Kind.DATE)} to "
        f"{format_value(row['last_day'], Kind.DATE)}, made on "
        f"{format_value(row['today'], Kind.DATE)}. Forecast: {row['forecast_method']}."
    )
    return f'<p class="meta">{escape(text)}</p>'


def _summary_list(summary: Table) -> str:
    if not summary.rows:
        return "<p>Nothing to remark.</p>"
    items = "".join(f"<li>{escape(str(text))}</li>" for _, text in summary.rows)
    return f'<ul class="summary">{items}</ul>'


def chart_svg(chart: Chart, *, prefix: str) -> str:
    """The chart drawn by vl-convert as an ``<svg>`` element to put inline in a page: named
    by its description (role ``img``) and with its ids prefixed, so that two charts' clip
    paths cannot collide in one document."""
    import vl_convert

    svg: str = vl_convert.vegalite_to_svg(chart.spec)
    svg = _REFERENCE.sub(lambda found: found.group(1) + prefix, svg)
    description = chart.spec.get("description") or chart.title
    label = f'role="img" aria-label="{escape(str(description))}"'
    return re.sub(r"^<svg\b", f"<svg {label}", svg.lstrip(), count=1)


def _figure(chart: Chart, index: int) -> str:
    svg = chart_svg(chart, prefix=f"c{index}-")
    return (
        # The SVG draws the title itself: the figure is named by it, not captioned twice.
        f'<figure data-chart="{escape(chart.name)}" aria-label="{escape(chart.title)}">'
        f"{svg}</figure>"
    )


def format_value(value: Any, kind: Kind) -> str:
    """A value as a person reads it: thousands separated, fewer decimals for larger numbers,
    dates as ISO days, nothing as an en dash."""
    if value is None:
        return "\u2013"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or kind is Kind.TEXT:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        size = abs(value)
        decimals = 0 if size >= 100 else 1 if size >= 10 else 2
        return f"{value:,.{decimals}f}"
    return str(value)


def _cell(value: Any, kind: Kind) -> str:
    text = escape(format_value(value, kind))
    if value is None:
        return f'<td class="empty">{text}</td>'
    if kind in (Kind.INTEGER, Kind.NUMBER):
        return f'<td class="number">{text}</td>'
    return f"<td>{text}</td>"


def _row(row: Sequence[Any], kinds: Sequence[Kind | None]) -> str:
    cells = "".join(_cell(v, k) for v, k in zip(row, kinds, strict=True) if k is not None)
    return f"<tr>{cells}</tr>"


def _table(table: Table) -> str:
    """The table; one that lists entities (region, departments, tumour groups) is grouped by
    them, a heading row each, rather than repeating their names on every row."""
    keys = [c.key for c in table.columns]
    grouped = all(key in keys for key in ENTITY_KEYS)
    hidden = set(ENTITY_KEYS) if grouped else set()
    shown = [c for c in table.columns if c.for_people and c.key not in hidden]
    kinds = [c.kind if c.for_people and c.key not in hidden else None for c in table.columns]
    head = "".join(f'<th scope="col">{escape(c.title)}</th>' for c in shown)
    if not table.rows:
        bodies = f'<tbody><tr><td colspan="{len(shown)}">No rows.</td></tr></tbody>'
    elif grouped:
        at = [keys.index(key) for key in ENTITY_KEYS]
        parts: list[str] = []
        current: tuple[Any, ...] | None = None
        for row in table.rows:
            entity = tuple(row[i] for i in at)
            if entity != current:
                if current is not None:
                    parts.append("</tbody>")
                level, code, name = entity
                # A tumour group's name is its code, written for people.
                label = f"{code}: {name}" if level == "department" else str(name)
                parts.append(
                    f'<tbody><tr class="group"><th scope="rowgroup" colspan="{len(shown)}">'
                    f"{escape(str(level).capitalize())} {escape(label)}</th></tr>"
                )
                current = entity
            parts.append(_row(row, kinds))
        parts.append("</tbody>")
        bodies = "".join(parts)
    else:
        bodies = "<tbody>" + "".join(_row(row, kinds) for row in table.rows) + "</tbody>"
    return (
        f'<div class="wide"><table data-table="{escape(table.name)}">'
        f"<caption>{escape(table.title)}</caption>"
        f"<thead><tr>{head}</tr></thead>{bodies}</table></div>"
    )
