"""Assignment and reassignment of one case by a lab manager (the engine's rounds: proposals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.enums import AssignmentKind, CaseStatus
from worklist.errors import AlreadyAssignedError, NotAssignedError, ValidationError
from worklist.models import Assignment
from worklist.operations._assigning import assign_kind, outside_subspecialty, record_move
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import (
    active_primary,
    end_assignment,
    get_pathologist,
    lock_case,
    require_manager,
)
from worklist.operations.receipts import AssignmentReceipt


def assign_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    pathologist_id: int,
    kind: AssignmentKind = AssignmentKind.PRIMARY,
    rule: str = "manual",
    reason: str = "",
    confirm_outside_subspecialty: bool = True,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Assign a case to a pathologist by hand (lab managers) in one transaction.

    A primary read is kept, with ``reason``, as a move in the case history; one outside the
    pathologist's subspecialties is marked so there and in the audit (and refused with
    :class:`OutsideSubspecialtyError` when ``confirm_outside_subspecialty`` is false). The
    API's hand assignment does not ask for the confirmation: the issue asks it of reassigning
    and claiming, and a lab manager choosing a pathologist for an unassigned case is the
    assignment round's own job done by hand (the page still asks before it sends).
    """

    def work(session: Session, audit: Recorder) -> AssignmentReceipt:
        case = lock_case(session, case_id, expected_version=expected_version)
        pathologist = get_pathologist(session, pathologist_id)
        primary = kind is AssignmentKind.PRIMARY
        assignment = assign_kind(
            session, case, pathologist, kind, actor=actor, rule=rule, now=audit.moment
        )
        # After the assignment, so a taken case says so first; a refusal rolls it all back.
        outside = primary and outside_subspecialty(
            case, pathologist, confirmed=confirm_outside_subspecialty, what="assign"
        )
        detail: dict[str, object] = {"pathologist": pathologist.code, "rule": rule}
        if primary:
            record_move(
                session,
                assignment,
                from_pathologist_id=None,
                reason=reason,
                outside=outside,
                actor=actor,
                now=audit.moment,
            )
            detail |= {"reason": reason, "outside_subspecialty": outside}
        audit.record(case=case, detail=detail)
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


def reassign_case(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    to_pathologist_id: int,
    reason: str,
    confirm_outside_subspecialty: bool = True,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Move a case's primary assignment to another pathologist (lab managers only), with a
    reason (required: the case history shows it).

    A case that was in review goes back to "assigned": its new pathologist has not begun.
    Outside the new pathologist's subspecialties the move needs
    ``confirm_outside_subspecialty`` and is marked so in the history and the audit.
    """
    if not reason.strip():
        raise ValidationError("a reassignment needs a reason: the case history shows it")

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
        outside = outside_subspecialty(
            case, target, confirmed=confirm_outside_subspecialty, what="reassign"
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
        record_move(
            session,
            assignment,
            from_pathologist_id=current.pathologist_id,
            reason=reason,
            outside=outside,
            actor=actor,
            now=moment,
        )
        audit.record(
            case=case,
            detail={
                "from": previous_code,
                "to": target.code,
                "reason": reason,
                "outside_subspecialty": outside,
            },
        )
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
