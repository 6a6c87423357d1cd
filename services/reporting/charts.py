"""The capacity report's charts: one Vega-Lite definition for the web page and the HTML file.

:func:`capacity_charts` turns a report (the dict of
:func:`worklist.capacity.report.capacity_report`) into Vega-Lite v6 specifications with their
data inline. ``GET /reports/capacity/charts`` hands them to the Reports page, which draws them
with vega-embed (the viewer's pinned vega-lite); :func:`services.reporting.html.render_html`
renders the same specifications to SVG with vl-convert. No chart is defined anywhere else.

Every specification carries a ``title`` and a ``description`` (Vega writes the description as
the chart's ARIA label), draws nothing but its axes when the report has no cases, and uses only
expressions vega-interpreter evaluates (the page runs without ``unsafe-eval``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AGEING_BUCKETS", "SCHEMA", "Chart", "capacity_charts"]

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
AGEING_BUCKETS = ("0-2", "3-5", "6-7", "8-10", ">10")
"""The report's ageing buckets (days since receipt), youngest first."""
TAT_TARGET_DAYS = (7, 10)
"""The turnaround days the histogram marks: the 7- and 10-day targets of routine work."""

# Distinguishable colours (blue, orange, red, purple ...), the app's accent first.
_SERIES_COLOURS = ("#0b5cad", "#b35900", "#444444")
_AGEING_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#b35900", "#a4161a")
_TARGET_COLOUR = "#a4161a"
_SERIES = ("Demand, recorded", "Demand, forecast", "Supply")


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart of the report: a name for code (``demand_supply``), a title for people and its
    Vega-Lite specification (data inline, JSON-ready)."""

    name: str
    title: str
    spec: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "title", "spec"}``, as the API answers it."""
        return {"name": self.name, "title": self.title, "spec": self.spec}


def capacity_charts(report: Mapping[str, Any]) -> list[Chart]:
    """The report's charts, in reading order: demand and supply, backlog ageing, turnaround,
    utilisation per pathologist."""
    return [
        _demand_supply(report),
        _backlog_ageing(report),
        _tat_distribution(report),
        _utilisation(report),
    ]


def _entity_names(report: Mapping[str, Any]) -> dict[str, str]:
    """Entity code -> its label in a chart: the region, then the departments by code."""
    names = {"region": f"Region ({report['region']['name']})"}
    for department in report.get("departments", []):
        names[department["code"]] = f"{department['code']} ({department['name']})"
    return names


