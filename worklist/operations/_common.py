"""Helpers shared by the operations: locked loads, version checks, assignment queries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.enums import AssignmentKind
from worklist.errors import (
    AlreadyAssignedError,
    ConcurrentUpdateError,
    NotFoundError,
    NotPermittedError,
)
from worklist.models import Assignment, Case, Pathologist

ONE_ACTIVE_PRIMARY_INDEX = "uq_assignment_one_active_primary"


def utc_now(now: datetime | None) -> datetime:
    """``now`` if given (aware), else the current UTC time."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")
    return now.astimezone(UTC)


def lock_case(session: Session, case_id: int, *, expected_version: int | None = None) -> Case:
    """Load a case and lock its row (``SELECT ... FOR UPDATE`` on PostgreSQL).

    On SQLite the write transaction already holds the database's write lock.
    """
    case = session.execute(
        select(Case).where(Case.id == case_id).with_for_update()
    ).scalar_one_or_none()
    if case is None:
        raise NotFoundError("case", case_id)
    if expected_version is not None and case.version != expected_version:
        raise ConcurrentUpdateError(
            f"case {case.accession_number!r} is at version {case.version}, "
            f"not {expected_version}: it changed since it was read; reload and retry"
        )
    return case


def get_pathologist(session: Session, pathologist_id: int) -> Pathologist:
    """Load an active pathologist or raise :class:`NotFoundError`."""
    pathologist = session.get(Pathologist, pathologist_id)
    if pathologist is None or not pathologist.active:
        raise NotFoundError("pathologist", pathologist_id)
    return pathologist


def active_assignments(
    session: Session, case_id: int, kind: AssignmentKind | None = None
) -> list[Assignment]:
    """The case's active assignments (of ``kind``, if given), oldest first."""
    query = select(Assignment).where(Assignment.case_id == case_id, Assignment.active)
    if kind is not None:
        query = query.where(Assignment.kind == kind)
    return list(session.execute(query.order_by(Assignment.id)).scalars())


def active_primary(session: Session, case_id: int) -> Assignment | None:
    """The case's active primary assignment, if any."""
    primaries = active_assignments(session, case_id, AssignmentKind.PRIMARY)
    return primaries[0] if primaries else None


def end_assignment(assignment: Assignment, *, reason: str, now: datetime) -> None:
    """Deactivate an assignment, recording when and why."""
    assignment.active = False
    assignment.ended_at = now
    assignment.end_reason = reason


def flush_new_assignment(session: Session, case: Case) -> None:
    """Flush, turning a violation of the one-active-primary index into a domain error."""
    try:
        session.flush()
    except IntegrityError as exc:
        if ONE_ACTIVE_PRIMARY_INDEX in str(exc.orig) or "assignment.case_id" in str(exc.orig):
            raise AlreadyAssignedError(
                f"case {case.accession_number!r} already has an active primary assignment"
            ) from exc
        raise


def require_manager(actor: Actor, what: str) -> None:
    """Raise unless ``actor`` may manage other people's work."""
    if not actor.may_manage:
        raise NotPermittedError(
            f"{actor.user_id!r} ({actor.role.value}) may not {what}; "
            "it needs a lab manager or an admin"
        )
