"""The two ways a case gains a pathologist: as primary, or as a second reader / consultant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.enums import AssignmentKind, CaseStatus
from worklist.errors import (
    AlreadyAssignedError,
    ConflictOfInterestError,
    NotAssignedError,
    OutsideSubspecialtyError,
)
from worklist.models import Assignment, Case, CaseMove, Pathologist
from worklist.operations._common import active_assignments, active_primary, flush_new_assignment


def outside_subspecialty(
    case: Case, pathologist: Pathologist, *, confirmed: bool, what: str
) -> bool:
    """Whether ``case`` lies outside ``pathologist``'s subspecialties; refuses an unconfirmed
    move there (``what``: "claim", "reassign", ...) with :class:`OutsideSubspecialtyError`.

    The operations confirm by default: a script or the demo calling the library means what
    it does. The API passes the request's ``confirm_outside_subspecialty`` (false unless
    sent), so a person at the page or the API confirms explicitly."""
    names = pathologist.subspecialty_names
    if case.tumour_group in names:
        return False
    if not confirmed:
        raise OutsideSubspecialtyError(
            f"case {case.accession_number!r} is {case.tumour_group}, outside the "
            f"subspecialties of {pathologist.code} ({', '.join(sorted(names)) or 'none'}); "
            f"{what} it with confirm_outside_subspecialty true if that is meant"
        )
    return True


def record_move(
    session: Session,
    assignment: Assignment,
    *,
    from_pathologist_id: int | None,
    reason: str,
    outside: bool,
    actor: Actor,
    now: datetime,
) -> CaseMove:
    """Keep a lab manager's hand move of ``assignment`` and its reason for the case history."""
    move = CaseMove(
        case_id=assignment.case_id,
        assignment_id=assignment.id,
        from_pathologist_id=from_pathologist_id,
        to_pathologist_id=assignment.pathologist_id,
        reason=reason,
        outside_subspecialty=outside,
        moved_at=now,
        moved_by=actor.user_id,
    )
    session.add(move)
    session.flush()
    return move


def add_primary(
    session: Session,
    case: Case,
    pathologist: Pathologist,
    *,
    actor: Actor,
    rule: str,
    now: datetime,
) -> Assignment:
    """Give an unassigned ("scanned") case its primary pathologist."""
    if case.status in lifecycle.ASSIGNED_STATUSES:
        holder = active_primary(session, case.id)
        who = holder.pathologist.code if holder is not None else "someone"
        raise AlreadyAssignedError(f"case {case.accession_number!r} is already assigned to {who}")
    lifecycle.transition(case, CaseStatus.ASSIGNED, now=now)
    assignment = Assignment(
        case_id=case.id,
        pathologist_id=pathologist.id,
        kind=AssignmentKind.PRIMARY,
        active=True,
        assigned_at=now,
        assigned_by=actor.user_id,
        rule=rule,
    )
    session.add(assignment)
    flush_new_assignment(session, case)
    return assignment


def add_reviewer(
    session: Session,
    case: Case,
    pathologist: Pathologist,
    *,
    kind: AssignmentKind,
    actor: Actor,
    rule: str,
    now: datetime,
) -> Assignment:
    """Add a second reader or consultant: never the case's own pathologist."""
    if kind is AssignmentKind.PRIMARY:
        raise ValueError("add_reviewer is for second opinions and consults")
    primary = active_primary(session, case.id)
    if primary is None:
        raise NotAssignedError(
            f"case {case.accession_number!r} has no primary pathologist to ask for a {kind.value}"
        )
    if primary.pathologist_id == pathologist.id:
        raise ConflictOfInterestError(
            f"{pathologist.code} is the primary pathologist of case {case.accession_number!r} "
            f"and cannot give its {kind.value}"
        )
    if any(a.pathologist_id == pathologist.id for a in active_assignments(session, case.id, kind)):
        raise AlreadyAssignedError(
            f"{pathologist.code} already has an open {kind.value} on case {case.accession_number!r}"
        )
    assignment = Assignment(
        case_id=case.id,
        pathologist_id=pathologist.id,
        kind=kind,
        active=True,
        assigned_at=now,
        assigned_by=actor.user_id,
        rule=rule,
    )
    session.add(assignment)
    case.updated_at = now  # a new reader changes the case: bump its version
    session.flush()
    return assignment


def assign_kind(
    session: Session,
    case: Case,
    pathologist: Pathologist,
    kind: AssignmentKind,
    *,
    actor: Actor,
    rule: str,
    now: datetime,
) -> Assignment:
    """Give ``case`` to ``pathologist`` as ``kind`` (primary, second opinion or consult)."""
    if kind is AssignmentKind.PRIMARY:
        return add_primary(session, case, pathologist, actor=actor, rule=rule, now=now)
    return add_reviewer(session, case, pathologist, kind=kind, actor=actor, rule=rule, now=now)
