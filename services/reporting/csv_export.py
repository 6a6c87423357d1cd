"""The capacity report as one CSV file: the tables one after the other, in sections.

Layout: each table is a section; a section starts with a header row whose first cell is
``table`` followed by the table's column keys, then one row per table row whose first cell is
the table's name (``metrics``, ``ageing``, ...); a blank line separates two sections. So a
spreadsheet shows every section readably, and a script reads a table back by splitting on the
blank lines (or keeping the rows whose first cell is its name) and giving each section to
:class:`csv.DictReader`.

Values are unformatted: numbers as Python writes them (``41453.1``, ``1562``, a ratio in
percent where the table says so), days as ISO dates (``2026-11-16``), nothing as an empty cell;
a text a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) gets a ``'``
in front.
The tables are :func:`services.reporting.tables.report_tables`, in order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.reporting.tables import report_tables

__all__ = ["render_csv"]


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(report: Mapping[str, Any]) -> str:
    """Every table of the report in one CSV text (see the module docstring for the layout)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for index, table in enumerate(report_tables(report)):
        if index:
            writer.writerow([])
        writer.writerow(["table", *(column.key for column in table.columns)])
        for row in table.rows:
            writer.writerow([table.name, *(_value(v) for v in row)])
    return buffer.getvalue()
