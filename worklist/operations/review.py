"""Reviewing a case: start, ask a colleague (consult or second opinion), answer, sign out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AssignmentKind, AuditAction, CaseStatus
from worklist.errors import InvalidTransitionError, NotAssignedError
from worklist.models import Assignment, Case, Comment
from worklist.operations._assigning import add_reviewer
from worklist.operations._common import (
    active_assignments,
    active_primary,
    end_assignment,
    get_pathologist,
    lock_case,
    utc_now,
)
from worklist.operations._refusals import audit_refusal
from worklist.operations.receipts import AssignmentReceipt, CaseState

_REVIEW_KINDS = (AssignmentKind.SECOND_OPINION, AssignmentKind.CONSULT)


def _require_primary(session: Session, case: Case, pathologist_id: int, doing: str) -> Assignment:
    primary = active_primary(session, case.id)
    if primary is None or primary.pathologist_id != pathologist_id:
        raise NotAssignedError(
            f"pathologist {pathologist_id} is not the primary pathologist of case "
            f"{case.accession_number!r} and cannot {doing}"
        )
    return primary


def start_review(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> CaseState:
    """The primary pathologist opens the case for review ("assigned" -> "in_review")."""

    def work(session: Session) -> CaseState:
        moment = utc_now(now)
        case = lock_case(session, case_id, expected_version=expected_version)
        _require_primary(session, case, pathologist_id, "review it")
        lifecycle.transition(case, CaseStatus.IN_REVIEW, now=moment)
        record_event(
            session,
            actor=actor,
            event_type="case.review.start",
            action=AuditAction.UPDATE,
            case=case,
            now=moment,
        )
        return CaseState.of(case)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type="case.review.start",
        case_id=case_id,
        now=now,
    ):
        return run_in_transaction(engine, work)


def request_consult(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    requested_by: int,
    consultant_id: int,
    question: str,
    kind: AssignmentKind = AssignmentKind.CONSULT,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """The primary pathologist asks a colleague (often at another site) for a consult or
    second opinion; the case waits in "consult_pending" until it is answered."""

    def work(session: Session) -> AssignmentReceipt:
        moment = utc_now(now)
        case = lock_case(session, case_id, expected_version=expected_version)
        _require_primary(session, case, requested_by, f"ask for a {kind.value}")
        consultant = get_pathologist(session, consultant_id)
        lifecycle.check_transition(case.accession_number, case.status, CaseStatus.CONSULT_PENDING)
        assignment = add_reviewer(
            session, case, consultant, kind=kind, actor=actor, rule="requested", now=moment
        )
        lifecycle.transition(case, CaseStatus.CONSULT_PENDING, now=moment)
        session.add(
            Comment(case_id=case.id, author=actor.user_id, body=question, created_at=moment)
        )
        record_event(
            session,
            actor=actor,
            event_type=f"case.{kind.value}.request",
            action=AuditAction.CREATE,
            case=case,
            detail={"consultant": consultant.code},
            now=moment,
        )
        return AssignmentReceipt.of(assignment, case)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type=f"case.{kind.value}.request",
        action=AuditAction.CREATE,
        case_id=case_id,
        now=now,
    ):
        return run_in_transaction(engine, work)


def answer_consult(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    consultant_id: int,
    answer: str,
    now: datetime | None = None,
) -> CaseState:
    """A consultant or second reader answers; with the last answer the case is back in review."""

    def work(session: Session) -> CaseState:
        moment = utc_now(now)
        case = lock_case(session, case_id)
        open_reads = [
            a
            for kind in _REVIEW_KINDS
            for a in active_assignments(session, case.id, kind)
            if a.pathologist_id == consultant_id
        ]
        if not open_reads:
            raise NotAssignedError(
                f"pathologist {consultant_id} has no open consult or second opinion on "
                f"case {case.accession_number!r}"
            )
        end_assignment(open_reads[0], reason="completed", now=moment)
        session.add(Comment(case_id=case.id, author=actor.user_id, body=answer, created_at=moment))
        session.flush()
        still_open = [
            a for kind in _REVIEW_KINDS for a in active_assignments(session, case.id, kind)
        ]
        if case.status is CaseStatus.CONSULT_PENDING and not still_open:
            lifecycle.transition(case, CaseStatus.IN_REVIEW, now=moment)
        else:
            case.updated_at = moment
        record_event(
            session,
            actor=actor,
            event_type=f"case.{open_reads[0].kind.value}.answer",
            action=AuditAction.UPDATE,
            case=case,
            now=moment,
        )
        return CaseState.of(case)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type="case.consult.answer",
        case_id=case_id,
        now=now,
    ):
        return run_in_transaction(engine, work)


def sign_out(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> CaseState:
    """The primary pathologist signs the case out; every second read must be in."""

    def work(session: Session) -> CaseState:
        moment = utc_now(now)
        case = lock_case(session, case_id, expected_version=expected_version)
        primary = _require_primary(session, case, pathologist_id, "sign it out")
        lifecycle.check_transition(case.accession_number, case.status, CaseStatus.SIGNED_OUT)
        open_reads = [
            a for kind in _REVIEW_KINDS for a in active_assignments(session, case.id, kind)
        ]
        if open_reads:
            raise InvalidTransitionError(
                case.accession_number,
                case.status.value,
                CaseStatus.SIGNED_OUT.value,
                f"{len(open_reads)} second read(s) or consult(s) still open",
            )
        lifecycle.transition(case, CaseStatus.SIGNED_OUT, now=moment)
        end_assignment(primary, reason="signed_out", now=moment)
        record_event(
            session,
            actor=actor,
            event_type="case.sign_out",
            action=AuditAction.UPDATE,
            case=case,
            now=moment,
        )
        return CaseState.of(case)

    with audit_refusal(
        engine=engine,
        actor=actor,
        event_type="case.sign_out",
        case_id=case_id,
        now=now,
    ):
        return run_in_transaction(engine, work)
