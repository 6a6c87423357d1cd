"""Refused operations leave a trace: an audit record with a failure outcome (NEN 7513).

NEN 7513 asks for a record of attempts as well as of successes: a refused claim, a sign-out
that the lifecycle forbids, a pathologist trying what only a lab manager may do. The refused
operation's own transaction rolls back and changes nothing; the failure record is written
afterwards in a transaction of its own, so "changes nothing" keeps holding for the worklist
while the audit log still shows the attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, AuditOutcome
from worklist.errors import (
    AlreadyAssignedError,
    ConcurrentUpdateError,
    ConflictOfInterestError,
    DatabaseBusyError,
    DuplicateAccessionError,
    InvalidTransitionError,
    NotAssignedError,
    NotPermittedError,
    OutsideSubspecialtyError,
)
from worklist.models import Case
from worklist.operations._common import utc_now

REFUSALS: tuple[type[Exception], ...] = (
    InvalidTransitionError,
    NotPermittedError,
    AlreadyAssignedError,
    ConflictOfInterestError,
    OutsideSubspecialtyError,
    NotAssignedError,
    ConcurrentUpdateError,
    DuplicateAccessionError,
)
"""What counts as a refusal. Not-found and malformed input are not attempts on a record, and a
busy database (:class:`DatabaseBusyError`) would refuse the failure record as well."""


def refusal_outcome(exc: Exception) -> AuditOutcome:
    """A permission refusal is a serious failure (it is reviewed); the others are minor."""
    return (
        AuditOutcome.SERIOUS_FAILURE
        if isinstance(exc, NotPermittedError)
        else (AuditOutcome.MINOR_FAILURE)
    )


@contextmanager
def audit_refusal(
    *,
    engine: Engine,
    actor: Actor,
    event_type: str,
    action: AuditAction = AuditAction.UPDATE,
    case_id: int | None = None,
    slide_id: int | None = None,
    now: datetime | None = None,
) -> Iterator[None]:
    """Run the block; if it is refused, record the refusal, then let the error go on."""
    try:
        yield
    except REFUSALS as exc:
        if not isinstance(exc, DatabaseBusyError):
            _record_refusal(
                engine=engine,
                actor=actor,
                event_type=event_type,
                action=action,
                case_id=case_id,
                slide_id=slide_id,
                now=now,
                refusal=exc,
            )
        raise


def _record_refusal(
    *,
    engine: Engine,
    actor: Actor,
    event_type: str,
    action: AuditAction,
    case_id: int | None,
    slide_id: int | None,
    now: datetime | None,
    refusal: Exception,
) -> None:
    def work(session: Session) -> None:
        record_event(
            session,
            actor=actor,
            event_type=event_type,
            action=action,
            outcome=refusal_outcome(refusal),
            case=session.get(Case, case_id) if case_id is not None else None,
            slide_id=slide_id,
            detail={"refused": type(refusal).__name__, "reason": str(refusal)},
            now=utc_now(now),
        )

    try:
        run_in_transaction(engine, work)
    except Exception as exc:  # the refusal itself must reach the caller whatever happens here
        refusal.add_note(f"the refusal could not be audited: {exc}")
