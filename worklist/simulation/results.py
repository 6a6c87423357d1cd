"""What a policy's simulation comes to: turnaround, utilisation, balance, moves and travel.

Every figure is computed by the capacity metrics' own functions on
:class:`~worklist.capacity.facts.CaseFact` records built for the simulated cases, so a simulated
P90 means what the capacity report's P90 means:

- turnaround (:func:`~worklist.capacity.turnaround.turnaround_days`,
  :func:`~worklist.capacity.turnaround.turnaround_stats`) over the cases signed out by the end
  of the run; ``pct_within_target`` (:func:`~worklist.capacity.turnaround.within_target`) over
  *all* the cases received, a case never reported counting as late;
- utilisation (:mod:`worklist.capacity.supply`): signed-out workload minutes of the primary
  holder over supply minutes, in the weeks of arrivals; balance is the Gini coefficient of the
  pathologists' utilisation;
- moves: reads done by a pathologist of another department than the case's (primary reads:
  the case moved; second reads: a consult at another site), and the one-way road km between
  the two departments' cities for each (:mod:`worklist.simulation.travel`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from worklist.capacity.facts import CaseFact
from worklist.capacity.supply import gini, signed_out_minutes, supply_table, utilisation
from worklist.capacity.turnaround import turnaround_days, turnaround_stats, within_target
from worklist.enums import AssignmentKind, CaseStatus
from worklist.region import Region
from worklist.simulation.model import SimulatedCase, SimulationRun, pathologist_facts
from worklist.simulation.travel import road_km
from worklist.workload import WorkloadModel

__all__ = ["case_facts", "compare", "policy_result"]


def case_facts(run: SimulationRun) -> list[CaseFact]:
    """The simulated cases as the capacity metrics' facts."""
    codes = [p.code for p in run.pathologists]
    return [_fact(case, codes) for case in run.cases]


def _fact(case: SimulatedCase, codes: Sequence[str]) -> CaseFact:
    arrival = case.arrival
    if case.signed_out_at is not None:
        status = CaseStatus.SIGNED_OUT
    elif case.primary_id is not None:
        status = CaseStatus.ASSIGNED
    else:
        status = CaseStatus.SCANNED
    return CaseFact(
        case_id=case.case_id,
        department_code=arrival.department,
        tumour_group=arrival.subspecialty,
        category=arrival.category,
        priority=arrival.priority,
        workload_minutes=case.minutes,
        received_at=arrival.received_at,
        due_at=case.due_at,
        signed_out_at=case.signed_out_at,
        status=status,
        pathologist_code=codes[case.primary_id - 1] if case.primary_id is not None else None,
    )


def _turnaround(facts: Sequence[CaseFact], model: WorkloadModel) -> dict[str, Any]:
    days = [d for d in (turnaround_days(f) for f in facts) if d is not None]
    stats = turnaround_stats(days)
    within = sum(within_target(f, model) is True for f in facts)
    return {
        "cases": len(facts),
        "signed_out": stats.cases,
        "unreported": len(facts) - stats.cases,
        "tat_p50_days": _round(stats.median_days),
        "tat_p90_days": _round(stats.p90_days),
        "pct_within_7_days": _round(stats.pct_within_7_days),
        "pct_within_10_days": _round(stats.pct_within_10_days),
        "pct_within_target": _round(100.0 * within / len(facts)) if facts else None,
    }


def policy_result(
    run: SimulationRun, region: Region, model: WorkloadModel | None = None
) -> dict[str, Any]:
    """One policy's figures, JSON-ready (numbers rounded; None where undefined)."""
    model = model or WorkloadModel()
    facts = case_facts(run)
    first_day = run.start
    stop_day = run.start + timedelta(weeks=run.weeks)
    people = pathologist_facts(region)
    supply = supply_table(people, first_day=first_day, stop_day=stop_day, model=model)
    signed = signed_out_minutes(facts, first_day, stop_day)
    per_person = {
        p.code: utilisation(signed.get(p.code, 0.0), supply.minutes(p.code, first_day, stop_day))
        for p in people
    }
    departments: list[dict[str, Any]] = []
    for department in region.departments:
        codes = [p.code for p in people if p.department_code == department.code]
        own = [f for f in facts if f.department_code == department.code]
        departments.append(
            {
                "code": department.code,
                "name": department.name,
                "pathologists": len(codes),
                "utilisation": _round(
                    utilisation(
                        sum(signed.get(c, 0.0) for c in codes),
                        supply.total(codes, first_day, stop_day),
                    )
                ),
                **_turnaround(own, model),
            }
        )
    all_codes = [p.code for p in people]
    return {
        "name": run.policy.name,
        "description": run.policy.description,
        **_turnaround(facts, model),
        "utilisation": _round(
            utilisation(
                sum(signed.get(c, 0.0) for c in all_codes),
                supply.total(all_codes, first_day, stop_day),
            )
        ),
        "balance_gini": _round(gini(per_person.values())),
        **_moves(run, region),
        "rounds": run.rounds,
        "departments": departments,
    }


def _moves(run: SimulationRun, region: Region) -> dict[str, Any]:
    city = {d.code: d.city for d in region.departments}
    by_rule: Counter[str] = Counter()
    moved: Counter[AssignmentKind] = Counter()
    km: dict[AssignmentKind, float] = defaultdict(float)
    unknown = 0
    for booking in run.bookings:
        by_rule[booking.rule] += 1
        origin = run.cases[booking.case_id - 1].arrival.department
        reader = run.pathologists[booking.pathologist_id - 1].department
        if reader == origin:
            continue
        moved[booking.kind] += 1
        distance = road_km(city.get(origin, ""), city.get(reader, ""))
        if distance is None:
            unknown += 1
        else:
            km[booking.kind] += distance
    primary, second = AssignmentKind.PRIMARY, AssignmentKind.SECOND_OPINION
    return {
        "moved_cases": moved[primary],
        "moved_second_reads": moved[second],
        "travel_km_cases": round(km[primary], 1),
        "travel_km_second_reads": round(km[second], 1),
        "moves_without_distance": unknown,
        "by_rule": dict(sorted(by_rule.items())),
    }


def compare(
    runs: Sequence[SimulationRun],
    region: Region,
    *,
    source: str,
    seed: int | None,
    model: WorkloadModel | None = None,
) -> dict[str, Any]:
    """The comparison of ``runs`` (one per policy, on the same arrivals), JSON-ready."""
    if not runs:
        return {"region": region.name, "source": source, "seed": seed, "policies": []}
    first = runs[0]
    return {
        "region": region.name,
        "source": source,
        "seed": seed,
        "start": first.start.isoformat(),
        "weeks": first.weeks,
        "drain_days": first.drain_days,
        "cases": len(first.cases),
        "pathologists": len(first.pathologists),
        "policies": [policy_result(run, region, model) for run in runs],
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
