"""Reviewing a case: start, ask a colleague (consult or second opinion), answer.

Sign-out is the report's (:mod:`worklist.operations.reports`). Working on an assigned case
starts its review (:func:`worklist.lifecycle.start_review_implicitly`): a consult can be asked
without a ``start_review`` first. A consult carries its question and, once answered, its
answer, on the consultant's assignment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AssignmentKind, AuditAction, CaseStatus, GrantKind
from worklist.errors import NotAssignedError, ValidationError
from worklist.models import Assignment, Case, Pathologist, UserAccount
from worklist.operations._assigning import add_reviewer
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import (
    active_assignments,
    active_primary,
    end_assignment,
    get_pathologist,
    lock_case,
)
from worklist.operations._grants import add_grant, check_grant
from worklist.operations.receipts import AssignmentReceipt, CaseState

REVIEW_KINDS = (AssignmentKind.SECOND_OPINION, AssignmentKind.CONSULT)
"""The assignments that read a case beside its primary pathologist."""


def pathologist_label(pathologist: Pathologist) -> str:
    """A pathologist as people know them, for messages: "dr. F. Mulder (HMC-01)"."""
    return f"{pathologist.name} ({pathologist.code})"


def label_of(session: Session, pathologist_id: int) -> str:
    """:func:`pathologist_label` of pathologist ``pathologist_id`` (never a bare id when the
    pathologist exists)."""
    pathologist = session.get(Pathologist, pathologist_id)
    if pathologist is None:
        return f"an unknown pathologist (id {pathologist_id})"
    return pathologist_label(pathologist)


def require_primary(
    session: Session,
    case: Case,
    pathologist_id: int,
    doing: str,
    target: CaseStatus,
    *,
    signed_out_message: str = "",
) -> Assignment:
    """The pathologist's active primary assignment of ``case``; a signed-out case is refused
    as signed out first (:func:`worklist.lifecycle.refuse_when_signed_out`), then anyone but
    its primary pathologist, named by name and code."""
    lifecycle.refuse_when_signed_out(case, target, signed_out_message)
    primary = active_primary(session, case.id)
    if primary is None or primary.pathologist_id != pathologist_id:
        held = (
            f"it is held by {pathologist_label(primary.pathologist)}"
            if primary is not None
            else "it has no primary pathologist"
        )
        raise NotAssignedError(
            f"{label_of(session, pathologist_id)} is not the primary pathologist of case "
            f"{case.accession_number!r} and cannot {doing}; {held}"
        )
    return primary


def open_reads(session: Session, case_id: int) -> list[Assignment]:
    """The case's second opinions and consults that are not answered yet."""
    return [a for kind in REVIEW_KINDS for a in active_assignments(session, case_id, kind)]


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

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id, expected_version=expected_version)
        require_primary(session, case, pathologist_id, "review it", CaseStatus.IN_REVIEW)
        lifecycle.transition(case, CaseStatus.IN_REVIEW, now=audit.moment)
        audit.record(case=case)
        return CaseState.of(case)

    return run_audited(engine, actor, "case.review.start", work, case_id=case_id, now=now)


@dataclass(frozen=True, slots=True)
class ConsultGrant:
    """The access a consult request gives its reader's account: for how long, and why."""

    valid_for: timedelta
    reason: str


@dataclass(frozen=True, slots=True)
class ConsultReceipt:
    """The reader's assignment, and the grant their account got (None: no grant, or the
    consultant has no active account)."""

    assignment: AssignmentReceipt
    grant_id: int | None


def _kind_words(kind: AssignmentKind) -> str:
    return kind.value.replace("_", " ")


