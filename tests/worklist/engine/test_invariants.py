"""Property-based tests: the engine's invariants hold for any snapshot, in any input order."""

from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.worklist.engine.builders import NOW
from tests.worklist.engine.invariants import (
    PRIMARY,
    check_daily_capacity_binds_except_escalation,
    check_eligibility,
    check_invariants,
    check_no_case_left_that_someone_could_still_take,
    check_no_higher_ranked_case_left_for_a_lower_one,
    check_nobody_over_maximum,
    check_second_readers,
    replay,
)
from worklist.engine import (
    GENERAL,
    CaseSnapshot,
    PathologistSnapshot,
    RuleSet,
    SecondReadRule,
    Snapshot,
    plan_assignments,
)
from worklist.enums import Priority

DEPARTMENTS = ("Alrijne", "LUMC", "HMC")
GROUPS = ("gastro-intestinal", "haematopathology", "dermatopathology", GENERAL)
RULES = (
    SecondReadRule(
        "gastro-intestinal",
        "barrett_dysplasia",
        "Barrett dysplasia",
        experienced_in="gastro-intestinal",
    ),
    SecondReadRule(
        "haematopathology",
        "new_lymphoma",
        "a new lymphoma",
        reviewers=2,
        experienced_in="haematopathology",
    ),
    SecondReadRule("dermatopathology", "melanoma_uncertain", "an uncertain melanocytic lesion"),
)
TRIGGERS = (None, "barrett_dysplasia", "new_lymphoma", "melanoma_uncertain", "not_in_table")

# Strategies are built once: building them inside the composites costs more than drawing.
# Loads mix round values (so that ties, where determinism is at stake, are common) with any.
MINUTES = st.sampled_from((0.0, 100.0, 300.0)) | st.integers(0, 600).map(float)
MAXIMUM = st.sampled_from((2_000.0, 400.0, 800.0)) | st.integers(0, 1_000).map(float)
TODAY = st.sampled_from((0.0, 100.0, 200.0)) | st.integers(0, 300).map(float)
CAPACITY = st.sampled_from((274.0, 137.0, 60.0, 0.0))
PRESENT = st.booleans() | st.just(True)
GROUP = st.sampled_from(GROUPS)
OWN_GROUPS = st.frozensets(GROUP, min_size=1, max_size=3)
DEPARTMENT = st.sampled_from(DEPARTMENTS)
FTE = st.sampled_from((0.5, 0.8, 1.0))
BOOL = st.booleans()
HOURS_AGO = st.integers(min_value=0, max_value=24 * 12)
HOURS_LEFT = st.integers(min_value=-48, max_value=24 * 10)
PATIENT = st.integers(min_value=0, max_value=6)
CATEGORY = st.integers(min_value=1, max_value=6)
PRIORITY = st.sampled_from(list(Priority))
TRIGGER = st.sampled_from(TRIGGERS)
ADD_ON = st.sampled_from((0.0, 12.5, 38.0))
INDEX = st.integers(min_value=0, max_value=20)
PATHOLOGIST_IDS = st.lists(st.integers(1, 500), min_size=2, max_size=12, unique=True)
CASE_IDS = st.lists(st.integers(1, 10_000), min_size=1, max_size=30, unique=True)
FALLBACK = st.frozensets(GROUP)
HORIZON_HOURS = st.sampled_from((0, 4, 24, 72))


def pathologist(draw: st.DrawFn, pathologist_id: int) -> PathologistSnapshot:
    subspecialties = draw(OWN_GROUPS)
    return PathologistSnapshot(
        pathologist_id=pathologist_id,
        name=f"Dr. {pathologist_id}",
        department=draw(DEPARTMENT),
        subspecialties=subspecialties,
        experienced_in=frozenset(g for g in sorted(subspecialties) if draw(BOOL)),
        fte=draw(FTE),
        max_open_minutes=draw(MAXIMUM),
        capacity_today_minutes=draw(CAPACITY),
        present=draw(PRESENT),
        open_minutes=draw(MINUTES),
        today_minutes=draw(TODAY),
    )


def someone(draw: st.DrawFn, pathologist_ids: list[int]) -> int | None:
    """One of the ids, or nobody (about half the time)."""
    if not pathologist_ids or draw(BOOL):
        return None
    return pathologist_ids[draw(INDEX) % len(pathologist_ids)]


