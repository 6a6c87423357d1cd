"""The capacity report of a period: realisation, norm and forecast side by side.

:func:`capacity_report` loads the facts once (:mod:`worklist.capacity.facts`) and assembles the
JSON-ready dict that ``coupe report``, ``GET /reports/capacity`` and the report files share (the
shape is documented in ``docs/plans/capacity-planning.md``, "The report JSON").

Who counts where:

- A department's demand, work in progress and turnaround are the cases it received; its supply
  and signed-out minutes are its own staff's, whatever case they signed out (a department that
  reports its neighbours' cases is utilised by them).
- A tumour group's demand, work in progress, turnaround and signed-out minutes are its cases';
  its supply is a share of each pathologist who has it as a subspecialty (a pathologist's supply
  split equally over their subspecialties). It has no balance.
- The region is its departments together (narrowed to one department: that department), so its
  demand is the sum of its departments' and of its tumour groups'. Its signed-out minutes also
  count a case signed out without a primary holder, which no department's do.
- Work in progress is measured at the end of the period, or at the end of ``today`` if the
  period has not ended by then (:class:`~worklist.capacity.periods.ReportWindow`).
- Forecasts: the period's demand forecast is made from the history before the period's first
  week (a week that overlaps the period in part counts for its share of days); the 12 weeks
  ahead are forecast from the history before the window's forecast start. Planned supply for
  future weeks comes from the rosters, recorded absences and public holidays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.calendar import public_holidays
from worklist.capacity import forecast as forecasting
from worklist.capacity import turnaround
from worklist.capacity.demand import DemandOutlook, demand_between, demand_by, demand_outlook
from worklist.capacity.facts import (
    CaseFact,
    PathologistFact,
    load_case_facts,
    load_pathologist_facts,
)
from worklist.capacity.norm import (
    CapacityNorm,
    budget_minutes,
    load_norm,
    percentile_target_days,
    share_within_days,
    target_label,
)
from worklist.capacity.periods import (
    Period,
    ReportWindow,
    local_midnight,
    slice_days,
    week_label,
)
from worklist.capacity.summary import summary_sentences
from worklist.capacity.supply import (
    SupplyTable,
    gini,
    signed_out_minutes,
    supply_table,
    utilisation,
)
from worklist.capacity.wip import backlog_days, work_in_progress
from worklist.enums import Priority
from worklist.errors import ValidationError
from worklist.models import Case, Department
from worklist.region import default_region
from worklist.workload import WorkloadModel

__all__ = ["HISTORY_WEEKS", "HORIZON_WEEKS", "capacity_report", "tumour_group_name"]

HISTORY_WEEKS = 52
HORIZON_WEEKS = 12
_HISTOGRAM_DAYS = 30
# A period that starts later than this after today is refused (its forecast is a guess).
_MAX_AHEAD_DAYS = 2 * 365


@dataclass
class _Entity:
    """The region, a department or a tumour group, and which facts count for it."""

    code: str
    name: str
    kind: str  # "region" | "department" | "tumour_group"
    cases: list[CaseFact]
    """Its cases: demand, work in progress, turnaround."""
    signed_out: list[CaseFact]
    """The cases whose sign-out is its output."""
    staff: dict[str, float]
    """Pathologist code -> the share of their supply that is its supply."""
    budget_fte: float | None


def tumour_group_name(code: str) -> str:
    """A tumour group's display name: ``gastro-intestinal`` -> ``Gastro-intestinal``."""
    name = code.replace("-and-", " and ")
    return name[:1].upper() + name[1:]


