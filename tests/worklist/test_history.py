"""worklist.history: a case's timeline from its assignments, the managers' moves (with their
reasons), a release's reason from the audit; and the out-of-subspecialty confirmation of the
operations (refused without it, rolled back, marked with it). SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from tests.worklist.conftest import MANAGER, NOW, PATHOLOGIST, Factory
from worklist.db import read_session
from worklist.enums import AssignmentKind, AuditOutcome, CaseStatus
from worklist.errors import NotFoundError, OutsideSubspecialtyError, ValidationError
from worklist.history import HistoryKind, case_history
from worklist.models import Assignment, AuditEvent, Case, CaseMove
from worklist.operations import assign_case, claim_case, reassign_case, release_case
from worklist.seeding import ImportSummary


def test_a_case_history_in_order(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    ids = region_ids.pathologist_ids
    [case_id] = factory.cases()
    claim_case(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=ids["HMC-01"], now=NOW
    )
    release_case(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        pathologist_id=ids["HMC-01"],
        reason="on call elsewhere",
        now=NOW + timedelta(minutes=1),
    )
    assign_case(
        engine=engine,
        actor=MANAGER,
        case_id=case_id,
        pathologist_id=ids["HMC-01"],
        reason="back after all",
        now=NOW + timedelta(minutes=2),
    )
    reassign_case(
        engine=engine,
        actor=MANAGER,
        case_id=case_id,
        to_pathologist_id=ids["LUMC-01"],
        reason="HMC-01 on leave",
        now=NOW + timedelta(minutes=3),
    )
    with read_session(engine) as session:
        events = case_history(session, case_id)
    assert [e.kind for e in events] == [
        HistoryKind.RECEIVED,
        HistoryKind.ASSIGNED,
        HistoryKind.RELEASED,
        HistoryKind.ASSIGNED,
        HistoryKind.REASSIGNED,
    ]
    claimed, released, assigned, moved = events[1:]
    assert (claimed.pathologist_code, claimed.rule, claimed.reason) == ("HMC-01", "claim", None)
    assert released.reason == "on call elsewhere"
    assert (assigned.by, assigned.reason, assigned.from_pathologist_code) == (
        "manager",
        "back after all",
        None,
    )
    assert (moved.from_pathologist_code, moved.pathologist_code, moved.reason) == (
        "HMC-01",
        "LUMC-01",
        "HMC-01 on leave",
    )
    assert moved.assignment_kind is AssignmentKind.PRIMARY
    with read_session(engine) as session, pytest.raises(NotFoundError):
        case_history(session, 999_999)


def test_a_reassignment_needs_a_reason(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    ids = region_ids.pathologist_ids
    [case_id] = factory.cases()
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=ids["HMC-01"])
    with pytest.raises(ValidationError):
        reassign_case(
            engine=engine,
            actor=MANAGER,
            case_id=case_id,
            to_pathologist_id=ids["LUMC-01"],
            reason="  ",
        )


def test_outside_subspecialty_is_refused_unless_confirmed(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    ids = region_ids.pathologist_ids
    [case_id] = factory.cases(tumour_group="gastro-intestinal")
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=ids["HMC-01"])
    with pytest.raises(OutsideSubspecialtyError, match="outside the subspecialties of HMC-02"):
        reassign_case(
            engine=engine,
            actor=MANAGER,
            case_id=case_id,
            to_pathologist_id=ids["HMC-02"],  # dermatopathology only
            reason="free today",
            confirm_outside_subspecialty=False,
        )
    with read_session(engine) as session:  # the refusal changed nothing
        assert session.scalar(select(func.count()).select_from(CaseMove)) == 0
        holder = session.scalar(
            select(Assignment.pathologist_id).where(
                Assignment.case_id == case_id, Assignment.active
            )
        )
        assert holder == ids["HMC-01"]
    reassign_case(
        engine=engine,
        actor=MANAGER,
        case_id=case_id,
        to_pathologist_id=ids["HMC-02"],
        reason="free today",
        confirm_outside_subspecialty=True,
    )
    with read_session(engine) as session:
        move = session.scalars(select(CaseMove)).one()
        assert move.outside_subspecialty is True
        refused, event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.event_type == "case.reassign")
            .order_by(AuditEvent.seq)
        ).all()
        assert refused.outcome is AuditOutcome.MINOR_FAILURE  # the unconfirmed attempt, kept
        assert event.outcome is AuditOutcome.SUCCESS
        assert json.loads(event.detail)["outside_subspecialty"] is True
        assert case_history(session, case_id)[-1].outside_subspecialty is True

    [other] = factory.cases(tumour_group="gastro-intestinal")
    with pytest.raises(OutsideSubspecialtyError):
        claim_case(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=other,
            pathologist_id=ids["HMC-02"],
            confirm_outside_subspecialty=False,
        )
    with read_session(engine) as session:
        case = session.get(Case, other)
        assert case is not None and case.status is CaseStatus.SCANNED
