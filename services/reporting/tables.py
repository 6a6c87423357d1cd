"""The capacity report's tables, as data: one definition for the HTML, XLSX and CSV files.

:func:`report_tables` turns a report (the dict of
:func:`worklist.capacity.report.capacity_report`) into :class:`Table` s whose rows hold numbers
as numbers (``int``/``float``, ``None`` where the report has none), days as
:class:`datetime.date` and text as ``str``; each renderer formats them its own way. Utilisation,
a ratio in the report, is shown as a percentage (``utilisation_pct``) like the other shares.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from services.reporting.charts import AGEING_BUCKETS

__all__ = ["ENTITY_KEYS", "METRICS", "Column", "Kind", "Metric", "Table", "report_tables"]


class Kind(StrEnum):
    """What a column holds, so a renderer can format it."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its key (CSV header, code), its title (for people) and what it holds."""

    key: str
    title: str
    kind: Kind
    for_people: bool = True
    """False for a code a script needs that a page leaves out (the metric's key)."""


@dataclass(frozen=True, slots=True)
class Table:
    """A view of the report: a name (sheet, CSV section), a title, columns and rows."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> Iterator[dict[str, Any]]:
        """The rows as ``{column key: value}``."""
        keys = [c.key for c in self.columns]
        for row in self.rows:
            yield dict(zip(keys, row, strict=True))


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric of the report's sections: its key, how people call it and its unit."""

    key: str
    title: str
    unit: str
    scale: float = 1.0
    """Multiplies the report's value for the tables (utilisation: ratio -> %)."""


METRICS = (
    Metric("demand_minutes", "Demand", "minutes"),
    Metric("demand_cases", "Demand", "cases"),
    Metric("supply_minutes", "Supply", "minutes"),
    Metric("signed_out_minutes", "Signed out", "minutes"),
    Metric("utilisation", "Utilisation", "%", 100.0),
    Metric("balance_gini", "Balance (Gini of utilisation)", "coefficient"),
    Metric("wip_cases", "Work in progress", "cases"),
    Metric("wip_minutes", "Work in progress", "minutes"),
    Metric("backlog_days", "Backlog", "days of supply"),
    Metric("overdue_cases", "Overdue", "cases"),
    Metric("tat_median_days", "Turnaround, median", "days"),
    Metric("tat_p80_days", "Turnaround, P80", "days"),
    Metric("tat_p90_days", "Turnaround, P90", "days"),
    Metric("pct_within_7_days", "Signed out within 7 days", "%"),
    Metric("pct_within_10_days", "Signed out within 10 days", "%"),
    Metric("pct_within_target", "Signed out within target", "%"),
    Metric("shortfall_fte", "Shortfall", "FTE"),
)
"""The metrics in the order the tables list them."""

ENTITY_KEYS = ("level", "code", "name")
"""The columns that say which entity (region, department, tumour group) a row is about."""
_ENTITY = (
    Column("level", "Level", Kind.TEXT),
    Column("code", "Code", Kind.TEXT),
    Column("name", "Name", Kind.TEXT),
)
_TAT = (
    Column("cases", "Cases", Kind.INTEGER),
    Column("median_days", "Median (days)", Kind.NUMBER),
    Column("p80_days", "P80 (days)", Kind.NUMBER),
    Column("p90_days", "P90 (days)", Kind.NUMBER),
    Column("pct_within_target", "Within target (%)", Kind.NUMBER),
)


def report_tables(report: Mapping[str, Any]) -> list[Table]:
    """The report's tables, in reading order (the summary first)."""
    return [
        _summary(report),
        _about(report),
        _metrics(report),
        _ageing(report),
        _demand_by(report, "priority", "Demand by priority"),
        _demand_by(report, "category", "Demand by category"),
        _tat_by(report, "priority", "Turnaround by priority", extra_target=True),
        _tat_by(report, "category", "Turnaround by category", extra_target=False),
        _pathologists(report),
        _weekly(report),
        _histogram(report),
    ]


