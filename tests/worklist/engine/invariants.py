"""The engine's invariants as one checker, shared by the property tests and the synthetic region.

Each check recomputes from the snapshot and the plan alone, without the engine's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

from worklist.engine import GENERAL, AssignmentPlan, CaseSnapshot, PathologistSnapshot, Rule
from worklist.engine import Snapshot as EngineSnapshot
from worklist.enums import AssignmentKind, Priority

PRIMARY = AssignmentKind.PRIMARY
SECOND = AssignmentKind.SECOND_OPINION


def rank(case: CaseSnapshot) -> tuple[int, object, object, int]:
    """The engine's documented order: priority, due, received, id."""
    return (list(Priority).index(case.priority), case.due_at, case.received_at, case.case_id)


@dataclass
class Booked:
    """A proposal with its pathologist's minutes just before it."""

    case: CaseSnapshot
    person: PathologistSnapshot
    rule: Rule
    kind: AssignmentKind
    minutes: float
    open_before: float
    today_before: float


def replay(snapshot: EngineSnapshot, plan: AssignmentPlan) -> list[Booked]:
    """Book the proposals in order, as the engine says it did, from the snapshot's loads."""
    people = {p.pathologist_id: p for p in snapshot.pathologists}
    cases = {c.case_id: c for c in snapshot.cases}
    open_minutes = {i: p.open_minutes for i, p in people.items()}
    today = {i: p.today_minutes for i, p in people.items()}
    booked = []
    for proposal in plan.proposals:
        i = proposal.pathologist_id
        booked.append(
            Booked(
                cases[proposal.case_id],
                people[i],
                proposal.rule,
                proposal.kind,
                proposal.minutes,
                open_minutes[i],
                today[i],
            )
        )
        open_minutes[i] += proposal.minutes
        today[i] += proposal.minutes
    return booked


def may_report(snapshot: EngineSnapshot, person: PathologistSnapshot, case: CaseSnapshot) -> bool:
    """Eligibility for a primary read: on the roster, right subspecialty, on site if required."""
    if not person.present or person.capacity_today_minutes <= 0:
        return False
    if snapshot.workload.on_site_only(case.priority) and person.department != case.department:
        return False
    if case.subspecialty in person.subspecialties:
        return True
    return (
        case.subspecialty in snapshot.rules.general_pool_fallback
        and case.subspecialty != GENERAL
        and GENERAL in person.subspecialties
    )


def near(snapshot: EngineSnapshot, case: CaseSnapshot) -> bool:
    return case.due_at - snapshot.now <= snapshot.rules.escalation_horizon


def check_invariants(snapshot: EngineSnapshot, plan: AssignmentPlan) -> None:
    """Assert every invariant of a round."""
    booked = replay(snapshot, plan)
    check_nobody_over_maximum(booked)
    check_daily_capacity_binds_except_escalation(booked)
    check_eligibility(snapshot, booked)
    check_each_task_once(snapshot, plan)
    check_second_readers(snapshot, plan, booked)
    check_no_higher_ranked_case_left_for_a_lower_one(snapshot, plan, booked)
    check_no_case_left_that_someone_could_still_take(snapshot, plan, booked)


def check_nobody_over_maximum(booked: list[Booked]) -> None:
    for b in booked:
        assert b.open_before + b.minutes <= b.person.max_open_minutes, b


def check_daily_capacity_binds_except_escalation(booked: list[Booked]) -> None:
    for b in booked:
        if b.rule is not Rule.ESCALATION:
            assert b.today_before + b.minutes <= b.person.capacity_today_minutes, b


def check_eligibility(snapshot: EngineSnapshot, booked: list[Booked]) -> None:
    for b in booked:
        assert b.person.present and b.person.capacity_today_minutes > 0, b
        if b.kind is PRIMARY:
            assert may_report(snapshot, b.person, b.case), b
        else:
            rule = snapshot.rules.second_read_rule(b.case.subspecialty, b.case.second_read_trigger)
            assert rule is not None, b
            if rule.experienced_in:
                assert rule.experienced_in in b.person.experienced_in, b
            else:
                assert b.case.subspecialty in b.person.subspecialties, b


