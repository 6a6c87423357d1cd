"""Operations: each one transaction, with the lifecycle and assignment rules enforced."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, NOW, PATHOLOGIST, Factory
from worklist.accession import parse_accession
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.enums import AssignmentKind, CaseStatus, GrantKind, Priority, Role
from worklist.errors import (
    AlreadyAssignedError,
    ConcurrentUpdateError,
    ConflictOfInterestError,
    DuplicateAccessionError,
    InvalidTransitionError,
    NotAssignedError,
    NotFoundError,
    NotPermittedError,
    ValidationError,
    WorklistError,
)
from worklist.models import Assignment, AuditEvent, Case, CaseGrant, Slide
from worklist.operations import (
    CaseIntake,
    ConsultGrant,
    ReportDraft,
    add_annotation,
    add_comment,
    answer_consult,
    apply_proposals,
    assign_case,
    claim_case,
    claim_next,
    intake_cases,
    reassign_case,
    record_access,
    release_case,
    request_consult,
    save_report,
    sign_out,
    start_review,
)
from worklist.seeding import ImportSummary


def _case(engine: Engine, case_id: int) -> Case:
    with Session(engine) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def _active(engine: Engine, case_id: int) -> list[tuple[int, AssignmentKind]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Assignment.pathologist_id, Assignment.kind)
            .where(Assignment.case_id == case_id, Assignment.active)
            .order_by(Assignment.id)
        )
        return [(p, k) for p, k in rows]


def _write_conclusion(engine: Engine, case_id: int, pathologist_id: int) -> None:
    """A report with a conclusion, which sign-out needs."""
    save_report(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        pathologist_id=pathologist_id,
        draft=ReportDraft(conclusion="Tubulair adenoom met laaggradige dysplasie."),
    )


def test_intake_allocates_sequential_accession_numbers(engine: Engine, factory: Factory) -> None:
    ids = factory.cases(3)
    numbers = [_case(engine, i).accession_number for i in ids]
    assert numbers == ["HMC-T25-00001", "HMC-T25-00002", "HMC-T25-00003"]
    assert [parse_accession(n).seq for n in numbers] == [1, 2, 3]
    assert _case(engine, ids[0]).status is CaseStatus.SCANNED
    assert _case(engine, ids[0]).due_at > NOW


def test_intake_of_an_unknown_department_changes_nothing(engine: Engine, factory: Factory) -> None:
    with pytest.raises(NotFoundError, match="department 'XYZ'"):
        factory.cases(department="XYZ")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def _case_and_audit_counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        created = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_type == "case.intake", AuditEvent.outcome == "success")
        )
        refused = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event_type == "case.intake", AuditEvent.outcome != "success")
        )
    return cases, created or 0, refused or 0


def _in_review(factory: Factory, region_ids: ImportSummary) -> tuple[int, int, int]:
    """A case HMC-01 claimed and is reviewing; its id, HMC-01's and LUMC-01's."""
    [case_id] = factory.cases()
    hmc1, lumc1 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["LUMC-01"]
    claim_case(engine=factory.engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    start_review(engine=factory.engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    return case_id, hmc1, lumc1


def test_a_duplicate_accession_number_is_refused_and_changes_nothing(
    engine: Engine, factory: Factory
) -> None:
    [first] = factory.cases()
    taken = _case(engine, first).accession_number
    fresh = CaseIntake(
        department="HMC", patient_pseudonym="PSN-dup", tumour_group="gastro-intestinal", category=2
    )
    before = _case_and_audit_counts(engine)
    # Taken by an earlier case: the whole batch is refused, the new case with it.
    with pytest.raises(DuplicateAccessionError, match=taken) as refused:
        intake_cases(
            engine=engine,
            actor=MANAGER,
            cases=[fresh, replace(fresh, accession_number=taken)],
            now=NOW,
        )
    assert isinstance(refused.value, WorklistError)
    assert _case_and_audit_counts(engine) == (before[0], before[1], before[2] + 1)
    # Twice in one intake.
    twice = replace(fresh, accession_number="HMC-T25-00777")
    with pytest.raises(DuplicateAccessionError, match="twice"):
        intake_cases(engine=engine, actor=MANAGER, cases=[twice, twice], now=NOW)
    assert _case_and_audit_counts(engine)[:2] == before[:2]
    # The counter was not advanced by the refused batch.
    [second] = factory.cases()
    assert parse_accession(_case(engine, second).accession_number).seq == 2


def test_claim_then_second_claim_is_refused(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases()
    hmc1, hmc2 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["HMC-02"]
    receipt = claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert receipt.case.status is CaseStatus.ASSIGNED
    assert receipt.case.version == 2
    assert receipt.rule == "claim"
    with pytest.raises(AlreadyAssignedError, match="already assigned to HMC-01"):
        claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc2)
    assert _active(engine, case_id) == [(hmc1, AssignmentKind.PRIMARY)]


def test_claim_next_takes_the_most_urgent_case_in_the_own_subspecialty(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    factory.cases(2, tumour_group="gastro-intestinal")
    [urgent] = factory.cases(1, tumour_group="gastro-intestinal", priority=Priority.URGENT)
    [skin] = factory.cases(1, tumour_group="dermatopathology", priority=Priority.FROZEN)
    lumc1 = region_ids.pathologist_ids["LUMC-01"]  # gastro-intestinal, haematopathology
    first = claim_next(engine=engine, actor=PATHOLOGIST, pathologist_id=lumc1)
    assert first is not None and first.case.case_id == urgent
    claimed = [claim_next(engine=engine, actor=PATHOLOGIST, pathologist_id=lumc1) for _ in range(3)]
    assert claimed[-1] is None
    assert skin not in {r.case.case_id for r in claimed if r}
    assert _case(engine, skin).status is CaseStatus.SCANNED


def test_release_returns_the_case_to_the_pool(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases()
    hmc1, hmc2 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["HMC-02"]
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    with pytest.raises(NotAssignedError):
        release_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc2)
    state = release_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert state.status is CaseStatus.SCANNED
    assert _active(engine, case_id) == []
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc2)
    assert _active(engine, case_id) == [(hmc2, AssignmentKind.PRIMARY)]


def test_reassign_needs_a_lab_manager(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, _, lumc1 = _in_review(factory, region_ids)
    with pytest.raises(NotPermittedError) as refused:
        reassign_case(
            engine=engine, actor=PATHOLOGIST, case_id=case_id, to_pathologist_id=lumc1, reason="x"
        )
    assert isinstance(refused.value, PermissionError)
    receipt = reassign_case(
        engine=engine, actor=MANAGER, case_id=case_id, to_pathologist_id=lumc1, reason="leave"
    )
    assert receipt.case.status is CaseStatus.ASSIGNED
    assert receipt.rule == "reassign"
    assert _active(engine, case_id) == [(lumc1, AssignmentKind.PRIMARY)]
    with pytest.raises(AlreadyAssignedError):
        reassign_case(
            engine=engine, actor=MANAGER, case_id=case_id, to_pathologist_id=lumc1, reason="x"
        )


def test_consult_round_trip_and_sign_out(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1, lumc1 = _in_review(factory, region_ids)
    with pytest.raises(ConflictOfInterestError):
        request_consult(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            requested_by=hmc1,
            consultant_id=hmc1,
            question="?",
        )
    receipt = request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=lumc1,
        question="Dysplasie, hooggradig?",
        kind=AssignmentKind.SECOND_OPINION,
    )
    assert receipt.assignment.case.status is CaseStatus.CONSULT_PENDING
    assert receipt.grant_id is None
    with pytest.raises(InvalidTransitionError, match="consult_pending"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    state = answer_consult(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=lumc1, answer="Eens."
    )
    assert state.status is CaseStatus.IN_REVIEW
    _write_conclusion(engine, case_id, hmc1)
    final = sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert final.status is CaseStatus.SIGNED_OUT
    assert _active(engine, case_id) == []
    assert _case(engine, case_id).signed_out_at is not None


def test_sign_out_waits_for_a_planned_second_read(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases(trigger="barrett_dysplasia")
    hmc1, lumc1 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["LUMC-01"]
    outcome = apply_proposals(
        engine=engine,
        actor=Actor.system(),
        proposals=[
            (case_id, hmc1, AssignmentKind.PRIMARY, "local-first"),
            (case_id, lumc1, "second_opinion", "second-read"),
        ],
    )
    assert [r.rule for r in outcome.applied] == ["local-first", "second-read"]
    start_review(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    with pytest.raises(InvalidTransitionError, match="still open"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    answer_consult(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=lumc1, answer="ok"
    )
    _write_conclusion(engine, case_id, hmc1)
    sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)


def test_apply_proposals_skips_what_was_overtaken(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    taken, free = factory.cases(2)
    hmc1, hmc2 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["HMC-02"]
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=taken, pathologist_id=hmc2)
    outcome = apply_proposals(
        engine=engine,
        actor=Actor.system(),
        proposals=[
            (taken, hmc1, "primary", "local-first"),
            (free, hmc1, "primary", "local-first"),
            (free, 9999, "consult", "x"),
        ],
    )
    assert [r.case.case_id for r in outcome.applied] == [free]
    assert [p[0] for p, _ in outcome.skipped] == [taken, free]
    assert "already assigned" in outcome.skipped[0][1]
    assert _active(engine, taken) == [(hmc2, AssignmentKind.PRIMARY)]
    with pytest.raises(NotPermittedError):
        apply_proposals(engine=engine, actor=PATHOLOGIST, proposals=[])


def test_assign_by_hand_and_stale_versions(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases()
    hmc1 = region_ids.pathologist_ids["HMC-01"]
    with pytest.raises(ConcurrentUpdateError, match="version 1, not 7"):
        assign_case(
            engine=engine, actor=MANAGER, case_id=case_id, pathologist_id=hmc1, expected_version=7
        )
    receipt = assign_case(
        engine=engine, actor=MANAGER, case_id=case_id, pathologist_id=hmc1, expected_version=1
    )
    assert receipt.case.version == 2 and receipt.rule == "manual"


def test_a_stale_orm_write_raises_concurrent_update(engine: Engine, factory: Factory) -> None:
    """The version counter stops a lost update even without row locks."""
    from worklist.db import run_in_transaction

    [case_id] = factory.cases()
    stale = Session(engine, expire_on_commit=False)
    stale_case = stale.get(Case, case_id)
    assert stale_case is not None

    def bump(session: Session) -> None:
        case = session.get(Case, case_id)
        assert case is not None
        case.tumour_group = "dermatopathology"

    run_in_transaction(engine, bump)

    def overwrite(session: Session) -> None:
        merged = session.merge(stale_case, load=False)
        merged.tumour_group = "lung"

    with pytest.raises(ConcurrentUpdateError):
        run_in_transaction(engine, overwrite)
    stale.close()
    assert _case(engine, case_id).tumour_group == "dermatopathology"


def test_not_found_errors_are_lookup_errors(engine: Engine, region_ids: ImportSummary) -> None:
    with pytest.raises(LookupError, match="case 12345 does not exist"):
        claim_case(engine=engine, actor=PATHOLOGIST, case_id=12345, pathologist_id=1)
    with pytest.raises(WorklistError):
        record_access(engine=engine, actor=PATHOLOGIST, slide_id=999)


def test_comments_annotations_and_access_are_audited(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases()
    with Session(engine) as session:
        slide_id = session.scalars(select(Slide.id)).one()
    add_comment(engine=engine, actor=PATHOLOGIST, case_id=case_id, body="Graag PAS erbij.")
    polygon = {
        "type": "Feature",
        "properties": {"label": "tumour"},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 0]]]},
    }
    add_annotation(engine=engine, actor=PATHOLOGIST, slide_id=slide_id, geojson=json.dumps(polygon))
    with pytest.raises(ValidationError, match="ring must end where it starts"):
        broken = {
            **polygon,
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [2, 2]]]},
        }
        add_annotation(
            engine=engine, actor=PATHOLOGIST, slide_id=slide_id, geojson=json.dumps(broken)
        )
    record_access(engine=engine, actor=PATHOLOGIST, slide_id=slide_id)
    record_access(
        engine=engine, actor=Actor("dokter", Role.PATHOLOGIST, break_glass=True), case_id=case_id
    )
    with Session(engine) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    types = [e.event_type for e in events]
    assert types[-4:] == ["case.comment", "slide.annotate", "slide.open", "case.open"]
    assert events[-2].slide_id == slide_id and events[-2].action.value == "read"
    assert events[-1].break_glass and events[-1].patient_pseudonym == "PSN-000000"


def _events(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AuditEvent.event_type, AuditEvent.outcome).order_by(AuditEvent.seq)
        ).all()
    return [(event_type, str(outcome)) for event_type, outcome in rows]


def test_a_consult_answer_and_its_refusal_are_recorded_under_one_name(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1, lumc1 = _in_review(factory, region_ids)
    request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=lumc1,
        question="?",
    )
    with pytest.raises(NotAssignedError):
        answer_consult(
            engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=hmc1, answer="x"
        )
    answer_consult(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=lumc1, answer="ok"
    )
    assert _events(engine)[-2:] == [
        ("case.consult.answer", "minor_failure"),
        ("case.consult.answer", "success"),
    ]


def test_a_consult_request_grants_the_consultant_in_the_same_transaction(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases()
    hmc1, lumc1 = region_ids.pathologist_ids["HMC-01"], region_ids.pathologist_ids["LUMC-01"]
    account_id = create_user(
        engine=engine,
        actor=MANAGER,
        user=NewUser("bakker", "C. Bakker", "x", Role.PATHOLOGIST, pathologist_code="LUMC-01"),
    )
    claim_case(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    start_review(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    grant = ConsultGrant(valid_for=timedelta(days=14), reason="consult requested")
    with pytest.raises(ConflictOfInterestError):  # refused: no grant either
        request_consult(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            requested_by=hmc1,
            consultant_id=hmc1,
            question="?",
            grant=grant,
        )
    with Session(engine) as session:
        assert session.scalars(select(CaseGrant)).all() == []

    receipt = request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=lumc1,
        question="?",
        grant=grant,
        now=NOW,
    )

    with Session(engine) as session:
        given = session.get_one(CaseGrant, receipt.grant_id)
        assert (given.user_id, given.kind) == (account_id, GrantKind.CONSULT)
        assert given.expires_at == NOW + timedelta(days=14)
    assert _events(engine)[-2:] == [
        ("case.consult.request", "success"),
        ("case.grant.consult", "success"),
    ]
