"""The case lifecycle: every move not in the table is refused and changes nothing."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import NOW, PATHOLOGIST, Factory
from worklist import lifecycle
from worklist.audit import verify_audit_chain
from worklist.enums import AuditOutcome, CaseStatus, CaseType, Priority
from worklist.errors import InvalidTransitionError, NotPermittedError, WorklistError
from worklist.models import Assignment, AuditEvent, Case
from worklist.operations import assign_case, claim_case, release_case, sign_out, start_review
from worklist.seeding import ImportSummary

ALLOWED = {
    (current, target) for current, moves in lifecycle.TRANSITIONS.items() for target in moves
}
INVALID = [pair for pair in itertools.product(CaseStatus, repeat=2) if pair not in ALLOWED]


def _case(status: CaseStatus) -> Case:
    return Case(
        accession_number="HMC-T25-00001",
        case_type=CaseType.HISTOLOGY,
        department_id=1,
        patient_pseudonym="PSN-1",
        tumour_group="lung",
        category=3,
        priority=Priority.ROUTINE,
        received_at=NOW,
        due_at=NOW,
        status=status,
        updated_at=NOW,
        version=1,
    )


def test_the_happy_path_is_allowed() -> None:
    path = [
        CaseStatus.RECEIVED,
        CaseStatus.SCANNED,
        CaseStatus.ASSIGNED,
        CaseStatus.IN_REVIEW,
        CaseStatus.CONSULT_PENDING,
        CaseStatus.IN_REVIEW,
        CaseStatus.SIGNED_OUT,
    ]
    case = _case(path[0])
    for target in path[1:]:
        lifecycle.transition(case, target, now=NOW)
    assert case.status is CaseStatus.SIGNED_OUT and case.signed_out_at == NOW


@pytest.mark.parametrize(("current", "target"), INVALID, ids=[f"{a}->{b}" for a, b in INVALID])
def test_every_invalid_transition_is_refused(current: CaseStatus, target: CaseStatus) -> None:
    case = _case(current)
    before = {column: getattr(case, column) for column in ("status", "updated_at", "signed_out_at")}
    with pytest.raises(InvalidTransitionError) as refused:
        lifecycle.transition(case, target, now=NOW.replace(hour=12))
    assert isinstance(refused.value, WorklistError)
    if current is CaseStatus.SIGNED_OUT:  # says what to do instead
        assert "is signed out; add an addendum instead" in str(refused.value)
    else:
        assert f"from {current.value!r} to {target.value!r}" in str(refused.value)
    assert {column: getattr(case, column) for column in before} == before


def test_signed_out_is_final() -> None:
    assert lifecycle.allowed_targets(CaseStatus.SIGNED_OUT) == frozenset()
    with pytest.raises(InvalidTransitionError, match="'X' is signed out; add an addendum instead"):
        lifecycle.check_transition("X", CaseStatus.SIGNED_OUT, CaseStatus.IN_REVIEW)


def _snapshot(engine: Engine) -> tuple[object, ...]:
    with Session(engine) as session:
        cases = session.execute(select(Case.id, Case.status, Case.version, Case.updated_at)).all()
        assignments = session.scalar(select(func.count()).select_from(Assignment))
    return (tuple(map(tuple, cases)), assignments)


def _audit_tail(engine: Engine, after_seq: int) -> list[tuple[str, AuditOutcome, int | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AuditEvent.event_type, AuditEvent.outcome, AuditEvent.case_id)
            .where(AuditEvent.seq > after_seq)
            .order_by(AuditEvent.seq)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _last_seq(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def test_refused_operations_change_nothing_but_leave_a_failure_record(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    """The worklist is untouched; the audit log shows the attempt (NEN 7513), one per refusal."""
    [received] = factory.cases(scanned=False)
    [scanned] = factory.cases()
    pathologist = region_ids.pathologist_ids["HMC-01"]
    before = _snapshot(engine)
    for operation, case_id, event_type in [
        (claim_case, received, "case.claim"),
        (sign_out, scanned, "case.sign_out"),
        (start_review, scanned, "case.review.start"),
        (release_case, scanned, "case.release"),
    ]:
        seq = _last_seq(engine)
        with pytest.raises(WorklistError):
            operation(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=pathologist)
        assert _snapshot(engine) == before, operation.__name__
        assert _audit_tail(engine, seq) == [(event_type, AuditOutcome.MINOR_FAILURE, case_id)]
    with Session(engine) as session:
        assert verify_audit_chain(session).ok


def test_a_permission_refusal_is_a_serious_failure(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    [case_id] = factory.cases()
    seq = _last_seq(engine)
    with pytest.raises(NotPermittedError):
        assign_case(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            pathologist_id=region_ids.pathologist_ids["HMC-01"],
        )
    assert _audit_tail(engine, seq) == [
        ("case.assign.primary", AuditOutcome.SERIOUS_FAILURE, case_id)
    ]
    with Session(engine) as session:
        detail = session.execute(
            select(AuditEvent.detail).where(AuditEvent.seq == seq + 1)
        ).scalar_one()
    assert '"refused":"NotPermittedError"' in detail