def _demand_supply(report: Mapping[str, Any]) -> Chart:
    names = _entity_names(report)
    values: list[dict[str, Any]] = []
    for row in report.get("weekly", []):
        entity = names.get(row["entity"], row["entity"])
        forecast = row["kind"] == "forecast"
        demand_series = _SERIES[1] if forecast else _SERIES[0]
        base = {"entity": entity, "week": row["week"], "week_start": row["week_start"]}
        values.append(
            {
                **base,
                "series": demand_series,
                "minutes": row["demand_minutes"],
                "lower_80": row["lower_80"],
                "upper_80": row["upper_80"],
            }
        )
        values.append({**base, "series": _SERIES[2], "minutes": row["supply_minutes"]})
    title = "Demand and supply per week, with the 80% forecast interval"
    period = report["period"]
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": {"text": title, "subtitle": f"Report period {period['label']} shaded"},
        "description": (
            "Workload minutes per week: demand as recorded over the last 52 weeks, the forecast "
            "of the 12 weeks ahead with its 80% interval as a band, and the staff's supply "
            "(planned for the weeks ahead), for the region and each department."
        ),
        "data": {"values": values},
        "facet": {
            "row": {
                "field": "entity",
                "type": "nominal",
                "title": None,
                "sort": list(names.values()),
                "header": {
                    "labelOrient": "top",
                    "labelAnchor": "start",
                    "labelFontWeight": "bold",
                    "labelFontSize": 12,
                },
            }
        },
        "resolve": {"scale": {"y": "independent"}},
        "spec": {
            "width": 640,
            "height": 130,
            "layer": [
                {
                    "data": {
                        "values": [{"start": period["start"], "stop": period["stop"]}],
                    },
                    "mark": {"type": "rect", "color": "#e8e8e8"},
                    "encoding": {
                        "x": {"field": "start", "type": "temporal"},
                        "x2": {"field": "stop"},
                    },
                },
                {
                    "transform": [{"filter": "isValid(datum.lower_80)"}],
                    "mark": {"type": "area", "opacity": 0.3, "color": _SERIES_COLOURS[1]},
                    "encoding": {
                        "x": {"field": "week_start", "type": "temporal", "title": "Week"},
                        "y": {"field": "lower_80", "type": "quantitative", "title": "Minutes"},
                        "y2": {"field": "upper_80"},
                    },
                },
                {
                    "mark": {"type": "line", "strokeWidth": 1.5},
                    "encoding": {
                        "x": {"field": "week_start", "type": "temporal", "title": "Week"},
                        "y": {"field": "minutes", "type": "quantitative", "title": "Minutes"},
                        "color": {
                            "field": "series",
                            "type": "nominal",
                            "title": None,
                            "scale": {"domain": list(_SERIES), "range": list(_SERIES_COLOURS)},
                            "legend": {"orient": "top"},
                        },
                        "strokeDash": {
                            "field": "series",
                            "type": "nominal",
                            "title": None,
                            "scale": {"domain": list(_SERIES), "range": [[1, 0], [5, 3], [2, 2]]},
                        },
                    },
                },
            ],
        },
    }
    return Chart("demand_supply", title, spec)


def _ageing_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    values = []
    for department in report.get("departments", []):
        ageing = department.get("ageing") or {}
        for order, bucket in enumerate(AGEING_BUCKETS):
            values.append(
                {
                    "department": department["code"],
                    "bucket": f"{bucket} days",
                    "order": order,
                    "cases": ageing.get(bucket, 0),
                }
            )
    return values


def _backlog_ageing(report: Mapping[str, Any]) -> Chart:
    title = "Work in progress by age, per department"
    buckets = [f"{bucket} days" for bucket in AGEING_BUCKETS]
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": {"text": title, "subtitle": _at_the_end(report)},
        "description": (
            "Cases in progress per department, stacked by the days since they were received: "
            "0-2, 3-5, 6-7, 8-10 and more than 10 days."
        ),
        "width": 640,
        "height": {"step": 28},
        "data": {"values": _ageing_rows(report)},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "department", "type": "nominal", "title": "Department"},
            "x": {
                "field": "cases",
                "type": "quantitative",
                "stack": "zero",
                "title": "Cases in progress",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "color": {
                "field": "bucket",
                "type": "ordinal",
                "title": "Days since receipt",
                "scale": {"domain": buckets, "range": list(_AGEING_COLOURS)},
                "legend": {"orient": "top"},
            },
            "order": {"field": "order", "type": "quantitative"},
        },
    }
    return Chart("backlog_ageing", title, spec)


def _at_the_end(report: Mapping[str, Any]) -> str:
    period = report["period"]
    if period["stop"] <= report["today"]:
        return f"At the end of {period['label']}"
    return f"On {report['today']} ({period['label']} has not ended)"