def check_each_task_once(snapshot: EngineSnapshot, plan: AssignmentPlan) -> None:
    primaries = [p.case_id for p in plan.proposals if p.kind is PRIMARY]
    assert len(primaries) == len(set(primaries))
    unplaced = [u.case_id for u in plan.unplaced if u.kind is PRIMARY]
    assert not set(primaries) & set(unplaced)
    needing = {c.case_id for c in snapshot.cases if c.primary_pathologist_id is None}
    assert set(primaries) | set(unplaced) == needing
    assert len(unplaced) == len(set(unplaced))
    for c in snapshot.cases:
        rule = snapshot.rules.second_read_rule(c.subspecialty, c.second_read_trigger)
        missing = max(0, rule.reviewers - len(c.second_reader_ids)) if rule else 0
        given = sum(1 for p in plan.proposals if p.case_id == c.case_id and p.kind is SECOND)
        left = sum(1 for u in plan.unplaced if u.case_id == c.case_id and u.kind is SECOND)
        assert given + left == missing, (c, given, left)


def check_second_readers(
    snapshot: EngineSnapshot, plan: AssignmentPlan, booked: list[Booked]
) -> None:
    authors = {c.case_id: c.primary_pathologist_id for c in snapshot.cases}
    for p in plan.proposals:
        if p.kind is PRIMARY:
            authors[p.case_id] = p.pathologist_id
    readers: dict[int, list[int]] = {}
    for b in booked:
        if b.kind is SECOND:
            reviewer = b.person.pathologist_id
            assert reviewer != authors[b.case.case_id], b
            assert reviewer not in b.case.second_reader_ids, b
            readers.setdefault(b.case.case_id, []).append(reviewer)
    for reviewers in readers.values():
        assert len(reviewers) == len(set(reviewers))


def check_no_higher_ranked_case_left_for_a_lower_one(
    snapshot: EngineSnapshot, plan: AssignmentPlan, booked: list[Booked]
) -> None:
    """No unplaced case could have taken the slot that a later-ranked case got.

    A slot is the pathologist's room just before the later case was booked: under the maximum,
    and within today's capacity unless that booking was an escalation and the earlier case was
    near its deadline too (only such cases may go past today's capacity).
    """
    cases = {c.case_id: c for c in snapshot.cases}
    minutes = {
        c.case_id: snapshot.workload.case_minutes(c.category) + c.add_on_minutes
        for c in snapshot.cases
    }
    for u in plan.unplaced:
        if u.kind is not PRIMARY:
            continue
        left = cases[u.case_id]
        m = minutes[left.case_id]
        for b in booked:
            if rank(b.case) <= rank(left) or not may_report(snapshot, b.person, left):
                continue
            under_max = b.open_before + m <= b.person.max_open_minutes
            in_room = b.today_before + m <= b.person.capacity_today_minutes
            past_room = b.rule is Rule.ESCALATION and near(snapshot, left)
            assert not (under_max and (in_room or past_room)), (left, b)


def check_no_case_left_that_someone_could_still_take(
    snapshot: EngineSnapshot, plan: AssignmentPlan, booked: list[Booked]
) -> None:
    """The round is maximal: nobody eligible ends it with room for a case it left unplaced.

    Room means under the maximum, and within today's capacity unless the case was near its
    deadline. Loads only grow in a round, so such room was there when the case came up.
    """
    open_minutes = {p.pathologist_id: p.open_minutes for p in snapshot.pathologists}
    today = {p.pathologist_id: p.today_minutes for p in snapshot.pathologists}
    for b in booked:
        open_minutes[b.person.pathologist_id] += b.minutes
        today[b.person.pathologist_id] += b.minutes
    cases = {c.case_id: c for c in snapshot.cases}
    for u in plan.unplaced:
        if u.kind is not PRIMARY:
            continue
        left = cases[u.case_id]
        m = snapshot.workload.case_minutes(left.category) + left.add_on_minutes
        for person in snapshot.pathologists:
            if not may_report(snapshot, person, left):
                continue
            i = person.pathologist_id
            under_max = open_minutes[i] + m <= person.max_open_minutes
            in_room = today[i] + m <= person.capacity_today_minutes
            assert not (under_max and (in_room or near(snapshot, left))), (left, person)
