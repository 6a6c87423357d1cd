"""The capacity report as an XLSX workbook (openpyxl): one sheet per table, for the managers'
own spreadsheets.

Numbers are numbers and days are dates (cell types, not text), each with a number format; the
header row is frozen and filtered, and the columns are as wide as their longest text (within
reason). The sheets are the tables of :func:`services.reporting.tables.report_tables`, in order.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from services.reporting.tables import Kind, Table, report_tables

__all__ = ["render_xlsx", "sheet_title"]

_MAX_WIDTH = 60
_MIN_WIDTH = 8
_FORMATS = {Kind.INTEGER: "#,##0", Kind.NUMBER: "#,##0.0###", Kind.DATE: "yyyy-mm-dd"}
# Excel's limits on a sheet's name: 31 characters, none of these.
_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "-"))


def sheet_title(table: Table) -> str:
    """The sheet's name: the table's name, within Excel's rules."""
    return table.name.translate(_FORBIDDEN)[:31]


def render_xlsx(report: Mapping[str, Any]) -> bytes:
    """The report's tables as an XLSX file's bytes."""
    # openpyxl ships no type hints (types-openpyxl is not a dependency).
    from openpyxl import Workbook  # type: ignore[import-untyped]
    from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    for table in report_tables(report):
        sheet = book.create_sheet(sheet_title(table))
        sheet.append([column.title for column in table.columns])
        for cell in sheet[1]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            sheet.append(list(row))
            # openpyxl takes a text starting with "=" for a formula: a name is never one.
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        widths = [len(column.title) for column in table.columns]
        for index, column in enumerate(table.columns, start=1):
            number_format = _FORMATS.get(column.kind)
            for (cell,) in sheet.iter_rows(
                min_row=2, min_col=index, max_col=index, max_row=len(table.rows) + 1
            ):
                if number_format is not None:
                    cell.number_format = number_format
                if column.kind is Kind.TEXT and cell.value is not None:
                    widths[index - 1] = max(widths[index - 1], len(str(cell.value)))
                elif cell.value is not None:
                    widths[index - 1] = max(widths[index - 1], 12)
        for index, width in enumerate(widths, start=1):
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
        sheet.freeze_panes = "A2"
        if table.rows:
            last = get_column_letter(len(table.columns))
            sheet.auto_filter.ref = f"A1:{last}{len(table.rows) + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
