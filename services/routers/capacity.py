"""Capacity reports through the API: the report, its charts and its files, for the Reports page.

``GET /reports/capacity`` answers :func:`worklist.capacity.report.capacity_report`;
``/reports/capacity/charts`` its Vega-Lite charts (:func:`services.reporting.charts.
capacity_charts`, the one chart definition the HTML file draws too); ``/reports/capacity/
export`` the same report as a file (HTML, XLSX, CSV or JSON) to download.

Lab managers see the region and their own department: the other departments are left out of
every part of the report (its departments, pathologists, TAT histogram, weekly series and the
summary's sentences that name them), and asking for another department is refused.
Administrators see everything; nobody else sees any of it. The figures are sums over cases and
rosters; no case or patient is named, so reading them writes no audit record of a case access.

A report takes seconds: the routes are plain functions, run in the threadpool, never on the
event loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.deps import AuthenticatedUser, ManagerUser, SessionDep, SettingsDep
from services.errors import AccessDeniedError
from services.reporting.charts import capacity_charts
from services.reporting.files import ReportFormat, render_report
from services.routers.params import DepartmentFilter
from services.schemas.auth import ErrorBody
from services.schemas.capacity import CapacityChartsPublic, CapacityReportPublic, ChartPublic
from tiling.caches import SingleFlight
from worklist.capacity.norm import load_norm
from worklist.capacity.periods import parse_period
from worklist.capacity.report import capacity_report
from worklist.enums import Role
from worklist.errors import ValidationError
from worklist.snapshots import REGION_TIMEZONE

__all__ = [
    "CallerReport",
    "ReportFlights",
    "ReportScope",
    "report_scope",
    "report_today",
    "router",
    "scoped",
]

router = APIRouter(
    prefix="/reports",
    tags=["capacity"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {
            "model": ErrorBody,
            "description": "Lab managers (the region and their own department) and "
            "administrators only.",
        },
        422: {"model": ErrorBody, "description": "No such period, department or tumour group."},
    },
)

PeriodQuery = Annotated[
    str,
    Query(
        min_length=1,
        max_length=16,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="An ISO week (2026-W47), a month (2026-11) or a quarter (2026-Q4).",
    ),
]
TumourGroupQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Only this tumour group's cases (e.g. gastro-intestinal).",
    ),
]


def report_today() -> date:
    """Today on the region's wall clock: the day the report is made for (a dependency, so a
    test can pin it)."""
    return datetime.now(UTC).astimezone(REGION_TIMEZONE).date()


TodayDep = Annotated[date, Depends(report_today)]


ReportKey = tuple[str, str | None, str | None, date]
"""(period, department, tumour group, today): what a computed report depends on, its data aside."""
ReportFlights = SingleFlight[ReportKey, dict[str, Any]]
"""Identical report requests in flight at once share one computation; nothing is kept.

The Reports page asks for the report and its charts together, and a report takes seconds: the
second request waits for the first one's answer instead of computing it again. Only requests
that arrive while the report is being made share it, so no answer is older than one
computation; the next request after it computes afresh.
"""


def report_flights(request: Request) -> ReportFlights:
    """The app's :data:`ReportFlights`, made on first use (two made at once: one is kept, and
    the other's request simply computes its own report)."""
    flights: ReportFlights | None = getattr(request.app.state, "capacity_report_flights", None)
    if flights is None:
        flights = SingleFlight()
        request.app.state.capacity_report_flights = flights
    return flights


FlightsDep = Annotated[ReportFlights, Depends(report_flights)]


@dataclass(frozen=True, slots=True)
class ReportScope:
    """What a caller's report holds: narrowed to ``department_code`` (None: the region), and
    the departments they may see in it (None: every one)."""

    department_code: str | None
    visible: frozenset[str] | None


def report_scope(user: AuthenticatedUser, department_code: str | None) -> ReportScope:
    """The scope of ``user``'s report; AccessDeniedError for a lab manager who asks for
    another department than their own."""
    if user.role is Role.ADMIN:
        return ReportScope(department_code, None)
    own = user.department_code
    if department_code is not None and department_code != own:
        where = f"their own department ({own})" if own else "no department"
        raise AccessDeniedError(
            f"a lab manager sees the region and {where}, not department {department_code!r}"
        )
    return ReportScope(department_code, frozenset({own}) if own else frozenset())


def _hidden_names(report: Mapping[str, Any], visible: frozenset[str]) -> re.Pattern[str] | None:
    """A pattern that finds the code or name of any department the caller may not see."""
    names = [
        str(value)
        for department in report.get("departments", [])
        if department.get("code") not in visible
        for value in (department.get("code"), department.get("name"))
        if value
    ]
    if not names:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in names) + r")\b")


