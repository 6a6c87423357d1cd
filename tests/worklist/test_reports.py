"""The report: versioned drafts, sign-out that needs a conclusion and freezes it, addenda;
consults carry their question and answer; working on an assigned case starts its review;
claim-next says why it gave nothing; migration 0011 keeps every row. SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import PATHOLOGIST, Factory
from worklist.audit import verify_audit_chain
from worklist.db import read_session
from worklist.enums import AssignmentKind, AuditOutcome, CaseStatus
from worklist.errors import (
    ConcurrentUpdateError,
    InvalidTransitionError,
    NotAssignedError,
    ReportStateError,
    SignedOutError,
    ValidationError,
)
from worklist.migrate import alembic_config, schema_differences, upgrade_engine
from worklist.models import (
    Assignment,
    AuditEvent,
    Case,
    Comment,
    Report,
    ReportAddendum,
    ReportStatus,
    ReportVersion,
    report_status,
)
from worklist.operations import (
    DiagnosisCode,
    ReportDraft,
    add_addendum,
    answer_consult,
    claim_case,
    claim_next,
    request_consult,
    save_report,
    sign_out,
    start_review,
    why_nothing_to_claim,
)
from worklist.operations.reports import MAX_DIAGNOSIS_CODES, MAX_REPORT_TEXT_CHARS
from worklist.seeding import ImportSummary

XSS = "<img src=x onerror=alert(1)>"
DRAFT = ReportDraft(
    macroscopy=f"Biopt 3 mm.\n{XSS}",
    microscopy="Tubulaire architectuur, laaggradige dysplasie.",
    conclusion=f"Colon, biopt: tubulair adenoom. {XSS}",
    diagnosis_codes=(
        DiagnosisCode(code="T67000", display="colon", system="PALGA"),
        DiagnosisCode(code="M81400", display=f"adenoom {XSS}"),
    ),
)


def _claimed(factory: Factory, region_ids: ImportSummary) -> tuple[int, int]:
    """An assigned case (HMC-01 claimed it, no review started) and HMC-01's id."""
    [case_id] = factory.cases()
    hmc1 = region_ids.pathologist_ids["HMC-01"]
    claim_case(engine=factory.engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    return case_id, hmc1


def _save(engine: Engine, case_id: int, pathologist_id: int, **options: object) -> int:
    saved = save_report(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        pathologist_id=pathologist_id,
        draft=options.pop("draft", DRAFT),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    return saved.version


def _state(engine: Engine, case_id: int) -> tuple[object, ...]:
    """Everything a refused write must leave as it was: the case, its assignments, its report."""
    with Session(engine) as session:
        case = session.get_one(Case, case_id)
        report = session.scalar(select(Report).where(Report.case_id == case_id))
        versions = session.scalar(select(func.count()).select_from(ReportVersion))
        addenda = session.scalar(select(func.count()).select_from(ReportAddendum))
        active = session.scalars(
            select(Assignment.id).where(Assignment.case_id == case_id, Assignment.active)
        ).all()
        return (
            case.status,
            case.version,
            case.signed_out_at,
            tuple(active),
            None if report is None else (report.version, report.signed_at),
            versions,
            addenda,
        )


def _last_event(engine: Engine) -> AuditEvent:
    with Session(engine) as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        return event


def test_every_save_is_a_new_version_and_the_latest_is_the_text(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    assert _save(engine, case_id, hmc1, expected_version=0) == 1
    # Saving a draft on an assigned case started its review.
    with Session(engine) as session:
        assert session.get_one(Case, case_id).status is CaseStatus.IN_REVIEW
    event = _last_event(engine)
    assert (event.event_type, event.outcome) == ("case.report.save", AuditOutcome.SUCCESS)
    assert '"review_started":true' in event.detail and '"version":1' in event.detail
    second = ReportDraft(conclusion="Tubulair adenoom, laaggradig.")
    assert _save(engine, case_id, hmc1, draft=second, expected_version=1) == 2
    with Session(engine) as session:
        report = session.scalars(select(Report).where(Report.case_id == case_id)).one()
        assert (report.version, report_status(report)) == (2, ReportStatus.DRAFT)
        rows = session.scalars(
            select(ReportVersion).where(ReportVersion.report_id == report.id).order_by("version")
        ).all()
        assert [(r.version, r.conclusion, r.saved_by_id) for r in rows] == [
            (1, DRAFT.conclusion, hmc1),
            (2, second.conclusion, hmc1),
        ]
        # Stored exactly as given: markup, newlines and the codes, in order.
        assert rows[0].macroscopy == DRAFT.macroscopy
        assert rows[0].diagnosis_codes == [
            {"system": "PALGA", "code": "T67000", "display": "colon"},
            {"system": "", "code": "M81400", "display": f"adenoom {XSS}"},
        ]
    assert report_status(None) is ReportStatus.NONE


def test_a_stale_save_is_refused_and_changes_nothing(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    _save(engine, case_id, hmc1, expected_version=0)
    before = _state(engine, case_id)
    for stale in (0, 2):
        with pytest.raises(ConcurrentUpdateError, match="someone else saved in between"):
            _save(engine, case_id, hmc1, expected_version=stale)
        assert _state(engine, case_id) == before
    event = _last_event(engine)
    assert (event.event_type, event.outcome) == ("case.report.save", AuditOutcome.MINOR_FAILURE)


def test_only_the_primary_pathologist_writes_the_report(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, _ = _claimed(factory, region_ids)
    hmc2 = region_ids.pathologist_ids["HMC-02"]
    before = _state(engine, case_id)
    with pytest.raises(NotAssignedError) as refused:
        _save(engine, case_id, hmc2)
    assert str(refused.value) == (
        "dr. B. Jansen (HMC-02) is not the primary pathologist of case 'HMC-T25-00001' and "
        "cannot write its report; it is held by dr. A. de Vries (HMC-01)"
    )
    assert _state(engine, case_id) == before
    [unclaimed] = factory.cases()
    with pytest.raises(NotAssignedError, match="it has no primary pathologist"):
        _save(engine, unclaimed, hmc2)


def test_limits_are_refused_before_anything_is_written(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    before = _state(engine, case_id)
    too_long = ReportDraft(microscopy="x" * (MAX_REPORT_TEXT_CHARS + 1))
    too_many = ReportDraft(
        diagnosis_codes=tuple(
            DiagnosisCode(code=f"C{i}", display="d") for i in range(MAX_DIAGNOSIS_CODES + 1)
        )
    )
    blank_code = ReportDraft(diagnosis_codes=(DiagnosisCode(code=" ", display="colon"),))
    for draft in (too_long, too_many, blank_code):
        with pytest.raises(ValidationError):
            _save(engine, case_id, hmc1, draft=draft)
    assert _state(engine, case_id) == before
    longest = ReportDraft(microscopy="x" * MAX_REPORT_TEXT_CHARS)
    assert _save(engine, case_id, hmc1, draft=longest) == 1


def test_sign_out_needs_a_conclusion_and_changes_nothing_without_one(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    before = _state(engine, case_id)
    with pytest.raises(ReportStateError, match="the report needs a conclusion before sign-out"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert _state(engine, case_id) == before  # still assigned: the implicit start rolled back
    _save(engine, case_id, hmc1, draft=ReportDraft(macroscopy="Biopt.", conclusion=" \n "))
    before = _state(engine, case_id)
    with pytest.raises(ReportStateError, match="needs a conclusion"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert _state(engine, case_id) == before
    event = _last_event(engine)
    assert (event.event_type, event.outcome) == ("case.sign_out", AuditOutcome.MINOR_FAILURE)


def test_sign_out_from_assigned_freezes_the_report(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    _save(engine, case_id, hmc1)
    with Session(engine) as session:  # the save started the review; put it back to test
        case = session.get_one(Case, case_id)
        case.status = CaseStatus.ASSIGNED
        session.commit()
    with pytest.raises(ConcurrentUpdateError, match="someone else saved"):
        sign_out(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            pathologist_id=hmc1,
            expected_report_version=0,
        )
    state = sign_out(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        pathologist_id=hmc1,
        expected_report_version=1,
    )
    assert state.status is CaseStatus.SIGNED_OUT
    with Session(engine) as session:
        report = session.scalars(select(Report).where(Report.case_id == case_id)).one()
        case = session.get_one(Case, case_id)
        assert report_status(report) is ReportStatus.SIGNED
        assert (report.signed_at, report.signed_by_id) == (case.signed_out_at, hmc1)
    event = _last_event(engine)
    assert event.event_type == "case.sign_out"
    assert '"report_version":1' in event.detail and '"review_started":true' in event.detail

    # Frozen: every further move says the case is signed out, not "not the primary".
    frozen = _state(engine, case_id)
    with pytest.raises(SignedOutError) as refused:
        _save(engine, case_id, hmc1)
    assert str(refused.value) == (
        "the report of case 'HMC-T25-00001' is signed out; add an addendum"
    )
    with pytest.raises(SignedOutError) as refused:
        start_review(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    assert str(refused.value) == "case 'HMC-T25-00001' is signed out; add an addendum instead"
    with pytest.raises(SignedOutError, match="is signed out; add an addendum instead"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    with pytest.raises(SignedOutError):
        request_consult(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            requested_by=hmc1,
            consultant_id=region_ids.pathologist_ids["LUMC-01"],
            question="?",
        )
    assert _state(engine, case_id) == frozen


def test_addenda_only_after_sign_out_each_signed(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    hmc2 = region_ids.pathologist_ids["HMC-02"]
    _save(engine, case_id, hmc1)
    before = _state(engine, case_id)
    with pytest.raises(ReportStateError, match="not signed out yet: edit the report"):
        add_addendum(
            engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1, body="x"
        )
    assert _state(engine, case_id) == before
    sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)
    with pytest.raises(ValidationError):
        add_addendum(
            engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1, body="  "
        )
    first = add_addendum(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1, body=XSS
    )
    second = add_addendum(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        pathologist_id=hmc2,
        body="Aanvullend: MMR-eiwitten behouden.",
    )
    with Session(engine) as session:
        rows = session.scalars(select(ReportAddendum).order_by(ReportAddendum.id)).all()
        assert [(r.id, r.body, r.signed_by_id) for r in rows] == [
            (first, XSS, hmc1),
            (second, "Aanvullend: MMR-eiwitten behouden.", hmc2),
        ]
        assert all(r.signed_at is not None for r in rows)
        assert verify_audit_chain(session).ok
    event = _last_event(engine)
    assert event.event_type == "case.report.addendum"


def test_concurrent_saves_from_one_version_one_wins(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def save(index: int) -> None:
        start.wait()
        try:
            draft = ReportDraft(conclusion=f"writer {index}")
            _save(engine, case_id, hmc1, draft=draft, expected_version=0)
            result = "saved"
        except ConcurrentUpdateError:
            result = "stale"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["saved"] + ["stale"] * 5
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ReportVersion)) == 1
        assert session.scalar(select(Report.version)) == 1


def test_a_consult_from_an_assigned_case_keeps_its_question_and_answer(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    lumc1 = region_ids.pathologist_ids["LUMC-01"]
    with pytest.raises(ValidationError):
        request_consult(
            engine=engine,
            actor=PATHOLOGIST,
            case_id=case_id,
            requested_by=hmc1,
            consultant_id=lumc1,
            question="   ",
        )
    receipt = request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=lumc1,
        question=f"Dysplasie? {XSS}",
        kind=AssignmentKind.SECOND_OPINION,
    )
    assert receipt.assignment.case.status is CaseStatus.CONSULT_PENDING
    with pytest.raises(NotAssignedError) as refused:
        answer_consult(
            engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=hmc1, answer="x"
        )
    assert "dr. A. de Vries (HMC-01) has no open consult" in str(refused.value)
    answer_consult(
        engine=engine, actor=PATHOLOGIST, case_id=case_id, consultant_id=lumc1, answer="Eens."
    )
    with Session(engine) as session:
        read = session.get_one(Assignment, receipt.assignment.assignment_id)
        assert (read.question, read.answer, read.requested_by_id, read.active) == (
            f"Dysplasie? {XSS}",
            "Eens.",
            hmc1,
            False,
        )
        assert read.answered_at is not None
        assert session.scalar(select(func.count()).select_from(Comment)) == 0


def test_sign_out_still_waits_for_open_reads(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    _save(engine, case_id, hmc1)
    request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=region_ids.pathologist_ids["LUMC-01"],
        question="?",
    )
    with pytest.raises(InvalidTransitionError, match="consult_pending"):
        sign_out(engine=engine, actor=PATHOLOGIST, case_id=case_id, pathologist_id=hmc1)


def test_claim_next_says_why_it_gave_nothing(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    hmc2 = region_ids.pathologist_ids["HMC-02"]  # dermatopathology only

    def why(own: bool = True) -> str:
        return why_nothing_to_claim(engine=engine, pathologist_id=hmc2, own_subspecialties_only=own)

    assert why() == "no case is waiting to be claimed in the region"
    factory.cases(2, tumour_group="gastro-intestinal")
    assert claim_next(engine=engine, actor=PATHOLOGIST, pathologist_id=hmc2) is None
    assert why() == (
        "nothing is waiting in the subspecialties of dr. B. Jansen (HMC-02) "
        "(dermatopathology); 2 case(s) wait in other tumour groups: claim with "
        "own_subspecialties_only false to take one"
    )
    assert why(own=False).startswith("every waiting case was being claimed by someone else")
    assert why_nothing_to_claim(engine=engine, pathologist_id=9999) == (
        "an unknown pathologist (id 9999) is not an active pathologist"
    )


def test_migration_0011_adds_in_place_and_keeps_every_row(
    engine: Engine, factory: Factory, region_ids: ImportSummary
) -> None:
    case_id, hmc1 = _claimed(factory, region_ids)
    request_consult(
        engine=engine,
        actor=PATHOLOGIST,
        case_id=case_id,
        requested_by=hmc1,
        consultant_id=region_ids.pathologist_ids["LUMC-01"],
        question="?",
    )

    def counts() -> tuple[int, ...]:
        with read_session(engine) as session:
            return tuple(
                session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Case, Assignment, AuditEvent)
            )

    before = counts()
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
        tables = set(inspect(connection).get_table_names())
        columns = {c["name"] for c in inspect(connection).get_columns("assignment")}
    assert not {"case_report", "case_report_version", "case_report_addendum"} & tables
    assert not {"question", "answer", "answered_at", "requested_by_id"} & columns
    assert counts() == before  # nothing cascade-deleted on the way down
    upgrade_engine(engine)
    assert counts() == before
    assert schema_differences(engine) == []
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).where(Assignment.question.is_not(None))) == 0
