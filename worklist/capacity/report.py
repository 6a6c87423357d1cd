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
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from worklist.calendar import public_holidays
from worklist.capacity.demand import DemandOutlook, demand_outlook
from worklist.capacity.entities import daily_supply_of, report_entities, shown_tumour_groups
from worklist.capacity.facts import CaseFact, load_case_facts, load_pathologist_facts
from worklist.capacity.norm import CapacityNorm, load_norm
from worklist.capacity.periods import Period, ReportWindow, local_midnight, week_label
from worklist.capacity.sections import (
    SectionContext,
    entity_section,
    pathologist_rows,
    tat_histogram_rows,
    weekly_rows,
)
from worklist.capacity.summary import summary_sentences
from worklist.capacity.supply import signed_out_minutes, supply_table
from worklist.errors import ValidationError
from worklist.models import Department
from worklist.workload import WorkloadModel

__all__ = ["HISTORY_WEEKS", "HORIZON_WEEKS", "capacity_report"]

HISTORY_WEEKS = 52
HORIZON_WEEKS = 12
# A period that starts later than this after today is refused (its forecast is a guess).
_MAX_AHEAD_DAYS = 2 * 365


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
    groups = shown_tumour_groups(session, norm, people, tumour_group)
    facts = load_case_facts(
        session, model=model, since=local_midnight(window.first_day), tumour_group=tumour_group
    )
    table = supply_table(people, first_day=window.first_day, stop_day=window.stop_day, model=model)
    region, departments, tumour_groups = report_entities(
        facts, people, names, groups, norm, department, tumour_group, region_name
    )
    signed_by_person = _signed_out_by_person(facts, period)
    context = SectionContext(
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
        daily_supply = daily_supply_of(entity, table)
        key = (id(entity.cases), frozenset(entity.staff.items()))
        if key not in made:
            made[key] = demand_outlook(
                entity.cases, window=window, daily_supply_minutes=daily_supply
            )
        view = made[key]
        if view.forecast is not None:
            methods.add(view.forecast.method)
        outlooks[f"{entity.kind}:{entity.code}"] = view
        sections.append(entity_section(entity, daily_supply, view, context))
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
        "pathologists": pathologist_rows(people, region, signed_by_person, context.person_supply),
        "weekly": [
            row
            for entity in (region, *departments)
            for row in weekly_rows(entity, window, outlooks[f"{entity.kind}:{entity.code}"])
        ],
        "tat_histogram": tat_histogram_rows(region.cases, [d.code for d in departments], period),
    }
    report["summary"] = summary_sentences(report, outlooks, window)
    result: dict[str, Any] = _json_safe(report)
    return result


def _signed_out_by_person(facts: Iterable[CaseFact], period: Period) -> dict[str, float]:
    by_code = signed_out_minutes(facts, period.start, period.stop)
    return {code: minutes for code, minutes in by_code.items() if code is not None}


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