def request_consult(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    requested_by: int,
    consultant_id: int,
    question: str,
    kind: AssignmentKind = AssignmentKind.CONSULT,
    grant: ConsultGrant | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ConsultReceipt:
    """The primary pathologist asks a colleague (often at another site) for a consult or
    second opinion; the case waits in "consult_pending" until it is answered. An assigned
    case starts its review with the request.

    The question is stored on the consultant's assignment. With ``grant``, the consultant's
    account gets a consult grant on the case in the same transaction, so they can still open
    it after answering.
    """
    if not question.strip():
        raise ValidationError(f"a {_kind_words(kind)} request needs a question")

    def work(session: Session, audit: Recorder) -> ConsultReceipt:
        moment = audit.moment
        case = lock_case(session, case_id, expected_version=expected_version)
        require_primary(
            session,
            case,
            requested_by,
            f"ask for a {_kind_words(kind)}",
            CaseStatus.CONSULT_PENDING,
        )
        consultant = get_pathologist(session, consultant_id)
        review_started = lifecycle.start_review_implicitly(case, now=moment)
        lifecycle.check_transition(case.accession_number, case.status, CaseStatus.CONSULT_PENDING)
        assignment = add_reviewer(
            session, case, consultant, kind=kind, actor=actor, rule="requested", now=moment
        )
        assignment.requested_by_id = requested_by
        assignment.question = question
        lifecycle.transition(case, CaseStatus.CONSULT_PENDING, now=moment)
        detail: dict[str, object] = {"consultant": consultant.code}
        if review_started:
            detail["review_started"] = True
        entries = [audit.entry(case=case, detail=detail)]
        account_id = session.scalar(
            select(UserAccount.id).where(
                UserAccount.pathologist_id == consultant.id, UserAccount.active
            )
        )
        grant_id = None
        if grant is not None and account_id is not None:
            given, entry = add_grant(
                session,
                actor=actor,
                case=case,
                user_id=account_id,
                kind=GrantKind.CONSULT,
                reason=grant.reason,
                valid_for=grant.valid_for,
                now=moment,
            )
            grant_id = given.id
            entries.append(entry)
        audit.write(*entries)
        return ConsultReceipt(AssignmentReceipt.of(assignment, case), grant_id)

    return run_audited(
        engine,
        actor,
        f"case.{kind.value}.request",
        work,
        action=AuditAction.CREATE,
        case_id=case_id,
        check=(lambda: check_grant(actor, GrantKind.CONSULT, grant.reason)) if grant else None,
        now=now,
    )


def _open_reads_of(session: Session, case_id: int, consultant_id: int) -> list[Assignment]:
    """The consultant's open second opinions, then consults, on the case."""
    return [a for a in open_reads(session, case_id) if a.pathologist_id == consultant_id]


def answer_consult(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    consultant_id: int,
    answer: str,
    now: datetime | None = None,
) -> CaseState:
    """A consultant or second reader answers; the answer is stored on their assignment, which
    ends; with the last answer the case is back in review.

    Recorded as "case.consult.answer" or "case.second_opinion.answer", by what is answered
    (a consultant with nothing open is refused as "case.consult.answer").
    """
    if not answer.strip():
        raise ValidationError("an answer needs text")
    with read_session(engine) as session:
        reads = _open_reads_of(session, case_id, consultant_id)
    kind = reads[0].kind if reads else AssignmentKind.CONSULT

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id)
        lifecycle.refuse_when_signed_out(case, CaseStatus.IN_REVIEW)
        answered = [a for a in _open_reads_of(session, case.id, consultant_id) if a.kind is kind]
        if not answered:
            raise NotAssignedError(
                f"{label_of(session, consultant_id)} has no open consult or second opinion on "
                f"case {case.accession_number!r}"
            )
        read = answered[0]
        read.answer = answer
        read.answered_at = audit.moment
        end_assignment(read, reason="completed", now=audit.moment)
        session.flush()
        if case.status is CaseStatus.CONSULT_PENDING and not open_reads(session, case.id):
            lifecycle.transition(case, CaseStatus.IN_REVIEW, now=audit.moment)
        else:
            case.updated_at = audit.moment
        audit.record(case=case, detail={"assignment_id": read.id})
        return CaseState.of(case)

    return run_audited(engine, actor, f"case.{kind.value}.answer", work, case_id=case_id, now=now)
