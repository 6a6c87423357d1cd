"""The capacity report as the API answers it (``GET /reports/capacity``) and its charts.

The report is :func:`worklist.capacity.report.capacity_report`'s dict, described here field by
field for the API's documentation; see docs/capacity.md for what each metric means and how it
is computed. Fields a later version of the report adds are passed on as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MetricPublic(BaseModel):
    """One figure three ways; null where it cannot be computed or does not apply."""

    realisation: float | None = Field(description="What happened in the period.")
    norm: float | None = Field(description="The budget or target from the norm configuration.")
    forecast: float | None = Field(description="The forecast model's expectation.")


class PeriodPublic(BaseModel):
    """The reported period: local days ``start`` (inclusive) to ``stop`` (exclusive)."""

    label: str = Field(description='"2026-W47" (ISO week), "2026-11" (month), "2026-Q4".')
    start: str = Field(description="First day (ISO date).")
    stop: str = Field(description="First day after the period (ISO date).")
    weeks: list[str] = Field(description="The ISO weeks that overlap the period.")


class EntityPublic(BaseModel):
    """The region, a department or a tumour group, with every metric of the report."""

    # The ageing and turnaround details, and any metric a later report adds, pass through.
    model_config = ConfigDict(extra="allow")

    code: str = Field(description='"region", a department\'s code, or a tumour group.')
    name: str
    demand_minutes: MetricPublic = Field(description="Workload minutes of the cases received.")
    demand_cases: MetricPublic = Field(description="Cases received.")
    supply_minutes: MetricPublic = Field(description="Minutes of capacity from FTE and rosters.")
    signed_out_minutes: MetricPublic = Field(description="Workload minutes signed out.")
    utilisation: MetricPublic = Field(description="Signed-out minutes / supply minutes.")
    balance_gini: MetricPublic = Field(description="Gini coefficient of staff utilisation.")
    wip_cases: MetricPublic = Field(description="Open cases at the period's end (or today).")
    wip_minutes: MetricPublic = Field(description="Their workload minutes.")
    backlog_days: MetricPublic = Field(description="WIP minutes / supply minutes per day.")
    overdue_cases: MetricPublic = Field(description="Open cases past their due time.")
    tat_median_days: MetricPublic = Field(description="Turnaround, median, calendar days.")
    tat_p80_days: MetricPublic = Field(description="Turnaround, 80th percentile.")
    tat_p90_days: MetricPublic = Field(description="Turnaround, 90th percentile.")
    pct_within_7_days: MetricPublic = Field(description="% signed out within 7 days.")
    pct_within_10_days: MetricPublic = Field(description="% signed out within 10 days.")
    pct_within_target: MetricPublic = Field(description="% signed out by their due target.")
    shortfall_fte: MetricPublic = Field(description="(Demand - supply) / minutes per FTE.")
    ageing: dict[str, int] = Field(
        default_factory=dict,
        description='Open cases per age bucket: "0-2", "3-5", "6-7", "8-10", ">10" days.',
    )


class PathologistFigurePublic(BaseModel):
    """One pathologist's supply and signed-out minutes in the period."""

    model_config = ConfigDict(extra="allow")

    code: str
    name: str
    department_code: str
    fte: float | None
    supply_minutes: float | None
    signed_out_minutes: float | None
    utilisation: float | None = Field(description="Signed-out / supply minutes; null without.")


class WeekFigurePublic(BaseModel):
    """Demand and supply of one ISO week, recorded or forecast, of the region or a department."""

    model_config = ConfigDict(extra="allow")

    entity: str = Field(description='"region" or a department\'s code.')
    week: str = Field(description='The ISO week, "2026-W40".')
    week_start: str = Field(description="Its Monday (ISO date).")
    kind: str = Field(description='"history" or "forecast".')
    demand_minutes: float | None
    demand_cases: int | None
    supply_minutes: float | None
    lower_80: float | None = Field(description="Forecast weeks: the 80% interval's lower end.")
    upper_80: float | None = Field(description="Forecast weeks: the 80% interval's upper end.")


class TatBinPublic(BaseModel):
    """Cases of a department signed out in the period after ``days`` calendar days."""

    model_config = ConfigDict(extra="allow")

    department_code: str | None
    days: int = Field(description="0 to 30; 30 means 30 or more.")
    cases: int


class CapacityReportPublic(BaseModel):
    """``GET /reports/capacity``: realisation, norm and forecast of the region, its
    departments and its tumour groups in one period."""

    model_config = ConfigDict(extra="allow")

    period: PeriodPublic
    today: str = Field(description="The day the report was made for (ISO date).")
    forecast_method: str | None = Field(description="The forecast model, in words.")
    region: EntityPublic
    departments: list[EntityPublic] = Field(description="The departments the caller may see.")
    tumour_groups: list[EntityPublic]
    pathologists: list[PathologistFigurePublic]
    weekly: list[WeekFigurePublic] = Field(
        description="52 recorded weeks up to the period's end and 12 forecast weeks."
    )
    tat_histogram: list[TatBinPublic]
    summary: list[str] = Field(description="Where the shortfall is and why, in sentences.")


class ChartPublic(BaseModel):
    """One chart of the report: a Vega-Lite specification with its data inline."""

    name: str = Field(description="A stable identifier, e.g. demand_supply.")
    title: str
    spec: dict[str, Any] = Field(description="Vega-Lite v6 specification (data inline).")


class CapacityChartsPublic(BaseModel):
    """``GET /reports/capacity/charts``: the report's charts, as the HTML file draws them."""

    charts: list[ChartPublic]
