"""Reviewing a case: start, ask a colleague (consult or second opinion), answer, sign out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AssignmentKind, AuditAction, CaseStatus, GrantKind
from worklist.errors import InvalidTransitionError, NotAssignedError
from worklist.models import Assignment, Case, Comment, UserAccount
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

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id, expected_version=expected_version)
        _require_primary(session, case, pathologist_id, "review it")
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
    second opinion; the case waits in "consult_pending" until it is answered.

    With ``grant``, the consultant's account gets a consult grant on the case in the same
    transaction, so they can still open it after answering.
    """

    def work(session: Session, audit: Recorder) -> ConsultReceipt:
        moment = audit.moment
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
        entries = [audit.entry(case=case, detail={"consultant": consultant.code})]
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


def _open_reads(session: Session, case_id: int, consultant_id: int) -> list[Assignment]:
    """The consultant's open second opinions, then consults, on the case."""
    return [
        a
        for kind in _REVIEW_KINDS
        for a in active_assignments(session, case_id, kind)
        if a.pathologist_id == consultant_id
    ]


def answer_consult(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    consultant_id: int,
    answer: str,
    now: datetime | None = None,
) -> CaseState:
    """A consultant or second reader answers; with the last answer the case is back in review.

    Recorded as "case.consult.answer" or "case.second_opinion.answer", by what is answered
    (a consultant with nothing open is refused as "case.consult.answer").
    """
    with read_session(engine) as session:
        reads = _open_reads(session, case_id, consultant_id)
    kind = reads[0].kind if reads else AssignmentKind.CONSULT

    def work(session: Session, audit: Recorder) -> CaseState:
        case = lock_case(session, case_id)
        open_reads = [a for a in _open_reads(session, case.id, consultant_id) if a.kind is kind]
        if not open_reads:
            raise NotAssignedError(
                f"pathologist {consultant_id} has no open consult or second opinion on "
                f"case {case.accession_number!r}"
            )
        end_assignment(open_reads[0], reason="completed", now=audit.moment)
        session.add(
            Comment(case_id=case.id, author=actor.user_id, body=answer, created_at=audit.moment)
        )
        session.flush()
        still_open = [a for k in _REVIEW_KINDS for a in active_assignments(session, case.id, k)]
        if case.status is CaseStatus.CONSULT_PENDING and not still_open:
            lifecycle.transition(case, CaseStatus.IN_REVIEW, now=audit.moment)
        else:
            case.updated_at = audit.moment
        audit.record(case=case)
        return CaseState.of(case)

    return run_audited(engine, actor, f"case.{kind.value}.answer", work, case_id=case_id, now=now)


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

    def work(session: Session, audit: Recorder) -> CaseState:
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
        lifecycle.transition(case, CaseStatus.SIGNED_OUT, now=audit.moment)
        end_assignment(primary, reason="signed_out", now=audit.moment)
        audit.record(case=case)
        return CaseState.of(case)

    return run_audited(engine, actor, "case.sign_out", work, case_id=case_id, now=now)
