"""The figures of one entity in the capacity report: its section, weekly rows and histogram.

Each function turns the facts of one entity (:class:`~worklist.capacity.entities.Entity`) into
the report JSON's rows (``docs/plans/capacity-planning.md``, "The report JSON");
:func:`worklist.capacity.report.capacity_report` puts them together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from worklist.capacity import forecast as forecasting
from worklist.capacity import turnaround
from worklist.capacity.demand import DemandOutlook, demand_between, demand_by
from worklist.capacity.entities import Entity
from worklist.capacity.facts import CaseFact, PathologistFact
from worklist.capacity.norm import (
    CapacityNorm,
    budget_minutes,
    percentile_target_days,
    share_within_days,
    target_label,
)
from worklist.capacity.periods import Period, ReportWindow, local_midnight, slice_days, week_label
from worklist.capacity.supply import gini, signed_out_minutes, utilisation
from worklist.capacity.wip import backlog_days, work_in_progress
from worklist.enums import Priority
from worklist.workload import WorkloadModel

__all__ = [
    "SectionContext",
    "entity_section",
    "pathologist_rows",
    "tat_histogram_rows",
    "weekly_rows",
]

_HISTOGRAM_DAYS = 30


def _signed_out_in(cases: Iterable[CaseFact], period: Period) -> list[CaseFact]:
    """The cases signed out on the period's days."""
    return [c for c in cases if c.signed_out_day is not None and period.contains(c.signed_out_day)]


def weekly_rows(entity: Entity, window: ReportWindow, view: DemandOutlook) -> list[dict[str, Any]]:
    """The entity's weekly rows: its history weeks, then its forecast weeks."""
    rows: list[dict[str, Any]] = [
        {
            "entity": entity.code,
            "week": week_label(monday),
            "week_start": monday.isoformat(),
            "kind": "history",
            "demand_minutes": minutes,
            "demand_cases": cases,
            "supply_minutes": supply,
            "lower_80": None,
            "upper_80": None,
        }
        for monday, minutes, cases, supply in zip(
            window.history_weeks,
            view.history_minutes,
            view.history_cases,
            view.history_supply_minutes,
            strict=True,
        )
    ]
    made = view.forecast
    for i, monday in enumerate(window.forecast_weeks):
        rows.append(
            {
                "entity": entity.code,
                "week": week_label(monday),
                "week_start": monday.isoformat(),
                "kind": "forecast",
                "demand_minutes": float(made.mean[i]) if made is not None else None,
                "demand_cases": None,
                "supply_minutes": view.forecast_supply_minutes[i],
                "lower_80": float(made.lower_80[i]) if made is not None else None,
                "upper_80": float(made.upper_80[i]) if made is not None else None,
            }
        )
    return rows


def _metric(
    realisation: float | None, norm: float | None = None, forecast: float | None = None
) -> dict[str, float | None]:
    return {"realisation": realisation, "norm": norm, "forecast": forecast}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class SectionContext:
    """What every section of one report is computed with."""

    window: ReportWindow
    norm: CapacityNorm
    model: WorkloadModel
    holidays: frozenset[date]
    signed_by_person: Mapping[str, float]
    """Pathologist code -> minutes signed out in the period."""
    person_supply: Mapping[str, float]
    """Pathologist code -> supply minutes in the period."""


