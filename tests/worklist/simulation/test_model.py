"""The simulation model: a case worked by hand, local == regional without sharing, sharing helps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.worklist.simulation.scenario import START, daily_arrivals, person, region
from worklist.enums import AssignmentKind
from worklist.region import Region
from worklist.simulation.arrivals import Arrival
from worklist.simulation.model import Booking, SimulationRun, simulate, simulate_policies
from worklist.simulation.policies import POLICIES
from worklist.simulation.results import policy_result
from worklist.workload import WorkloadModel

LOCAL, REGIONAL = POLICIES["local"], POLICIES["regional"]


def _without_name(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("name", "description")}


def _course(run: SimulationRun) -> list[tuple[int, int | None, datetime | None]]:
    return [(c.case_id, c.primary_id, c.signed_out_at) for c in run.cases]


def test_one_case_by_hand() -> None:
    """Received Monday 09:00, after the 07:30 round: Tuesday's round gives it to the only
    pathologist, who starts at 08:00 and spends 15 of the day's 1369.57 / 5 = 273.91 minutes
    on it, spread over the 540-minute working day: 15 x 540 / 273.91 = 29.57 minutes."""
    the_region = region(person("AAA-01", "AAA", "breast"))
    arrival = daily_arrivals([("AAA", "breast", 1)], weeks=1)[0]
    run = simulate(the_region, [arrival], REGIONAL, start=START, weeks=1, drain_days=0)
    case = run.cases[0]
    day_minutes = WorkloadModel().minutes_per_fte_week / 5
    expected = datetime(2025, 3, 4, 8, 0, tzinfo=UTC) + timedelta(
        minutes=15.0 * 540.0 / day_minutes
    )
    assert case.primary_id == 1
    assert case.signed_out_at == expected
    assert [(b.day.isoformat(), b.kind, b.rule) for b in run.bookings] == [
        ("2025-03-04", AssignmentKind.PRIMARY, "local-capacity")
    ]
    result = policy_result(run, the_region)
    assert result["tat_p50_days"] == pytest.approx(
        (expected - arrival.received_at) / timedelta(days=1), abs=1e-3
    )
    assert result["pct_within_target"] == 100.0 and result["unreported"] == 0
    # 15 signed-out minutes over a week's supply of 1369.57.
    assert result["utilisation"] == pytest.approx(
        15.0 / WorkloadModel().minutes_per_fte_week, abs=1e-3
    )


def _sorted(run: SimulationRun) -> list[Booking]:
    return sorted(run.bookings, key=lambda b: (b.day, b.case_id, b.kind, b.pathologist_id))


def _equal(the_region: Region, arrivals: list[Arrival], weeks: int) -> SimulationRun:
    local, regional = simulate_policies(
        the_region, arrivals, (LOCAL, REGIONAL), start=START, weeks=weeks
    )
    assert _course(local) == _course(regional)
    # Within a round the departments' proposals interleave differently; the bookings do not.
    assert _sorted(local) == _sorted(regional)
    assert _without_name(policy_result(local, the_region)) == _without_name(
        policy_result(regional, the_region)
    )
    return regional


def test_regional_equals_local_when_no_sharing_is_possible() -> None:
    """Departments with no tumour group in common: the region has nobody else to share with,
    so even an overloaded department's cases go exactly where they go alone."""
    the_region = region(
        person("AAA-01", "AAA", "breast"),
        person("BBB-01", "BBB", "lung"),
        person("BBB-02", "BBB", "lung", fte=0.8),
    )
    arrivals = daily_arrivals([("AAA", "breast", 25), ("BBB", "lung", 12)], weeks=3)
    run = _equal(the_region, arrivals, weeks=3)
    result = policy_result(run, the_region)
    assert result["moved_cases"] == 0 and result["travel_km_cases"] == 0.0
    assert result["departments"][0]["tat_p90_days"] > 5  # AAA was overloaded, alone or not


def test_regional_equals_local_when_no_sharing_is_needed() -> None:
    """Shared tumour groups, but every department has room for its own cases every day."""
    the_region = region(
        person("AAA-01", "AAA", "breast", "lung"),
        person("BBB-01", "BBB", "lung", "breast"),
    )
    arrivals = daily_arrivals(
        [("AAA", "breast", 4), ("AAA", "lung", 3), ("BBB", "lung", 5)], weeks=2
    )
    run = _equal(the_region, arrivals, weeks=2)
    assert all(c.signed_out_at is not None for c in run.cases)


def test_sharing_helps_an_overloaded_department() -> None:
    """AAA's one pathologist gets 30 cases of 15 minutes a day (450 of 273.9 minutes); BBB's two
    get 5: alone, AAA's queue grows for four weeks; shared, BBB takes the overflow."""
    the_region = region(
        person("AAA-01", "AAA", "breast"),
        person("BBB-01", "BBB", "breast"),
        person("BBB-02", "BBB", "breast"),
    )
    arrivals = daily_arrivals([("AAA", "breast", 30), ("BBB", "breast", 5)], weeks=4)
    local, regional = (
        policy_result(run, the_region)
        for run in simulate_policies(
            the_region, arrivals, (LOCAL, REGIONAL), start=START, weeks=4, drain_days=60
        )
    )
    assert local["unreported"] == 0 and regional["unreported"] == 0
    assert regional["tat_p90_days"] < local["tat_p90_days"] / 3
    assert regional["pct_within_target"] > local["pct_within_target"]
    assert local["moved_cases"] == 0 and regional["moved_cases"] > 0
    # Every moved case went from Den Haag to Leiden: 19 km each.
    assert regional["travel_km_cases"] == pytest.approx(19.0 * regional["moved_cases"])
    assert regional["balance_gini"] < local["balance_gini"]
    assert regional["by_rule"]["regional-least-load"] == regional["moved_cases"]


def test_the_same_inputs_give_the_same_run() -> None:
    the_region = region(person("AAA-01", "AAA", "breast"), person("BBB-01", "BBB", "breast"))
    arrivals = daily_arrivals([("AAA", "breast", 25)], weeks=2)
    first = simulate(the_region, arrivals, REGIONAL, start=START, weeks=2)
    second = simulate(the_region, list(arrivals), REGIONAL, start=START, weeks=2)
    assert _course(first) == _course(second) and first.bookings == second.bookings
