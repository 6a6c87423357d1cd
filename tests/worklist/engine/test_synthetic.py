"""The synthetic region: reproducible, realistic enough to exercise every rule."""

from __future__ import annotations

from collections import Counter

from tests.worklist.engine.invariants import check_invariants
from worklist.engine import Rule, plan_assignments
from worklist.engine.synthetic import DEPARTMENTS, SyntheticRegion, synthetic_snapshot

SMALL = SyntheticRegion(cases=800, pathologists=40)


def test_same_seed_same_snapshot() -> None:
    assert synthetic_snapshot(SMALL) == synthetic_snapshot(SMALL)
    assert synthetic_snapshot(SMALL) != synthetic_snapshot(SyntheticRegion(800, 40, seed=1))


def test_sizes_and_departments() -> None:
    snapshot = synthetic_snapshot(SMALL)

    assert (len(snapshot.cases), len(snapshot.pathologists)) == (800, 40)
    assert {c.department for c in snapshot.cases} == set(DEPARTMENTS)


def test_a_round_on_the_synthetic_region_keeps_every_invariant() -> None:
    snapshot = synthetic_snapshot(SMALL)
    plan = plan_assignments(snapshot)

    check_invariants(snapshot, plan)
    used = Counter(p.rule for p in plan.proposals)
    assert {Rule.LOCAL_CAPACITY, Rule.REGIONAL_LEAST_LOAD, Rule.SECOND_READ_TRIGGER} <= set(used)
    assert plan_assignments(snapshot) == plan
