"""Case waits: recording when a case waits on something outside the department.

The turnaround clock rule: a case's turnaround runs from its receipt to its sign-out, and it
pauses while the case waits on an external consult or a molecular test
(:class:`worklist.models.WaitReason`). The paused time is the union of the case's waits
between receipt and sign-out (overlapping waits count once; a wait still open at sign-out
counts until the sign-out), and it also moves the case's due time later
(:mod:`worklist.capacity.turnaround` computes both, for the reports and the simulation).

A wait is started and ended here, as an operation: one transaction, audited under one event
name for its success and its refusal (:func:`worklist.operations._audited.run_audited`).
Refused: a case that does not exist, a second open wait for the same reason, an end before
the start, a start before receipt or in the future, and any change on a signed-out case (its
turnaround is final).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, select
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.enums import AuditAction, CaseStatus
from worklist.errors import (
    InvalidTransitionError,
    NotFoundError,
    SignedOutError,
    ValidationError,
)
from worklist.models import Case, CaseWait, WaitReason
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import lock_case, utc_now

__all__ = [
    "WAIT_END_EVENT",
    "WAIT_START_EVENT",
    "WaitStateError",
    "case_waits",
    "end_wait",
    "start_wait",
    "waits_of_case",
]

WAIT_START_EVENT = "case.wait.start"
WAIT_END_EVENT = "case.wait.end"


class WaitStateError(InvalidTransitionError):
    """The wait cannot change so: the case already waits for that reason, or the wait ended
    (409, and audited as a refused attempt like any refused transition)."""

    def __init__(self, case: str, state: str, message: str) -> None:
        super().__init__(case, state, state, message=message)


def start_wait(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    reason: WaitReason,
    at: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Start a wait of the case for ``reason`` at ``at`` (default: now); returns its id.

    The case's turnaround clock pauses from ``at`` until the wait ends.
    """

    def work(session: Session, audit: Recorder) -> int:
        started_at = _moment(at, audit.moment)
        case = lock_case(session, case_id)
        _refuse_when_signed_out(case)
        if started_at < case.received_at:
            raise ValidationError(
                f"a wait of case {case.accession_number!r} cannot start at "
                f"{started_at.isoformat()}, before the case was received "
                f"({case.received_at.isoformat()})"
            )
        open_wait = session.scalar(
            select(CaseWait.id).where(
                CaseWait.case_id == case.id,
                CaseWait.reason == reason,
                CaseWait.ended_at.is_(None),
            )
        )
        if open_wait is not None:
            raise WaitStateError(
                case.accession_number,
                f"waiting on {reason.value}",
                f"case {case.accession_number!r} already waits on {reason.words} "
                f"(wait {open_wait}); end that wait first",
            )
        wait = CaseWait(
            case_id=case.id, reason=reason, started_at=started_at, recorded_by=actor.user_id
        )
        session.add(wait)
        session.flush()
        audit.record(
            case=case,
            detail={
                "wait_id": wait.id,
                "reason": reason.value,
                "started_at": started_at.isoformat(),
            },
        )
        return wait.id

    return run_audited(
        engine,
        actor,
        WAIT_START_EVENT,
        work,
        action=AuditAction.CREATE,
        case_id=case_id,
        now=now,
    )


def end_wait(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    wait_id: int,
    at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """End the case's open wait ``wait_id`` at ``at`` (default: now): its clock runs again."""

    def work(session: Session, audit: Recorder) -> None:
        ended_at = _moment(at, audit.moment)
        case = lock_case(session, case_id)
        wait = session.get(CaseWait, wait_id)
        if wait is None or wait.case_id != case.id:
            raise NotFoundError("wait", wait_id)
        _refuse_when_signed_out(case)
        if wait.ended_at is not None:
            raise WaitStateError(
                case.accession_number,
                "wait ended",
                f"wait {wait_id} of case {case.accession_number!r} already ended at "
                f"{wait.ended_at.isoformat()}",
            )
        if ended_at <= wait.started_at:
            raise ValidationError(
                f"wait {wait_id} started at {wait.started_at.isoformat()}; it cannot end at "
                f"{ended_at.isoformat()}, which is not after its start"
            )
        wait.ended_at = ended_at
        session.flush()
        audit.record(
            case=case,
            detail={
                "wait_id": wait.id,
                "reason": wait.reason.value,
                "ended_at": ended_at.isoformat(),
            },
        )

    run_audited(
        engine,
        actor,
        WAIT_END_EVENT,
        work,
        action=AuditAction.UPDATE,
        case_id=case_id,
        now=now,
    )


def case_waits(session: Session, case_id: int) -> list[CaseWait]:
    """The case's waits, open and ended, in the order they were recorded."""
    if session.get(Case, case_id) is None:
        raise NotFoundError("case", case_id)
    return list(session.scalars(waits_of_case(case_id).order_by(CaseWait.id)))


def waits_of_case(case_id: int) -> Select[Any]:
    """The query of a case's waits, unordered: for a caller that orders or pages it."""
    return select(CaseWait).where(CaseWait.case_id == case_id)


def _moment(at: datetime | None, now: datetime) -> datetime:
    """``at`` as aware UTC (default ``now``); a wait is a record of what happened, so a time
    after ``now`` is refused."""
    if at is None:
        return now
    if at.tzinfo is None:
        raise ValidationError(f"a wait's time needs its UTC offset, got {at.isoformat()}")
    moment = utc_now(at)
    if moment > now:
        raise ValidationError(
            f"a wait is recorded when it happens; {moment.isoformat()} lies in the future"
        )
    return moment


def _refuse_when_signed_out(case: Case) -> None:
    if case.status is CaseStatus.SIGNED_OUT:
        raise SignedOutError(
            case.accession_number,
            "waiting",
            f"case {case.accession_number!r} is signed out: its turnaround is final and its "
            "waits can no longer change",
        )
