"""Assignment and reassignment of one case by a lab manager (the engine's rounds: proposals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.enums import AssignmentKind, CaseStatus
from worklist.errors import AlreadyAssignedError, NotAssignedError
from worklist.models import Assignment
from worklist.operations._assigning import assign_kind
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
    expected_version: int | None = None,
    now: datetime | None = None,
) -> AssignmentReceipt:
    """Assign a case to a pathologist by hand (lab managers) in one transaction."""

    def work(session: Session, audit: Recorder) -> AssignmentReceipt:
        case = lock_case(session, case_id, expected_version=expected_version)
        pathologist = get_pathologist(session, pathologist_id)
        assignment = assign_kind(
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