def capacity_report(
    session: Session,
    period: Period,
    *,
    today: date,
    department: str | None = None,
    tumour_group: str | None = None,
    norm: CapacityNorm | None = None,
    model: WorkloadModel | None = None,
    region_name: str | None = None,
) -> dict[str, Any]:
    """The capacity report of ``period`` as a JSON-ready dict (see the module docstring).

    ``department`` / ``tumour_group`` narrow the report to those cases (and that department's
    staff); an unknown one is a :class:`ValidationError`, and so is a period that starts more
    than two years after ``today`` or lies too near the calendar's ends. ``region_name``
    defaults to the packaged region's name.
    """
    model = model if model is not None else WorkloadModel()
    norm = norm if norm is not None else load_norm()
    departments_query = select(Department.code, Department.name).order_by(Department.code)
    names = {row.code: row.name for row in session.execute(departments_query)}
    if department is not None and department not in names:
        known = ", ".join(names) or "none"
        raise ValidationError(f"unknown department {department!r} (known: {known})")
    if period.start > today + timedelta(days=_MAX_AHEAD_DAYS):
        raise ValidationError(
            f"period {period.label!r} starts more than two years after {today.isoformat()}: "
            f"there is nothing to report and too far to forecast"
        )
    window = ReportWindow.of(
        period, today, history_weeks=HISTORY_WEEKS, horizon_weeks=HORIZON_WEEKS
    )
    people = load_pathologist_facts(session)
    groups = _tumour_groups(session, norm, people, tumour_group)
    facts = load_case_facts(
        session, model=model, since=local_midnight(window.first_day), tumour_group=tumour_group
    )
    table = supply_table(people, first_day=window.first_day, stop_day=window.stop_day, model=model)
    region, departments, tumour_groups = _entities(
        facts, people, names, groups, norm, department, tumour_group, region_name
    )
    signed_by_person = _signed_out_by_person(facts, period)
    context = _Context(
        window=window,
        norm=norm,
        model=model,
        holidays=frozenset(
            day
            for year in range(window.first_day.year, window.stop_day.year + 1)
            for day in public_holidays(year)
        ),
        signed_by_person=signed_by_person,
        person_supply={p.code: table.minutes(p.code, period.start, period.stop) for p in people},
    )
    sections: list[dict[str, Any]] = []
    outlooks: dict[str, DemandOutlook] = {}
    methods: set[str] = set()
    # Narrowed to one department, the region is that department: forecast it once.
    made: dict[tuple[int, frozenset[tuple[str, float]]], DemandOutlook] = {}
    for entity in (region, *departments, *tumour_groups):
        daily_supply = _daily_supply(entity, table)
        key = (id(entity.cases), frozenset(entity.staff.items()))
        if key not in made:
            made[key] = demand_outlook(
                entity.cases, window=window, daily_supply_minutes=daily_supply
            )
        view = made[key]
        if view.forecast is not None:
            methods.add(view.forecast.method)
        outlooks[f"{entity.kind}:{entity.code}"] = view
        sections.append(_section(entity, daily_supply, view, context))
    report: dict[str, Any] = {
        "period": {
            "label": period.label,
            "start": period.start.isoformat(),
            "stop": period.stop.isoformat(),
            "weeks": [week_label(monday) for monday in period.weeks()],
        },
        "today": today.isoformat(),
        "scope": {"department_code": department, "tumour_group": tumour_group},
        "forecast_method": "; ".join(sorted(methods)) or "none: no demand history",
        "region": sections[0],
        "departments": sections[1 : 1 + len(departments)],
        "tumour_groups": sections[1 + len(departments) :],
        "pathologists": _pathologist_rows(people, region, signed_by_person, context.person_supply),
        "weekly": [
            row
            for entity in (region, *departments)
            for row in _weekly_rows(entity, window, outlooks[f"{entity.kind}:{entity.code}"])
        ],
        "tat_histogram": _tat_histogram(region.cases, [d.code for d in departments], period),
    }
    report["summary"] = summary_sentences(report, outlooks, window)
    result: dict[str, Any] = _json_safe(report)
    return result


# -- who counts where -----------------------------------------------------------------------


def _tumour_groups(
    session: Session,
    norm: CapacityNorm,
    people: Sequence[PathologistFact],
    wanted: str | None,
) -> list[str]:
    """The tumour groups the report shows: those of the cases and of the norm."""
    known = set(session.scalars(select(Case.tumour_group).distinct())) | set(norm.tumour_group_fte)
    if wanted is not None:
        subspecialties = {s for p in people for s in p.subspecialties}
        if wanted not in known | subspecialties:
            listed = ", ".join(sorted(known)) or "none"
            raise ValidationError(f"unknown tumour group {wanted!r} (known: {listed})")
        return [wanted]
    return sorted(known)