def case(draw: st.DrawFn, case_id: int, pathologist_ids: list[int]) -> CaseSnapshot:
    primary = someone(draw, pathologist_ids)
    reader = someone(draw, pathologist_ids)
    return CaseSnapshot(
        case_id=case_id,
        accession=f"T25-{case_id:06d}",
        department=draw(DEPARTMENT),
        patient=f"PSN-{draw(PATIENT)}",
        subspecialty=draw(GROUP),
        category=draw(CATEGORY),
        priority=draw(PRIORITY),
        received_at=NOW - timedelta(hours=draw(HOURS_AGO)),
        due_at=NOW + timedelta(hours=draw(HOURS_LEFT)),
        primary_pathologist_id=primary,
        second_read_trigger=draw(TRIGGER),
        second_reader_ids=() if reader is None or reader == primary else (reader,),
        add_on_minutes=draw(ADD_ON),
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    """Small regions: up to 12 pathologists in 3 departments and 30 cases over 7 patients."""
    pathologist_ids = draw(PATHOLOGIST_IDS)
    staff = tuple(pathologist(draw, i) for i in pathologist_ids)
    open_cases = tuple(case(draw, i, pathologist_ids) for i in draw(CASE_IDS))
    rules = RuleSet(
        general_pool_fallback=draw(FALLBACK),
        second_reads=RULES,
        escalation_horizon=timedelta(hours=draw(HORIZON_HOURS)),
    )
    return Snapshot(NOW, open_cases, staff, rules)


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_every_invariant_holds(snapshot: Snapshot) -> None:
    check_invariants(snapshot, plan_assignments(snapshot))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_nobody_goes_over_their_personal_maximum(snapshot: Snapshot) -> None:
    check_nobody_over_maximum(replay(snapshot, plan_assignments(snapshot)))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_only_today_capacity_gives_way_and_only_to_escalation(snapshot: Snapshot) -> None:
    check_daily_capacity_binds_except_escalation(replay(snapshot, plan_assignments(snapshot)))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_no_ineligible_assignment(snapshot: Snapshot) -> None:
    check_eligibility(snapshot, replay(snapshot, plan_assignments(snapshot)))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_no_urgent_case_left_while_a_routine_one_takes_its_slot(snapshot: Snapshot) -> None:
    plan = plan_assignments(snapshot)
    check_no_higher_ranked_case_left_for_a_lower_one(snapshot, plan, replay(snapshot, plan))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_no_case_is_left_that_someone_eligible_could_still_take(snapshot: Snapshot) -> None:
    plan = plan_assignments(snapshot)
    check_no_case_left_that_someone_could_still_take(snapshot, plan, replay(snapshot, plan))


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_second_reader_is_never_the_author(snapshot: Snapshot) -> None:
    plan = plan_assignments(snapshot)
    check_second_readers(snapshot, plan, replay(snapshot, plan))


def reordered(
    snapshot: Snapshot, cases: list[CaseSnapshot], staff: list[PathologistSnapshot]
) -> Snapshot:
    return Snapshot(snapshot.now, tuple(cases), tuple(staff), snapshot.rules, snapshot.workload)


@settings(max_examples=80, deadline=None)
@given(snapshots(), st.randoms(use_true_random=False))
def test_same_snapshot_in_any_order_gives_the_same_proposals(
    snapshot: Snapshot, rng: random.Random
) -> None:
    first = plan_assignments(snapshot)
    assert plan_assignments(snapshot) == first

    backwards = reordered(snapshot, list(snapshot.cases)[::-1], list(snapshot.pathologists)[::-1])
    assert plan_assignments(backwards) == first

    cases, staff = list(snapshot.cases), list(snapshot.pathologists)
    rng.shuffle(cases)
    rng.shuffle(staff)
    assert plan_assignments(reordered(snapshot, cases, staff)) == first


@st.composite
def crowds(draw: st.DrawFn) -> Snapshot:
    """Interchangeable pathologists and look-alike cases: every choice is a tie."""
    load = draw(st.sampled_from((0.0, 50.0, 150.0)))
    staff = tuple(
        PathologistSnapshot(
            pathologist_id=i,
            name=f"Dr. {i}",
            department=DEPARTMENTS[draw(st.integers(0, 1))],
            subspecialties=frozenset({"gastro-intestinal"}),
            experienced_in=frozenset({"gastro-intestinal"}),
            fte=1.0,
            max_open_minutes=400.0,
            capacity_today_minutes=137.0,
            open_minutes=load,
            today_minutes=load / 2,
        )
        for i in draw(st.lists(st.integers(1, 99), min_size=2, max_size=8, unique=True))
    )
    cases = tuple(
        CaseSnapshot(
            case_id=i,
            accession=f"T25-{i:06d}",
            department=DEPARTMENTS[draw(st.integers(0, 2))],
            patient=f"PSN-{i}",
            subspecialty="gastro-intestinal",
            category=draw(st.sampled_from((2, 4))),
            priority=draw(st.sampled_from((Priority.URGENT, Priority.ROUTINE))),
            received_at=NOW,
            due_at=NOW + timedelta(hours=draw(st.sampled_from((2, 48)))),
            second_read_trigger=draw(st.sampled_from((None, "barrett_dysplasia"))),
        )
        for i in draw(st.lists(st.integers(1, 999), min_size=1, max_size=25, unique=True))
    )
    return Snapshot(NOW, cases, staff, RuleSet(second_reads=RULES))


@settings(max_examples=60, deadline=None)
@given(crowds(), st.randoms(use_true_random=False))
def test_ties_break_by_id_not_by_input_order(snapshot: Snapshot, rng: random.Random) -> None:
    first = plan_assignments(snapshot)
    backwards = reordered(snapshot, list(snapshot.cases)[::-1], list(snapshot.pathologists)[::-1])
    assert plan_assignments(backwards) == first
    cases, staff = list(snapshot.cases), list(snapshot.pathologists)
    rng.shuffle(cases)
    rng.shuffle(staff)
    assert plan_assignments(reordered(snapshot, cases, staff)) == first
    check_invariants(snapshot, first)


@settings(max_examples=30, deadline=None)
@given(snapshots())
def test_a_round_never_proposes_a_second_primary(snapshot: Snapshot) -> None:
    assigned = {c.case_id for c in snapshot.cases if c.primary_pathologist_id is not None}
    proposed = {p.case_id for p in plan_assignments(snapshot).proposals if p.kind is PRIMARY}
    assert not assigned & proposed