def scoped(report: Mapping[str, Any], visible: frozenset[str] | None) -> dict[str, Any]:
    """``report`` with only the departments in ``visible`` (None: all of them).

    The region's own figures and the tumour groups (regional sums) stay: a lab manager sees the
    region. A summary sentence that names a hidden department (or one of its pathologists,
    whose codes start with the department's) is left out.
    """
    if visible is None:
        return dict(report)
    hidden = _hidden_names(report, visible)
    return {
        **report,
        "departments": [d for d in report.get("departments", []) if d.get("code") in visible],
        "pathologists": [
            p for p in report.get("pathologists", []) if p.get("department_code") in visible
        ],
        "tat_histogram": [
            row
            for row in report.get("tat_histogram", [])
            if row.get("department_code") in visible
            or row.get("department_code") in (None, "region")
        ],
        "weekly": [
            row
            for row in report.get("weekly", [])
            if row.get("entity") == "region" or row.get("entity") in visible
        ],
        "summary": [
            line
            for line in report.get("summary", [])
            if hidden is None or hidden.search(str(line)) is None
        ],
    }


def caller_report(
    user: ManagerUser,
    session: SessionDep,
    settings: SettingsDep,
    flights: FlightsDep,
    today: TodayDep,
    period: PeriodQuery,
    department_code: DepartmentFilter = None,
    tumour_group: TumourGroupQuery = None,
) -> dict[str, Any]:
    """The caller's report (every route's): checked, computed, narrowed to what they may see."""
    scope = report_scope(user, department_code)
    chosen = parse_period(period)

    def compute() -> dict[str, Any]:
        try:
            return capacity_report(
                session,
                chosen,
                today=today,
                norm=load_norm(settings.capacity_norm_file),
                department=scope.department_code,
                tumour_group=tumour_group,
            )
        except OverflowError:
            # A period near year 1 or 9999: its history or forecast weeks leave the calendar.
            raise ValidationError(f"period {period!r} is too far from today to report on") from None

    key = (chosen.label, scope.department_code, tumour_group, today)
    return scoped(flights.run(key, compute), scope.visible)


CallerReport = Annotated[dict[str, Any], Depends(caller_report)]


@router.get("/capacity", response_model=CapacityReportPublic)
def capacity(report: CallerReport) -> dict[str, Any]:
    """Realisation, norm and forecast of every capacity metric in the period, for the region,
    the departments the caller may see and the tumour groups; the weekly series (52 recorded
    weeks and a 12-week forecast), the TAT histogram, utilisation per pathologist and a
    written summary. See docs/capacity.md for the metrics."""
    return report


@router.get("/capacity/charts", response_model=CapacityChartsPublic)
def capacity_chart_specs(report: CallerReport) -> CapacityChartsPublic:
    """The report's charts as Vega-Lite specifications with their data inline: the same
    definitions the HTML report draws (demand and supply with the forecast band, backlog
    ageing, turnaround against the targets, utilisation per pathologist)."""
    return CapacityChartsPublic(
        charts=[ChartPublic.model_validate(chart.as_dict()) for chart in capacity_charts(report)]
    )


def export_filename(
    period_label: str, department_code: str | None, tumour_group: str | None, extension: str
) -> str:
    """``capacity-2026-W47[-HMC][-lung].xlsx``: the period and the narrowing, safe as a name."""
    parts = ["capacity", period_label, department_code or "", tumour_group or ""]
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", "-".join(p for p in parts if p)).strip("-")
    return f"{stem}.{extension}"


@router.get(
    "/capacity/export",
    response_class=Response,
    responses={
        200: {
            "description": "The report as a file (Content-Disposition: attachment).",
            "content": {f.media_type.split(";")[0]: {} for f in ReportFormat},
        }
    },
)
def capacity_export(
    report: CallerReport,
    file_format: Annotated[
        ReportFormat,
        Query(alias="format", description="html (self-contained, opens offline), xlsx, csv, json."),
    ],
    department_code: DepartmentFilter = None,
    tumour_group: TumourGroupQuery = None,
) -> Response:
    """The report as a file to download: the self-contained HTML report with its charts, the
    spreadsheet (one sheet per view, numbers as numbers), its tables as CSV, or the JSON."""
    name = export_filename(
        report["period"]["label"], department_code, tumour_group, file_format.value
    )
    return Response(
        render_report(report, file_format),
        media_type=file_format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
