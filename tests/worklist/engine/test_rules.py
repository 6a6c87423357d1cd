"""Scenario tests: each reads like one of the assignment rules in DESIGN.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

import pytest

from tests.worklist.engine.builders import DAY_MINUTES, GI, NOW, case, pathologist, snapshot
from worklist.engine import (
    GENERAL,
    AssignmentPlan,
    Rule,
    RuleSet,
    Snapshot,
    can_pull,
    plan_assignments,
    propose_assignments,
)
from worklist.enums import AssignmentKind, Priority
from worklist.errors import ValidationError

DERMATO = "dermatopathology"
HAEMATO = "haematopathology"


T = TypeVar("T")


def only(items: Sequence[T]) -> T:
    assert len(items) == 1, items
    return items[0]


def primaries(plan: AssignmentPlan) -> dict[int, int]:
    """case id -> proposed primary pathologist id."""
    return {p.case_id: p.pathologist_id for p in plan.proposals if p.kind is AssignmentKind.PRIMARY}


# -- (1) eligibility ---------------------------------------------------------------------------


def test_only_a_pathologist_of_the_cases_subspecialty_reports_it() -> None:
    dermatologist = pathologist(1, subspecialties=[DERMATO])
    gi = pathologist(2, subspecialties=[GI], today=200)

    assert only(propose_assignments(snapshot([case(10)], [dermatologist, gi]))).pathologist_id == 2


def test_absent_pathologist_gets_nothing() -> None:
    on_leave = pathologist(1, present=False)
    plan = plan_assignments(snapshot([case(10)], [on_leave]))

    assert plan.proposals == ()
    assert "on the roster" in only(plan.unplaced).reason


def test_personal_maximum_is_never_exceeded() -> None:
    nearly_full = pathologist(1, max_open=400, open_minutes=390)  # 10 minutes below the maximum
    plan = plan_assignments(snapshot([case(10, category=2)], [nearly_full]))  # a 15-minute case

    assert plan.proposals == ()
    assert [u.case_id for u in plan.unplaced] == [10]


def test_general_pool_takes_over_only_where_the_rule_set_allows() -> None:
    full_dermatologist = pathologist(1, subspecialties=[DERMATO], today=DAY_MINUTES)
    generalist = pathologist(2, subspecialties=[GENERAL])
    skin_biopsy = case(10, subspecialty=DERMATO)

    strict = plan_assignments(snapshot([skin_biopsy], [full_dermatologist, generalist]))
    allowed = RuleSet(general_pool_fallback=frozenset({DERMATO}))
    lenient = plan_assignments(snapshot([skin_biopsy], [full_dermatologist, generalist], allowed))

    assert strict.proposals == ()
    proposal = only(lenient.proposals)
    assert (proposal.pathologist_id, proposal.rule) == (2, Rule.GENERAL_POOL)
    assert "general pool" in proposal.reason


def test_specialists_elsewhere_come_before_the_local_general_pool() -> None:
    full_local_dermatologist = pathologist(1, "Alrijne", [DERMATO], today=DAY_MINUTES)
    local_generalist = pathologist(2, "Alrijne", [GENERAL])
    dermatologist_at_lumc = pathologist(3, "LUMC", [DERMATO], today=100)
    rules = RuleSet(general_pool_fallback=frozenset({DERMATO}))
    staff = [full_local_dermatologist, local_generalist, dermatologist_at_lumc]

    proposal = only(propose_assignments(snapshot([case(10, subspecialty=DERMATO)], staff, rules)))

    assert (proposal.pathologist_id, proposal.rule) == (3, Rule.REGIONAL_LEAST_LOAD)


def test_frozen_section_stays_on_site() -> None:
    frozen = case(10, "Alrijne", priority=Priority.FROZEN, due_in=timedelta(minutes=20))
    busy_local = pathologist(1, "Alrijne", max_open=100, open_minutes=90)
    idle_at_lumc = pathologist(2, "LUMC")

    plan = plan_assignments(snapshot([frozen], [busy_local, idle_at_lumc]))

    assert plan.proposals == ()
    assert "at Alrijne" in plan.unplaced[0].reason


# -- (2) locality ------------------------------------------------------------------------------


def test_gi_biopsy_at_alrijne_stays_at_alrijne_while_its_gi_pathologists_have_room() -> None:
    alrijne = pathologist(1, "Alrijne", name="Dr. de Vries", today=DAY_MINUTES - 40)
    idle_at_lumc = pathologist(2, "LUMC")

    proposal = only(propose_assignments(snapshot([case(10, "Alrijne")], [alrijne, idle_at_lumc])))

    assert (proposal.pathologist_id, proposal.rule) == (1, Rule.LOCAL_CAPACITY)
    assert proposal.reason == (
        "gastro-intestinal case ALR-T25-000010 (15 min) from Alrijne stays at Alrijne: "
        "Dr. de Vries has 40 of 274 minutes free today."
    )


def test_gi_biopsy_leaves_alrijne_once_its_gi_pathologists_are_full() -> None:
    alrijne = pathologist(1, "Alrijne", today=DAY_MINUTES - 10)  # 10 minutes left, case needs 15
    lumc = pathologist(2, "LUMC", today=200)

    proposal = only(propose_assignments(snapshot([case(10, "Alrijne")], [alrijne, lumc])))

    assert (proposal.pathologist_id, proposal.rule) == (2, Rule.REGIONAL_LEAST_LOAD)
    assert proposal.reason.startswith("Alrijne's gastro-intestinal pathologists have no room")


def test_goes_to_least_loaded_department_when_local_is_full() -> None:
    full_alrijne = pathologist(1, "Alrijne", today=DAY_MINUTES)
    # Open minutes include those assigned today: relative load = open / today's capacity.
    busy_lumc = pathologist(2, "LUMC", open_minutes=300, today=100)  # relative load 1.09
    quiet_hmc = pathologist(3, "HMC", open_minutes=60, today=20)  # relative load 0.22

    proposal = only(propose_assignments(snapshot([case(10)], [full_alrijne, busy_lumc, quiet_hmc])))

    assert (proposal.pathologist_id, proposal.rule) == (3, Rule.REGIONAL_LEAST_LOAD)
    assert "Dr. 3 at HMC, the least loaded in the region (22% relative load)" in proposal.reason


def test_within_a_department_the_least_loaded_colleague_first() -> None:
    loaded = pathologist(1, open_minutes=500)
    light = pathologist(2, open_minutes=100)

    assert only(propose_assignments(snapshot([case(10)], [loaded, light]))).pathologist_id == 2


def test_loads_grow_within_a_round_so_work_spreads() -> None:
    staff = [pathologist(1), pathologist(2), pathologist(3)]
    plan = plan_assignments(snapshot([case(i) for i in range(10, 16)], staff))

    assert sorted(primaries(plan).values()) == [1, 1, 2, 2, 3, 3]


def test_equal_loads_break_ties_by_pathologist_id() -> None:
    staff = [pathologist(7, "LUMC"), pathologist(3, "LUMC")]

    assert only(propose_assignments(snapshot([case(10, "LUMC")], staff))).pathologist_id == 3


# -- (3) order ---------------------------------------------------------------------------------


def test_urgent_before_routine() -> None:
    one_slot = pathologist(1, today=DAY_MINUTES - 15)
    routine = case(
        10, priority=Priority.ROUTINE, due_in=timedelta(days=2), received_ago=timedelta(days=5)
    )
    urgent = case(11, priority=Priority.URGENT, due_in=timedelta(days=2))

    plan = plan_assignments(snapshot([routine, urgent], [one_slot]))

    assert primaries(plan) == {11: 1}
    assert [u.case_id for u in plan.unplaced] == [10]


def test_priorities_in_order_frozen_urgent_cancer_pathway_routine() -> None:
    priorities = [Priority.ROUTINE, Priority.CANCER_PATHWAY, Priority.URGENT, Priority.FROZEN]
    open_cases = [
        case(10 + n, priority=p, due_in=timedelta(days=3)) for n, p in enumerate(priorities)
    ]
    plan = plan_assignments(snapshot(open_cases, [pathologist(1)]))

    assert [p.case_id for p in plan.proposals] == [13, 12, 11, 10]


def test_earliest_due_first_within_a_priority() -> None:
    one_slot = pathologist(1, capacity=300, today=285)
    later = case(10, due_in=timedelta(days=4))
    sooner = case(11, due_in=timedelta(days=3))

    assert primaries(plan_assignments(snapshot([later, sooner], [one_slot]))) == {11: 1}


# -- (4) continuity ----------------------------------------------------------------------------


def test_patient_cases_stay_with_one_pathologist() -> None:
    holder_at_lumc = pathologist(1, "LUMC", open_minutes=400, name="Dr. Jansen")
    idle_at_alrijne = pathologist(2, "Alrijne")
    earlier = case(10, "LUMC", patient="PSN-1", primary=1)
    new = case(11, "Alrijne", patient="PSN-1")

    proposal = only(
        propose_assignments(snapshot([earlier, new], [holder_at_lumc, idle_at_alrijne]))
    )

    assert (proposal.pathologist_id, proposal.rule) == (1, Rule.CONTINUITY)
    assert "Dr. Jansen (LUMC), who holds this patient's other open cases" in proposal.reason
    assert "PSN-1" not in proposal.reason


def test_a_patients_new_cases_in_one_round_go_together() -> None:
    staff = [pathologist(1), pathologist(2)]
    first, second = case(10, patient="PSN-1"), case(11, patient="PSN-1")

    plan = plan_assignments(snapshot([first, second], staff))

    assert primaries(plan) == {10: 1, 11: 1}
    assert plan.proposals[1].rule is Rule.CONTINUITY


def test_continuity_gives_way_to_eligibility() -> None:
    dermatologist = pathologist(1, subspecialties=[DERMATO])
    gi = pathologist(2)
    skin = case(10, subspecialty=DERMATO, patient="PSN-1", primary=1)
    stomach = case(11, patient="PSN-1")

    proposal = only(propose_assignments(snapshot([skin, stomach], [dermatologist, gi])))

    assert (proposal.pathologist_id, proposal.rule) == (2, Rule.LOCAL_CAPACITY)


def test_continuity_gives_way_to_the_personal_maximum() -> None:
    holder = pathologist(1, max_open=400, open_minutes=395)
    other = pathologist(2)
    held, new = case(10, patient="PSN-1", primary=1), case(11, patient="PSN-1")

    proposal = only(propose_assignments(snapshot([held, new], [holder, other])))

    assert proposal.pathologist_id == 2


# -- (5) mandatory second reads ----------------------------------------------------------------


def test_barrett_dysplasia_gets_experienced_gi_second_reader_at_another_site() -> None:
    author = pathologist(1, "Alrijne", experienced_in=[GI])
    experienced_colleague = pathologist(2, "Alrijne", experienced_in=[GI])
    inexperienced_at_hmc = pathologist(3, "HMC")  # lowest load, but not experienced
    experienced_at_lumc = pathologist(4, "LUMC", experienced_in=[GI], open_minutes=300)
    barrett = case(10, "Alrijne", category=3, primary=1, trigger="barrett_dysplasia")
    staff = [author, experienced_colleague, inexperienced_at_hmc, experienced_at_lumc]

    proposal = only(propose_assignments(snapshot([barrett], staff)))

    assert proposal.pathologist_id == 4
    assert (proposal.kind, proposal.rule) == (
        AssignmentKind.SECOND_OPINION,
        Rule.SECOND_READ_TRIGGER,
    )
    assert proposal.minutes == pytest.approx(20 * 0.5)  # half of a category-3 case
    assert "another site than the author's (Alrijne)" in proposal.reason
    assert proposal.reason.startswith("Barrett dysplasia in ALR-T25-000010 needs a second read")


def test_second_reader_at_the_authors_site_when_no_other_site_can() -> None:
    author = pathologist(1, "Alrijne", experienced_in=[GI])
    colleague = pathologist(2, "Alrijne", experienced_in=[GI])
    absent_at_lumc = pathologist(3, "LUMC", experienced_in=[GI], present=False)
    barrett = case(10, primary=1, trigger="barrett_dysplasia")

    proposal = only(propose_assignments(snapshot([barrett], [author, colleague, absent_at_lumc])))

    assert proposal.pathologist_id == 2
    assert "the author's own site (Alrijne)" in proposal.reason


def test_the_author_never_reads_their_own_case_twice() -> None:
    only_expert = pathologist(1, experienced_in=[GI])
    barrett = case(10, primary=1, trigger="barrett_dysplasia")

    plan = plan_assignments(snapshot([barrett], [only_expert]))

    assert plan.proposals == ()
    assert plan.unplaced[0].kind is AssignmentKind.SECOND_OPINION


def test_new_case_with_a_trigger_gets_primary_then_a_different_second_reader() -> None:
    staff = [pathologist(1, experienced_in=[GI]), pathologist(2, "LUMC", experienced_in=[GI])]
    barrett = case(10, trigger="barrett_dysplasia")

    plan = plan_assignments(snapshot([barrett], staff))

    assert [(p.kind, p.pathologist_id) for p in plan.proposals] == [
        (AssignmentKind.PRIMARY, 1),
        (AssignmentKind.SECOND_OPINION, 2),
    ]


def test_new_lymphoma_goes_to_a_panel_of_two() -> None:
    staff = [
        pathologist(1, "Haga", [HAEMATO], experienced_in=[HAEMATO]),
        pathologist(2, "LUMC", [HAEMATO], experienced_in=[HAEMATO]),
        pathologist(3, "HMC", [HAEMATO], experienced_in=[HAEMATO], open_minutes=100),
        pathologist(4, "Haga", [HAEMATO], experienced_in=[HAEMATO]),
    ]
    lymphoma = case(10, "Haga", HAEMATO, category=5, primary=1, trigger="new_lymphoma")

    plan = plan_assignments(snapshot([lymphoma], staff))

    assert [p.pathologist_id for p in plan.proposals] == [2, 3]
    assert all("panel of 2" in p.reason for p in plan.proposals)


def test_only_missing_panel_members_are_proposed() -> None:
    staff = [pathologist(n, "LUMC", [HAEMATO], experienced_in=[HAEMATO]) for n in (1, 2, 3)]
    lymphoma = case(10, "LUMC", HAEMATO, primary=1, trigger="new_lymphoma", second_readers=(2,))

    assert only(propose_assignments(snapshot([lymphoma], staff))).pathologist_id == 3


def test_second_read_waits_for_a_primary_pathologist() -> None:
    barrett = case(10, trigger="barrett_dysplasia")

    plan = plan_assignments(snapshot([barrett], [pathologist(1, present=False)]))

    assert [(u.case_id, u.kind) for u in plan.unplaced] == [
        (10, AssignmentKind.PRIMARY),
        (10, AssignmentKind.SECOND_OPINION),
    ]


def test_trigger_missing_from_the_table_asks_for_nothing() -> None:
    staff = [pathologist(1, experienced_in=[GI]), pathologist(2, experienced_in=[GI])]
    plan = plan_assignments(snapshot([case(10, primary=1, trigger="something_else")], staff))

    assert plan == AssignmentPlan((), ())


# -- (6) escalation and pulling ----------------------------------------------------------------


def test_case_near_deadline_escalates() -> None:
    full_alrijne = pathologist(1, "Alrijne", today=DAY_MINUTES)
    full_lumc = pathologist(2, "LUMC", today=DAY_MINUTES, open_minutes=100)
    due_soon = case(10, "Alrijne", priority=Priority.URGENT, due_in=timedelta(hours=3))
    not_yet = case(11, "Alrijne", due_in=timedelta(days=4))

    plan = plan_assignments(snapshot([due_soon, not_yet], [full_alrijne, full_lumc]))

    proposal = only(plan.proposals)
    assert (proposal.case_id, proposal.rule) == (10, Rule.ESCALATION)
    assert "is due in 3 h (escalation horizon 1 day) and Alrijne cannot place it" in proposal.reason
    assert [u.case_id for u in plan.unplaced] == [11]


def test_overdue_case_escalates_but_never_past_a_personal_maximum() -> None:
    at_maximum = pathologist(1, today=DAY_MINUTES, max_open=300, open_minutes=300)
    with_headroom = pathologist(2, "LUMC", today=DAY_MINUTES, max_open=300, open_minutes=200)
    overdue = case(10, due_in=timedelta(hours=-5))

    proposal = only(propose_assignments(snapshot([overdue], [at_maximum, with_headroom])))

    assert (proposal.pathologist_id, proposal.rule) == (2, Rule.ESCALATION)
    assert "is overdue by 5 h" in proposal.reason


def test_escalation_goes_to_someone_with_room_before_overloading_anyone() -> None:
    # Alrijne is full; LUMC's least loaded has no room today, Haga's has some: Haga, in time.
    full_alrijne = pathologist(1, "Alrijne", today=DAY_MINUTES)
    idle_but_full_today = pathologist(2, "LUMC", today=DAY_MINUTES - 5)
    busy_with_room = pathologist(3, "Haga", open_minutes=600)
    due_soon = [case(10 + k, due_in=timedelta(hours=3)) for k in range(3)]

    plan = plan_assignments(snapshot(due_soon, [full_alrijne, idle_but_full_today, busy_with_room]))

    assert [(p.pathologist_id, p.rule, p.overloaded) for p in plan.proposals] == [
        (3, Rule.ESCALATION, False)
    ] * 3
    assert all("past today's capacity" not in p.reason for p in plan.proposals)


def test_escalation_past_capacity_is_flagged_overloaded() -> None:
    full = pathologist(1, "Alrijne", today=DAY_MINUTES)
    also_full = pathologist(2, "LUMC", today=DAY_MINUTES, open_minutes=100)
    due_soon = case(10, due_in=timedelta(hours=3))

    proposal = only(propose_assignments(snapshot([due_soon], [full, also_full])))

    assert (proposal.pathologist_id, proposal.overloaded) == (1, True)
    assert "past today's capacity as nobody in the wider group has room" in proposal.reason


def test_escalation_horizon_is_configurable() -> None:
    full = pathologist(1, today=DAY_MINUTES)
    due_in_two_days = case(10, due_in=timedelta(days=2))
    rules = RuleSet(escalation_horizon=timedelta(days=3))

    assert propose_assignments(snapshot([due_in_two_days], [full])) == []
    assert only(propose_assignments(snapshot([due_in_two_days], [full], rules))).rule is (
        Rule.ESCALATION
    )


def test_a_pathologist_may_pull_only_when_their_queue_is_short() -> None:
    short_queue = pathologist(1, open_minutes=60)  # relative load 0.22
    long_queue = pathologist(2, open_minutes=400)  # relative load 1.46
    absent = pathologist(3, present=False)
    at_max = pathologist(4, open_minutes=50, max_open=50)
    world = snapshot([], [short_queue, long_queue, absent, at_max])

    assert [can_pull(p, world) for p in world.pathologists] == [True, False, False, False]


# -- the snapshot ------------------------------------------------------------------------------


def test_time_is_an_input() -> None:
    full = pathologist(1, today=DAY_MINUTES)
    open_case = case(10, due_in=timedelta(days=2))

    today = snapshot([open_case], [full], now=NOW)
    day_after_tomorrow = snapshot([open_case], [full], now=NOW + timedelta(days=2))

    assert propose_assignments(today) == []
    assert only(propose_assignments(day_after_tomorrow)).rule is Rule.ESCALATION


def test_snapshot_refuses_duplicate_ids() -> None:
    with pytest.raises(ValidationError, match="case id 10 appears twice"):
        Snapshot(NOW, (case(10), case(10)), ())
    with pytest.raises(ValidationError, match="pathologist id 1 appears twice"):
        Snapshot(NOW, (), (pathologist(1), pathologist(1)))


def test_rule_set_refuses_a_trigger_twice() -> None:
    from worklist.engine import DEFAULT_SECOND_READ_RULES

    with pytest.raises(ValidationError, match="appears twice"):
        RuleSet(second_reads=DEFAULT_SECOND_READ_RULES * 2)
