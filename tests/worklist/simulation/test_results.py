"""The comparison on the packaged region's synthetic stream: its shape, and one answer per seed."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from worklist.region import default_region
from worklist.simulation.arrivals import synthetic_arrivals
from worklist.simulation.model import simulate_policies
from worklist.simulation.policies import POLICIES
from worklist.simulation.results import case_facts, compare

START = date(2025, 3, 3)
POLICY_KEYS = {
    "name",
    "description",
    "cases",
    "signed_out",
    "unreported",
    "tat_p50_days",
    "tat_p90_days",
    "pct_within_7_days",
    "pct_within_10_days",
    "pct_within_target",
    "utilisation",
    "balance_gini",
    "moved_cases",
    "moved_second_reads",
    "travel_km_cases",
    "travel_km_second_reads",
    "moves_without_distance",
    "by_rule",
    "rounds",
    "departments",
}


def _comparison(seed: int, policies: tuple[str, ...] = ("local", "regional")) -> dict[str, Any]:
    region = default_region()
    arrivals = synthetic_arrivals(
        start=START,
        weeks=2,
        seed=seed,
        cases_per_year=20_000,
        departments=[d.code for d in region.departments],
    )
    runs = simulate_policies(
        region, arrivals, [POLICIES[p] for p in policies], start=START, weeks=2, drain_days=14
    )
    return compare(runs, region, source="synthetic", seed=seed)


@pytest.fixture(scope="module")
def comparison() -> dict[str, Any]:
    return _comparison(1)


def test_the_shape_of_a_comparison(comparison: dict[str, Any]) -> None:
    assert comparison["region"] == "Regionale digitale pathologie Zuid-Holland"
    assert (comparison["start"], comparison["weeks"], comparison["drain_days"]) == (
        "2025-03-03",
        2,
        14,
    )
    assert comparison["pathologists"] == 48
    assert [p["name"] for p in comparison["policies"]] == ["local", "regional"]
    for policy in comparison["policies"]:
        assert set(policy) == POLICY_KEYS
        assert policy["cases"] == comparison["cases"] > 500
        assert policy["signed_out"] + policy["unreported"] == policy["cases"]
        assert [d["code"] for d in policy["departments"]] == [
            d.code for d in default_region().departments
        ]
        assert sum(d["cases"] for d in policy["departments"]) == policy["cases"]
        assert 0 < policy["utilisation"] < 1 and 0 <= policy["balance_gini"] < 1
    json.dumps(comparison, allow_nan=False)  # JSON-safe: no NaN, no dates


def test_what_sharing_buys_on_the_packaged_region(comparison: dict[str, Any]) -> None:
    local, regional = comparison["policies"]
    # Alone, a department cannot report a tumour group none of its pathologists reports.
    assert local["moved_cases"] == 0 and local["travel_km_cases"] == 0
    assert local["unreported"] > regional["unreported"]
    assert regional["pct_within_target"] > local["pct_within_target"]
    assert regional["moved_cases"] > 0 and regional["travel_km_cases"] > 0
    assert regional["moves_without_distance"] == 0


def test_one_seed_one_answer(comparison: dict[str, Any]) -> None:
    assert _comparison(1) == comparison
    assert _comparison(2) != comparison


def test_simulated_cases_as_facts() -> None:
    region = default_region()
    arrivals = synthetic_arrivals(
        start=START, weeks=1, seed=3, cases_per_year=5_000, departments=["HMC", "LUMC"]
    )
    (run,) = simulate_policies(region, arrivals, [POLICIES["regional"]], start=START, weeks=1)
    facts = case_facts(run)
    assert [f.case_id for f in facts] == list(range(1, len(arrivals) + 1))
    codes = {p.code for p in region.pathologists}
    for fact, case in zip(facts, run.cases, strict=True):
        assert fact.received_at == case.arrival.received_at
        assert fact.signed_out_at == case.signed_out_at
        assert (fact.pathologist_code in codes) == (case.primary_id is not None)
