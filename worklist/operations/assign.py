"""Assignment by a lab manager or by the engine's proposals, and reassignment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.audit import AuditEntry
from worklist.enums import AssignmentKind, AuditAction, CaseStatus
from worklist.errors import AlreadyAssignedError, NotAssignedError, WorklistError
from worklist.models import Assignment, Case, Pathologist
from worklist.operations._assigning import add_primary, add_reviewer
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import (
    active_primary,
    end_assignment,
    get_pathologist,
    lock_case,
    require_manager,
)
from worklist.operations.receipts import AssignmentReceipt

# (case_id, pathologist_id, kind, rule): what the assignment engine proposes.
Proposal = tuple[int, int, AssignmentKind | str, str]


def assign_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    kind: AssignmentKind = AssignmentKind.PRIMARY,
    rule: str = "manual",
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Assign a case to a pathologist by hand (lab managers) in one transaction."""

    def work(session: Session, audit: Recorder) -> AssignmentReceipt:
        case = lock_case(session, case_id, expected_version=expected_version)
        pathologist = get_pathologist(session, pathologist_id)
        assignment = _assign(
            session, case, pathologist, kind, actor=actor, rule=rule, now=audit.moment
        )
        audit.record(case=case, detail={"pathologist": pathologist.code, "rule": rule})
        return AssignmentReceipt.of(assignment, case)

    return run_audited(
        engine,
        actor,
        f"case.assign.{kind.value}",
        work,
        case_id=case_id,
        check=lambda: require_manager(actor, "assign cases"),
        now=now,
    )


@dataclass(frozen=True, slots=True)
class ProposalOutcome:
    """What :func:`apply_proposals` did: the assignments made and the proposals skipped."""

    applied: tuple[AssignmentReceipt, ...]
    skipped: tuple[tuple[Proposal, str], ...]


def apply_proposals(
    *,
    engine: Engine,
    actor: Actor,
    proposals: Iterable[Proposal],
    now: datetime | None = None,
) -> ProposalOutcome:
    """Apply the engine's proposals in one transaction.

    A proposal overtaken by events since the engine's snapshot (the case was claimed, released
    or signed out meanwhile) is skipped with its reason; the others still apply. Each proposal
    runs in a savepoint, so a skipped one leaves nothing behind. The round is one operation
    ("case.assign.round", which a refusal names), each assignment it makes is recorded as
    "case.assign.<kind>", as if made by hand.
    """
    proposal_list = list(proposals)

    def work(session: Session, audit: Recorder) -> ProposalOutcome:
        moment = audit.moment
        applied: list[AssignmentReceipt] = []
        skipped: list[tuple[Proposal, str]] = []
        for proposal in proposal_list:
            case_id, pathologist_id, kind_value, rule = proposal
            kind = AssignmentKind(kind_value)
            try:
                with session.begin_nested():
                    case = lock_case(session, case_id)
                    pathologist = get_pathologist(session, pathologist_id)
                    assignment = _assign(
                        session, case, pathologist, kind, actor=actor, rule=rule, now=moment
                    )
                    receipt = AssignmentReceipt.of(assignment, case)
            except WorklistError as exc:
                skipped.append((proposal, str(exc)))
                continue
            applied.append(receipt)
        entries = [
            AuditEntry(
                f"case.assign.{receipt.kind.value}",
                AuditAction.UPDATE,
                case=session.get_one(Case, receipt.case.case_id),  # locked above
                detail={"pathologist_id": receipt.pathologist_id, "rule": receipt.rule},
            )
            for receipt in applied
        ]
        audit.write(*entries)
        return ProposalOutcome(tuple(applied), tuple(skipped))

    return run_audited(
        engine,
        actor,
        "case.assign.round",
        work,
        action=AuditAction.EXECUTE,
        check=lambda: require_manager(actor, "apply assignment proposals"),
        now=now,
    )


def reassign_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    to_pathologist_id: int,
    reason: str,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Move a case's primary assignment to another pathologist (lab managers only).

    A case that was in review goes back to "assigned": its new pathologist has not begun.
    """

    def work(session: Session, audit: Recorder) -> AssignmentReceipt:
        moment = audit.moment
        case = lock_case(session, case_id, expected_version=expected_version)
        target = get_pathologist(session, to_pathologist_id)
        current = active_primary(session, case.id)
        if current is None:
            raise NotAssignedError(
                f"case {case.accession_number!r} ({case.status.value}) has no pathologist to "
                "reassign from; assign it instead"
            )
        if current.pathologist_id == target.id:
            raise AlreadyAssignedError(
                f"case {case.accession_number!r} is already assigned to {target.code}"
            )
        previous_code = current.pathologist.code
        end_assignment(current, reason="reassigned", now=moment)
        session.flush()  # the old primary must be inactive before the new one is inserted
        if case.status is CaseStatus.IN_REVIEW:
            lifecycle.transition(case, CaseStatus.ASSIGNED, now=moment)
        else:
            case.updated_at = moment
        assignment = Assignment(
            case_id=case.id,
            pathologist_id=target.id,
            kind=AssignmentKind.PRIMARY,
            active=True,
            assigned_at=moment,
            assigned_by=actor.user_id,
            rule="reassign",
        )
        session.add(assignment)
        session.flush()
        audit.record(case=case, detail={"from": previous_code, "to": target.code, "reason": reason})
        return AssignmentReceipt.of(assignment, case)

    return run_audited(
        engine,
        actor,
        "case.reassign",
        work,
        case_id=case_id,
        check=lambda: require_manager(actor, "reassign cases"),
        now=now,
    )


def _assign(
    session: Session,
    case: Case,
    pathologist: Pathologist,
    kind: AssignmentKind,
    *,
    actor: Actor,
    rule: str,
    now: datetime,
) -> Assignment:
    if kind is AssignmentKind.PRIMARY:
        return add_primary(session, case, pathologist, actor=actor, rule=rule, now=now)
    return add_reviewer(session, case, pathologist, kind=kind, actor=actor, rule=rule, now=now)
