"""The capacity report's written summary: where the shortfall is and why, in plain sentences.

Plain text only (the pages and files show it as text): departments' forecast shortfalls largest
first with their reasons, whether the region as a whole can cover them by sharing, departments
whose demand exceeded their supply in the period, the tumour groups most over their budget,
then overdue work and turnaround against the norm.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from worklist.capacity.demand import DemandOutlook
from worklist.capacity.periods import ReportWindow

__all__ = ["summary_sentences"]

# A shortfall smaller than this is noise, not a sentence in the summary.
_NOTED_FTE = 0.1
# The summary names at most this many tumour groups over their budget.
_BUDGET_SENTENCES = 3


def summary_sentences(
    report: Mapping[str, Any], outlooks: Mapping[str, DemandOutlook], window: ReportWindow
) -> list[str]:
    """Where the shortfall is and why, in plain sentences: departments' forecast shortfalls
    (largest first), whether the region as a whole can cover them, the tumour groups most
    over their budget, then overdue work and turnaround against the norm."""
    shortfalls = sorted(
        (
            sentence
            for section in report["departments"]
            if (
                sentence := _shortfall_sentence(
                    section, outlooks[f"department:{section['code']}"], window
                )
            )
            is not None
        ),
        key=lambda item: -item[0],
    )
    ordered = [text for _, text in shortfalls]
    realised = sorted(
        (
            sentence
            for section in report["departments"]
            if (sentence := _realised_sentence(section, report["period"]["label"])) is not None
        ),
        key=lambda item: -item[0],
    )
    if not shortfalls:
        ordered.append(
            f"No department's forecast demand exceeds its planned supply over the next "
            f"{len(window.forecast_weeks)} weeks by more than {_NOTED_FTE} FTE."
        )
    region = report["region"]["shortfall_fte"]["forecast"]
    narrowed = report.get("scope", {}).get("department_code") is not None
    # Whether sharing can cover a shortfall is a question about the whole region only.
    if shortfalls and region is not None and not narrowed:
        if region > _NOTED_FTE:
            ordered.append(
                f"The region as a whole falls {region:.1f} FTE short: sharing work between "
                f"departments cannot close the gap."
            )
        else:
            ordered.append(
                f"The region as a whole has {-region:.1f} FTE to spare: sharing work between "
                f"departments can cover the shortfall."
            )
    ordered.extend(text for _, text in realised)
    over_budget = sorted(
        (
            sentence
            for section in report["tumour_groups"]
            if (sentence := _budget_sentence(section, report["period"]["label"])) is not None
        ),
        key=lambda item: -item[0],
    )
    ordered.extend(text for _, text in over_budget[:_BUDGET_SENTENCES])
    ordered.extend(_work_sentences(report, window))
    return ordered


def _work_sentences(report: Mapping[str, Any], window: ReportWindow) -> list[str]:
    """Overdue work at the end and turnaround against its norm, for the region."""
    sentences: list[str] = []
    region = report["region"]
    overdue = region["overdue_cases"]["realisation"]
    if overdue:
        last_day = window.end_day - timedelta(days=1)
        older = region["overdue_by_bucket"][">10"]
        sentences.append(
            f"{overdue} case(s) were overdue at the end of {last_day.isoformat()}, "
            f"{older} of them received more than 10 days before."
        )
    within = region["pct_within_7_days"]
    if within["realisation"] is not None and within["norm"] is not None:
        if within["realisation"] < within["norm"]:
            sentences.append(
                f"The region signed out {within['realisation']:.0f}% of its cases within 7 days "
                f"in {report['period']['label']} (norm {within['norm']:.0f}%)."
            )
    return sentences


def _shortfall_sentence(
    section: Mapping[str, Any], view: DemandOutlook, window: ReportWindow
) -> tuple[float, str] | None:
    shortfall = section["shortfall_fte"]["forecast"]
    if shortfall is None or shortfall <= _NOTED_FTE or view.forecast is None:
        return None
    recent = min(12, len(view.history_minutes))
    past_demand = sum(view.history_minutes[-recent:]) / recent if recent else 0.0
    past_supply = sum(view.history_supply_minutes[-recent:]) / recent if recent else 0.0
    next_demand = float(sum(view.forecast.mean)) / len(view.forecast.mean)
    next_supply = sum(view.forecast_supply_minutes) / len(view.forecast_supply_minutes)
    reasons: list[str] = []
    if past_demand > 0 and next_demand > past_demand * 1.05:
        reasons.append(
            f"demand is forecast {100 * (next_demand / past_demand - 1):.0f}% above "
            f"the last {recent} weeks"
        )
    if past_supply > 0 and next_supply < past_supply * 0.95:
        reasons.append(
            f"planned supply is {100 * (1 - next_supply / past_supply):.0f}% below the last "
            f"{recent} weeks (absences, holidays)"
        )
    if not reasons:
        reasons.append(
            f"demand ({next_demand:,.0f} minutes a week) already outruns the staff's "
            f"capacity ({next_supply:,.0f} minutes a week)"
        )
    text = (
        f"{section['code']}: forecast demand exceeds planned supply by {shortfall:.1f} FTE over "
        f"the next {len(window.forecast_weeks)} weeks, because {' and '.join(reasons)}."
    )
    return shortfall, text


def _realised_sentence(section: Mapping[str, Any], label: str) -> tuple[float, str] | None:
    """A department whose demand exceeded its supply in the period, with what it did to it."""
    shortfall = section["shortfall_fte"]["realisation"]
    if shortfall is None or shortfall <= _NOTED_FTE:
        return None
    demand, supply = section["demand_minutes"], section["supply_minutes"]
    parts = [
        f"{section['code']}: in {label} demand exceeded supply by {shortfall:.1f} FTE "
        f"({demand['realisation']:,.0f} vs {supply['realisation']:,.0f} minutes)"
    ]
    used = section["utilisation"]
    if used["realisation"] is not None and used["norm"] is not None:
        parts.append(
            f"utilisation {100 * used['realisation']:.0f}% (norm {100 * used['norm']:.0f}%)"
        )
    backlog = section["backlog_days"]
    if backlog["realisation"] is not None and backlog["norm"] is not None:
        parts.append(
            f"backlog {backlog['realisation']:.1f} days of supply (norm {backlog['norm']:.1f})"
        )
    within = section["pct_within_target"]
    if within["realisation"] is not None and within["norm"] is not None:
        parts.append(
            f"{within['realisation']:.0f}% signed out within target (norm {within['norm']:.0f}%)"
        )
    return shortfall, "; ".join(parts) + "."


def _budget_sentence(section: Mapping[str, Any], label: str) -> tuple[float, str] | None:
    demand = section["demand_minutes"]
    if demand["norm"] is None or demand["norm"] <= 0 or demand["realisation"] <= demand["norm"]:
        return None
    excess = demand["realisation"] / demand["norm"] - 1
    if excess < 0.1:
        return None
    text = (
        f"{section['name']}: demand in {label} was {100 * excess:.0f}% above the budgeted "
        f"capacity ({demand['realisation']:,.0f} vs {demand['norm']:,.0f} minutes)."
    )
    return excess / 10, text