def _tat_distribution(report: Mapping[str, Any]) -> Chart:
    last = max((row["days"] for row in report.get("tat_histogram", [])), default=30)
    values = [
        {
            "department": row["department_code"],
            "days": row["days"],
            "from_days": row["days"],
            "to_days": row["days"] + 1,
            "label": f"{row['days']}+" if row["days"] == last else str(row["days"]),
            "cases": row["cases"],
        }
        for row in report.get("tat_histogram", [])
    ]
    # The labels one above the other: the targets are three days apart, the labels wider.
    targets = [
        {"days": days, "label": f"{days}-day target", "label_y": 2 + 14 * i}
        for i, days in enumerate(TAT_TARGET_DAYS)
    ]
    title = "Turnaround of the cases signed out, against the 7- and 10-day targets"
    x_scale = {"domain": [0, last + 1], "nice": False}
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": {"text": title, "subtitle": f"Signed out in {report['period']['label']}"},
        "description": (
            "Number of cases signed out in the period per whole day of turnaround (calendar "
            f"days from receipt, waits subtracted; the last bar is {last} days or more), "
            "stacked by department, with lines at the 7- and 10-day targets."
        ),
        "width": 640,
        "height": 220,
        "layer": [
            {
                "data": {"values": values},
                "mark": {"type": "bar", "stroke": "white", "strokeWidth": 0.5},
                "encoding": {
                    "x": {
                        "field": "from_days",
                        "type": "quantitative",
                        "title": f"Turnaround (calendar days; {last} = {last} or more)",
                        "scale": x_scale,
                    },
                    "x2": {"field": "to_days"},
                    "y": {
                        "aggregate": "sum",
                        "field": "cases",
                        "type": "quantitative",
                        "stack": "zero",
                        "title": "Cases",
                        "axis": {"tickMinStep": 1, "format": "d"},
                    },
                    "color": {
                        "field": "department",
                        "type": "nominal",
                        "title": "Department",
                        "scale": {"scheme": "tableau10"},
                        "legend": {"orient": "top"},
                    },
                },
            },
            {
                "data": {"values": targets},
                "mark": {"type": "rule", "color": _TARGET_COLOUR, "strokeDash": [4, 3]},
                "encoding": {"x": {"field": "days", "type": "quantitative", "scale": x_scale}},
            },
            {
                "data": {"values": targets},
                "mark": {
                    "type": "text",
                    "align": "left",
                    "dx": 3,
                    "baseline": "top",
                    "color": _TARGET_COLOUR,
                },
                "encoding": {
                    "x": {"field": "days", "type": "quantitative", "scale": x_scale},
                    "y": {"field": "label_y", "type": "quantitative", "scale": None},
                    "text": {"field": "label"},
                },
            },
        ],
    }
    return Chart("tat_distribution", title, spec)


def _utilisation(report: Mapping[str, Any]) -> Chart:
    people: Sequence[Mapping[str, Any]] = report.get("pathologists", [])
    values = [
        {
            "pathologist": person["code"],
            "name": person["name"],
            "department": person["department_code"],
            "utilisation_pct": (
                None if person["utilisation"] is None else 100 * person["utilisation"]
            ),
        }
        for person in people
    ]
    target = report["region"]["utilisation"]["norm"]
    title = "Utilisation per pathologist"
    described = (
        f"against the target of {100 * target:.0f}%" if target is not None else "(no target set)"
    )
    layers: list[dict[str, Any]] = [
        {
            "data": {"values": values},
            "mark": {"type": "bar"},
            "encoding": {
                "x": {
                    "field": "pathologist",
                    "type": "nominal",
                    "title": "Pathologist",
                    "sort": None,
                },
                "y": {
                    "field": "utilisation_pct",
                    "type": "quantitative",
                    "title": "Utilisation (% of supply)",
                },
                "color": {
                    "field": "department",
                    "type": "nominal",
                    "title": "Department",
                    "scale": {"scheme": "tableau10"},
                    "legend": {"orient": "top"},
                },
            },
        }
    ]
    if target is not None:
        layers.append(
            {
                "data": {"values": [{"target_pct": 100 * target, "label": "target"}]},
                "mark": {"type": "rule", "color": _TARGET_COLOUR, "strokeDash": [4, 3]},
                "encoding": {"y": {"field": "target_pct", "type": "quantitative"}},
            }
        )
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "title": {"text": title, "subtitle": f"{report['period']['label']}, {described}"},
        "description": (
            "Signed-out workload minutes as a percentage of each pathologist's supply in the "
            f"period, coloured by department, {described}."
        ),
        # A bar per pathologist; a narrow region keeps a readable width.
        "width": max(320, 14 * len(values)),
        "height": 220,
        "layer": layers,
    }
    return Chart("utilisation", title, spec)
