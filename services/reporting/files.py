"""The capacity report as a file in any of its formats: one dispatch for ``coupe report`` and
the API's export."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

__all__ = ["ReportFormat", "render_report"]


class ReportFormat(StrEnum):
    """A report file's format; its value is the file's extension."""

    HTML = "html"
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"

    @property
    def media_type(self) -> str:
        """The file's media type, for an HTTP answer."""
        return {
            ReportFormat.HTML: "text/html; charset=utf-8",
            ReportFormat.CSV: "text/csv; charset=utf-8",
            ReportFormat.XLSX: (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
            ReportFormat.JSON: "application/json",
        }[self]

    @property
    def is_text(self) -> bool:
        """Whether the file is text (it may go to a terminal)."""
        return self is not ReportFormat.XLSX


def render_report(report: Mapping[str, Any], output_format: ReportFormat) -> bytes:
    """The report (:func:`worklist.capacity.report.capacity_report`'s dict) as the bytes of a
    file in ``output_format`` (text as UTF-8). JSON is the report itself, indented."""
    if output_format is ReportFormat.JSON:
        text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif output_format is ReportFormat.HTML:
        from services.reporting.html import render_html

        text = render_html(report)
    elif output_format is ReportFormat.CSV:
        from services.reporting.csv_export import render_csv

        text = render_csv(report)
    else:
        from services.reporting.xlsx import render_xlsx

        return render_xlsx(report)
    return text.encode("utf-8")
