"""The engine's proposals applied in one transaction (an assignment round)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import AuditEntry
from worklist.enums import AssignmentKind, AuditAction
from worklist.errors import WorklistError
from worklist.models import Case
from worklist.operations._assigning import assign_kind
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import get_pathologist, lock_case, require_manager
from worklist.operations.receipts import AssignmentReceipt

# (case_id, pathologist_id, kind, rule): what the assignment engine proposes.
Proposal = tuple[int, int, AssignmentKind | str, str]


@dataclass(frozen=True, slots=True)
class ProposalOutcome:
    """What :func:`apply_proposals` did: the assignments made and the proposals skipped."""

    applied: tuple[AssignmentReceipt, ...]
    skipped: tuple[tuple[Proposal, str], ...]


def apply_in_session(
    session: Session, audit: Recorder, actor: Actor, proposals: Iterable[Proposal]
) -> ProposalOutcome:
    """Apply ``proposals`` inside the caller's transaction (see :func:`apply_proposals`), each in
    a savepoint, and write one "case.assign.<kind>" record per assignment made."""
    moment = audit.moment
    applied: list[AssignmentReceipt] = []
    skipped: list[tuple[Proposal, str]] = []
    for proposal in proposals:
        case_id, pathologist_id, kind_value, rule = proposal
        kind = AssignmentKind(kind_value)
        try:
            with session.begin_nested():
                case = lock_case(session, case_id)
                pathologist = get_pathologist(session, pathologist_id)
                assignment = assign_kind(
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
        return apply_in_session(session, audit, actor, proposal_list)

    return run_audited(
        engine,
        actor,
        "case.assign.round",
        work,
        action=AuditAction.EXECUTE,
        check=lambda: require_manager(actor, "apply assignment proposals"),
        now=now,
    )