def _sections(report: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(level, section)`` for the region, each department and each tumour group."""
    yield "region", report["region"]
    for department in report.get("departments", []):
        yield "department", department
    for group in report.get("tumour_groups", []):
        yield "tumour group", group


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _scaled(value: float | None, scale: float) -> float | None:
    """``value`` times ``scale`` (an int stays an int when ``scale`` is 1)."""
    if value is None or scale == 1.0:
        return value
    return round(value * scale, 4)


def _summary(report: Mapping[str, Any]) -> Table:
    columns = (Column("line", "Line", Kind.INTEGER), Column("text", "Summary", Kind.TEXT))
    rows = tuple((i, str(text)) for i, text in enumerate(report.get("summary", []), start=1))
    return Table("summary", "Summary", columns, rows)


def _about(report: Mapping[str, Any]) -> Table:
    period = report["period"]
    last_day = date.fromordinal(date.fromisoformat(period["stop"]).toordinal() - 1)
    columns = (
        Column("period", "Period", Kind.TEXT),
        Column("first_day", "First day", Kind.DATE),
        Column("last_day", "Last day", Kind.DATE),
        Column("today", "Made on", Kind.DATE),
        Column("region", "Region", Kind.TEXT),
        Column("forecast_method", "Forecast method", Kind.TEXT),
    )
    row = (
        period["label"],
        _day(period["start"]),
        last_day,
        _day(report.get("today")),
        report["region"]["name"],
        report.get("forecast_method") or "none (too little history)",
    )
    return Table("report", "About this report", columns, (row,))


def _metric_rows(section: Mapping[str, Any]) -> Iterator[tuple[Metric, Mapping[str, Any]]]:
    """The section's metrics, the known ones first, then any the report added since."""
    known = {m.key for m in METRICS}
    for metric in METRICS:
        value = section.get(metric.key)
        if isinstance(value, Mapping):
            yield metric, value
    for key, value in section.items():
        if key not in known and isinstance(value, Mapping) and "realisation" in value:
            yield Metric(key, key.replace("_", " ").capitalize(), ""), value


def _metrics(report: Mapping[str, Any]) -> Table:
    columns = (
        *_ENTITY,
        Column("metric", "Metric", Kind.TEXT, for_people=False),
        Column("title", "What", Kind.TEXT),
        Column("unit", "Unit", Kind.TEXT),
        Column("realisation", "Realisation", Kind.NUMBER),
        Column("norm", "Norm", Kind.NUMBER),
        Column("forecast", "Forecast", Kind.NUMBER),
    )
    rows = []
    for level, section in _sections(report):
        for metric, value in _metric_rows(section):
            rows.append(
                (
                    level,
                    section["code"],
                    section["name"],
                    metric.key,
                    metric.title,
                    metric.unit,
                    *(
                        _scaled(value.get(part), metric.scale)
                        for part in ("realisation", "norm", "forecast")
                    ),
                )
            )
    title = "Realisation, norm and forecast per metric"
    return Table("metrics", title, columns, tuple(rows))


def _ageing(report: Mapping[str, Any]) -> Table:
    columns = (
        *_ENTITY,
        *(Column(b, f"{b} days", Kind.INTEGER) for b in AGEING_BUCKETS),
        Column("wip_cases", "In progress", Kind.INTEGER),
        Column("overdue_cases", "Overdue", Kind.INTEGER),
    )
    rows = []
    for level, section in _sections(report):
        ageing = section.get("ageing") or {}
        rows.append(
            (
                level,
                section["code"],
                section["name"],
                *(ageing.get(bucket) for bucket in AGEING_BUCKETS),
                (section.get("wip_cases") or {}).get("realisation"),
                (section.get("overdue_cases") or {}).get("realisation"),
            )
        )
    return Table("ageing", "Work in progress by age (days since receipt)", columns, tuple(rows))


def _demand_by(report: Mapping[str, Any], key: str, title: str) -> Table:
    kind = Kind.TEXT if key == "priority" else Kind.INTEGER
    columns = (
        *_ENTITY,
        Column(key, key.capitalize(), kind),
        Column("cases", "Cases received", Kind.INTEGER),
        Column("minutes", "Workload (minutes)", Kind.NUMBER),
    )
    rows = [
        (level, section["code"], section["name"], line.get(key), line["cases"], line["minutes"])
        for level, section in _sections(report)
        for line in section.get(f"demand_by_{key}", [])
    ]
    return Table(f"demand_by_{key}", title, columns, tuple(rows))


def _tat_by(report: Mapping[str, Any], key: str, title: str, *, extra_target: bool) -> Table:
    kind = Kind.TEXT if key == "priority" else Kind.INTEGER
    columns = (
        *_ENTITY,
        Column(key, key.capitalize(), kind),
        *_TAT,
        *((Column("target", "Target", Kind.TEXT),) if extra_target else ()),
    )
    rows = []
    for level, section in _sections(report):
        for line in section.get(f"tat_by_{key}", []):
            values = [line.get(c.key) for c in _TAT]
            if extra_target:
                values.append(line.get("target"))
            rows.append((level, section["code"], section["name"], line.get(key), *values))
    return Table(f"tat_by_{key}", title, columns, tuple(rows))


def _pathologists(report: Mapping[str, Any]) -> Table:
    columns = (
        Column("code", "Code", Kind.TEXT),
        Column("name", "Name", Kind.TEXT),
        Column("department_code", "Department", Kind.TEXT),
        Column("fte", "FTE", Kind.NUMBER),
        Column("supply_minutes", "Supply (minutes)", Kind.NUMBER),
        Column("signed_out_minutes", "Signed out (minutes)", Kind.NUMBER),
        Column("utilisation_pct", "Utilisation (%)", Kind.NUMBER),
    )
    people: Sequence[Mapping[str, Any]] = report.get("pathologists", [])
    rows = tuple(
        (
            p["code"],
            p["name"],
            p["department_code"],
            p.get("fte"),
            p.get("supply_minutes"),
            p.get("signed_out_minutes"),
            _scaled(p.get("utilisation"), 100.0),
        )
        for p in people
    )
    return Table("pathologists", "Utilisation per pathologist", columns, rows)


def _weekly(report: Mapping[str, Any]) -> Table:
    columns = (
        Column("entity", "Region or department", Kind.TEXT),
        Column("week", "Week", Kind.TEXT),
        Column("week_start", "Monday", Kind.DATE),
        Column("kind", "Recorded or forecast", Kind.TEXT),
        Column("demand_minutes", "Demand (minutes)", Kind.NUMBER),
        Column("demand_cases", "Demand (cases)", Kind.INTEGER),
        Column("supply_minutes", "Supply (minutes)", Kind.NUMBER),
        Column("lower_80", "Forecast, 80% low", Kind.NUMBER),
        Column("upper_80", "Forecast, 80% high", Kind.NUMBER),
    )
    rows = tuple(
        (
            row["entity"],
            row["week"],
            _day(row["week_start"]),
            row["kind"],
            row.get("demand_minutes"),
            row.get("demand_cases"),
            row.get("supply_minutes"),
            row.get("lower_80"),
            row.get("upper_80"),
        )
        for row in report.get("weekly", [])
    )
    return Table("weekly", "Demand and supply per week", columns, rows)


def _histogram(report: Mapping[str, Any]) -> Table:
    columns = (
        Column("department_code", "Department", Kind.TEXT),
        Column("days", "Turnaround (whole days; the last: or more)", Kind.INTEGER),
        Column("cases", "Cases signed out", Kind.INTEGER),
    )
    rows = tuple(
        (row["department_code"], row["days"], row["cases"])
        for row in report.get("tat_histogram", [])
    )
    return Table("tat_histogram", "Turnaround of the cases signed out", columns, rows)