def _entities(
    facts: Sequence[CaseFact],
    people: Sequence[PathologistFact],
    names: Mapping[str, str],
    groups: Sequence[str],
    norm: CapacityNorm,
    department: str | None,
    tumour_group: str | None,
    region_name: str | None,
) -> tuple[_Entity, list[_Entity], list[_Entity]]:
    codes = [department] if department is not None else list(names)
    staff_of: dict[str, dict[str, float]] = {code: {} for code in names}
    for person in people:
        share = _share_of(person, tumour_group)
        if person.department_code in staff_of and share > 0:
            staff_of[person.department_code][person.code] = share
    holders_of = {person.code: person.department_code for person in people}
    by_department: dict[str, list[CaseFact]] = {code: [] for code in names}
    signed_by_department: dict[str, list[CaseFact]] = {code: [] for code in names}
    for case in facts:
        by_department.setdefault(case.department_code, []).append(case)
        if case.signed_out_at is not None and case.pathologist_code in holders_of:
            signed_by_department[holders_of[case.pathologist_code]].append(case)
    departments = [
        _Entity(
            code=code,
            name=names[code],
            kind="department",
            cases=by_department[code],
            signed_out=signed_by_department[code],
            staff=staff_of[code],
            budget_fte=norm.department_fte.get(code),
        )
        for code in codes
    ]
    if department is not None:
        only = departments[0]
        region_cases, region_signed, region_staff = only.cases, only.signed_out, only.staff
        region_budget = only.budget_fte
    else:
        region_cases = list(facts)
        region_signed = [c for c in facts if c.signed_out_at is not None]
        region_staff = {code: share for staff in staff_of.values() for code, share in staff.items()}
        budgets = [norm.department_fte.get(code) for code in codes]
        region_budget = None if any(b is None for b in budgets) else sum(b or 0.0 for b in budgets)
    whole = region_name if region_name is not None else default_region().name
    if department is not None:
        # Narrowed to a department, the "region" entry holds that department's figures: its
        # name says so, so no page or file shows them under the region's name.
        whole = f"{names[department]} (narrowed from {whole})"
    if tumour_group is not None:
        whole = f"{whole}, {tumour_group_name(tumour_group)} only"
    region = _Entity(
        code="region",
        name=whole,
        kind="region",
        cases=region_cases,
        signed_out=region_signed,
        staff=region_staff,
        budget_fte=region_budget,
    )
    tumour_groups = [
        _Entity(
            code=group,
            name=tumour_group_name(group),
            kind="tumour_group",
            cases=[c for c in region.cases if c.tumour_group == group],
            signed_out=[c for c in region.signed_out if c.tumour_group == group],
            staff={
                p.code: _share_of(p, group)
                for p in people
                if p.code in region.staff and _share_of(p, group) > 0
            },
            budget_fte=norm.tumour_group_fte.get(group),
        )
        for group in groups
    ]
    return region, departments, tumour_groups


def _share_of(person: PathologistFact, tumour_group: str | None) -> float:
    """The share of a pathologist's supply that serves ``tumour_group`` (None: all of it)."""
    if tumour_group is None:
        return 1.0
    if tumour_group not in person.subspecialties:
        return 0.0
    return 1.0 / len(person.subspecialties)


def _signed_out_by_person(facts: Iterable[CaseFact], period: Period) -> dict[str, float]:
    by_code = signed_out_minutes(facts, period.start, period.stop)
    return {code: minutes for code, minutes in by_code.items() if code is not None}


def _signed_out_in(cases: Iterable[CaseFact], period: Period) -> list[CaseFact]:
    """The cases signed out on the period's days."""
    return [c for c in cases if c.signed_out_day is not None and period.contains(c.signed_out_day)]


def _daily_supply(entity: _Entity, table: SupplyTable) -> list[float]:
    """The entity's supply per day of the table."""
    length = (table.stop_day - table.first_day).days
    total = [0.0] * length
    for code, share in entity.staff.items():
        row = table.daily_minutes.get(code)
        if row is None or share == 0:
            continue
        for i, minutes in enumerate(row):
            if minutes:
                total[i] += minutes * share
    return total


def _weekly_rows(
    entity: _Entity, window: ReportWindow, view: DemandOutlook
) -> list[dict[str, Any]]:
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


# -- one section: the metrics of an entity --------------------------------------------------


def _metric(
    realisation: float | None, norm: float | None = None, forecast: float | None = None
) -> dict[str, float | None]:
    return {"realisation": realisation, "norm": norm, "forecast": forecast}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class _Context:
    """What every section of one report is computed with."""

    window: ReportWindow
    norm: CapacityNorm
    model: WorkloadModel
    holidays: frozenset[date]
    signed_by_person: Mapping[str, float]
    """Pathologist code -> minutes signed out in the period."""
    person_supply: Mapping[str, float]
    """Pathologist code -> supply minutes in the period."""


def _section(
    entity: _Entity, daily_supply: Sequence[float], view: DemandOutlook, context: _Context
) -> dict[str, Any]:
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
    context: _Context,
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


def _pathologist_rows(
    people: Sequence[PathologistFact],
    region: _Entity,
    signed_by_person: Mapping[str, float],
    person_supply: Mapping[str, float],
) -> list[dict[str, Any]]:
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


def _tat_histogram(
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


# -- JSON safety ------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """Plain JSON values: no NaN or infinity (None instead), tuples as lists, rounded floats."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    try:
        number = float(value)  # numpy scalars from the forecast
    except (TypeError, ValueError):
        raise TypeError(f"not JSON-safe: {value!r}") from None
    return round(number, 4) if math.isfinite(number) else None