def entity_section(
    entity: Entity, daily_supply: Sequence[float], view: DemandOutlook, context: SectionContext
) -> dict[str, Any]:
    """The entity's section of the report: its metrics and their breakdowns."""
    window, norm, model = context.window, context.norm, context.model
    signed_by_person, person_supply = context.signed_by_person, context.person_supply
    holidays = context.holidays
    period = window.period
    first = window.first_day
    demand = demand_between(entity.cases, period.start, period.stop)
    period_supply = slice_days(daily_supply, first, period.start, period.stop)
    supply_minutes = sum(period_supply)
    working_days = sum(1 for minutes in period_supply if minutes > 0)
    signed = sum(signed_out_minutes(entity.signed_out, period.start, period.stop).values())
    budget = budget_minutes(entity.budget_fte, period.calendar_weeks, model)
    fte_minutes = model.minutes_per_fte_week * period.calendar_weeks
    wip = work_in_progress(entity.cases, at=local_midnight(window.end_day))
    done = _signed_out_in(entity.cases, period)
    stats = turnaround.turnaround_stats(_turnaround_days(done))
    forward = view.forecast
    forward_shortfall = (
        forecasting.shortfall_fte(
            float(sum(forward.mean)),
            sum(view.forecast_supply_minutes),
            model.minutes_per_fte_week * len(window.forecast_weeks),
        )
        if forward is not None
        else None
    )
    balance = None
    if entity.kind != "tumour_group":
        balance = gini(
            utilisation(signed_by_person.get(code, 0.0), person_supply.get(code, 0.0))
            for code in entity.staff
        )
    metrics: dict[str, Any] = {
        "code": entity.code,
        "name": entity.name,
        "demand_minutes": _metric(demand.minutes, budget, view.period_forecast_minutes),
        "demand_cases": _metric(demand.cases, None, view.period_forecast_cases),
        "supply_minutes": _metric(supply_minutes, budget),
        "signed_out_minutes": _metric(signed),
        "utilisation": _metric(
            utilisation(signed, supply_minutes),
            norm.target_utilisation,
            _ratio(view.period_forecast_minutes, supply_minutes),
        ),
        "balance_gini": _metric(balance),
        "wip_cases": _metric(wip.cases),
        "wip_minutes": _metric(wip.minutes),
        "backlog_days": _metric(
            backlog_days(wip.minutes, supply_minutes / working_days if working_days else 0.0),
            norm.target_backlog_days,
        ),
        "overdue_cases": _metric(wip.overdue_cases, 0),
        "tat_median_days": _metric(stats.median_days),
        "tat_p80_days": _metric(stats.p80_days, percentile_target_days(model, 0.8)),
        "tat_p90_days": _metric(stats.p90_days, percentile_target_days(model, 0.9)),
        "pct_within_7_days": _metric(stats.pct_within_7_days, share_within_days(model, 7)),
        "pct_within_10_days": _metric(stats.pct_within_10_days, share_within_days(model, 10)),
        "pct_within_target": _metric(
            turnaround.pct_within_target(done, model, holidays), norm.target_pct_within_target
        ),
        "shortfall_fte": _metric(
            (demand.minutes - supply_minutes) / fte_minutes, 0.0, forward_shortfall
        ),
        "ageing": dict(wip.ageing),
        "overdue_by_bucket": dict(wip.overdue_by_bucket),
        "demand_by_priority": _demand_rows(
            entity.cases, period, "priority", [p.value for p in Priority]
        ),
        "demand_by_category": _demand_rows(
            entity.cases, period, "category", sorted(model.category_minutes)
        ),
        "tat_by_priority": [
            _tat_row("priority", p.value, [c for c in done if c.priority is p], context, p)
            for p in Priority
        ],
        "tat_by_category": [
            _tat_row("category", category, [c for c in done if c.category == category], context)
            for category in sorted(model.category_minutes)
        ],
    }
    return metrics


def _demand_rows(
    cases: Iterable[CaseFact], period: Period, by: str, values: Sequence[str | int]
) -> list[dict[str, Any]]:
    """The period's demand per priority or category, every value listed (0 without cases)."""
    groups = demand_by(cases, period.start, period.stop, by=by)
    rows = []
    for value in values:
        demand = groups.get(value)
        rows.append(
            {
                by: value,
                "cases": demand.cases if demand else 0,
                "minutes": demand.minutes if demand else 0.0,
            }
        )
    return rows


def _turnaround_days(cases: Iterable[CaseFact]) -> list[float]:
    days = (turnaround.turnaround_days(case) for case in cases)
    return [d for d in days if d is not None]


def _tat_row(
    key: str,
    value: str | int,
    cases: Sequence[CaseFact],
    context: SectionContext,
    priority: Priority | None = None,
) -> dict[str, Any]:
    model = context.model
    stats = turnaround.turnaround_stats(_turnaround_days(cases))
    target = (
        "; ".join(target_label(t) for t in model.tat_targets[priority])
        if priority is not None
        else None
    )
    return {
        key: value,
        "cases": len(cases),
        "median_days": stats.median_days,
        "p80_days": stats.p80_days,
        "p90_days": stats.p90_days,
        "pct_within_target": turnaround.pct_within_target(cases, model, context.holidays),
        "target": target,
    }


def pathologist_rows(
    people: Sequence[PathologistFact],
    region: Entity,
    signed_by_person: Mapping[str, float],
    person_supply: Mapping[str, float],
) -> list[dict[str, Any]]:
    """One row per pathologist of the region who is active or signed out in the period."""
    rows: list[dict[str, Any]] = []
    for person in people:
        signed = signed_by_person.get(person.code, 0.0)
        if person.code not in region.staff or (not person.active and signed == 0):
            continue
        supply = person_supply.get(person.code, 0.0)
        rows.append(
            {
                "code": person.code,
                "name": person.name,
                "department_code": person.department_code,
                "fte": person.fte,
                "supply_minutes": supply,
                "signed_out_minutes": signed,
                "utilisation": utilisation(signed, supply),
            }
        )
    return rows


def tat_histogram_rows(
    cases: Iterable[CaseFact], departments: Sequence[str], period: Period
) -> list[dict[str, Any]]:
    """Cases signed out in the period per department and whole turnaround day (30: 30 or more)."""
    done = _signed_out_in(cases, period)
    return [
        {"department_code": code, "days": day, "cases": count}
        for code in departments
        for day, count in turnaround.tat_histogram(
            [c for c in done if c.department_code == code], max_days=_HISTOGRAM_DAYS
        )
    ]
