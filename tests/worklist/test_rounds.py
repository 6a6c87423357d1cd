"""Stored assignment rounds: preview, approve some, apply; stale rounds refused with why."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, PATHOLOGIST
from tests.worklist.test_snapshots import NOW, _active, _database_state, _intake, ids, region
from worklist.enums import AssignmentKind
from worklist.errors import ConcurrentUpdateError, NotPermittedError, ValidationError
from worklist.models import AuditEvent
from worklist.operations import claim_case
from worklist.region import Region
from worklist.rounds import StaleRoundError, apply_round, get_round, plan_round, unplaced_reasons
from worklist.seeding import ImportSummary

__all__ = ["ids", "region"]  # fixtures shared with test_snapshots


def test_a_preview_is_stored_and_changes_no_assignment(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine, 3)
    round_id, plan, _ = plan_round(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    assert _active(engine) == []
    view = get_round(engine=engine, actor=MANAGER, round_id=round_id)
    assert view.round.status == "previewed"
    assert [(p.case_id, p.pathologist_id) for p in view.proposals] == [
        (p.case_id, p.pathologist_id) for p in plan.proposals
    ]
    assert all(p.placement == "local" and not p.overloaded for p in view.proposals)


def test_applying_part_of_a_round_assigns_exactly_what_was_approved(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine, 3)
    round_id, _, _ = plan_round(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    proposals = get_round(engine=engine, actor=MANAGER, round_id=round_id).proposals
    approved = [proposals[0].id, proposals[2].id]
    view = apply_round(
        engine=engine, actor=MANAGER, round_id=round_id, approved=approved, rules=region.rules
    )
    assert view.round.status == "applied"
    assert [p.applied for p in view.proposals] == [True, False, True]
    assert {(c, p) for c, p, _, _ in _active(engine)} == {
        (proposals[0].case_id, proposals[0].pathologist_id),
        (proposals[2].case_id, proposals[2].pathologist_id),
    }
    with Session(engine) as session:
        events = session.execute(select(AuditEvent.event_type)).scalars().all()
    assert "assignment_round.apply" in events and events.count("case.assign.primary") == 2
    with pytest.raises(ConcurrentUpdateError, match="already applied"):
        apply_round(engine=engine, actor=MANAGER, round_id=round_id, rules=region.rules)


def test_a_round_gone_stale_is_refused_with_what_changed_and_changes_nothing(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    [case_id, _] = _intake(engine, 2)
    round_id, _, _ = plan_round(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    claim_case(
        engine=engine,
        actor=MANAGER,
        case_id=case_id,
        pathologist_id=ids.pathologist_ids["ALR-01"],
        now=NOW,
    )
    before = _database_state(engine)
    with pytest.raises(
        StaleRoundError, match=r"was assigned to .* \(now assigned\) meanwhile"
    ) as refused:
        apply_round(engine=engine, actor=MANAGER, round_id=round_id, rules=region.rules)
    assert len(refused.value.changes) == 1
    after = _database_state(engine)
    assert after[:2] == before[:2]  # only the refusal's audit record was added


def test_bad_approvals_and_non_managers_are_refused(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    _intake(engine, 1)
    with pytest.raises(NotPermittedError):
        plan_round(engine=engine, actor=PATHOLOGIST, now=NOW, rules=region.rules)
    round_id, _, _ = plan_round(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    with pytest.raises(ValidationError, match="not in this round"):
        apply_round(engine=engine, actor=MANAGER, round_id=round_id, approved=[999_999])
    assert _active(engine) == []


def test_unplaced_reasons_come_from_the_latest_round(
    engine: Engine, region: Region, ids: ImportSummary
) -> None:
    # Nobody present reports dermatopathology on Wednesday: left unplaced, with why.
    [derm] = _intake(engine, 1, tumour_group="dermatopathology", department="LUMC")
    [gi] = _intake(engine, 1)
    plan_round(engine=engine, actor=MANAGER, now=NOW, rules=region.rules)
    with Session(engine) as session:
        reasons = unplaced_reasons(session, [derm, gi])
    assert list(reasons) == [derm] and "on the roster today" in reasons[derm]
    assert AssignmentKind.PRIMARY.value == "primary"
