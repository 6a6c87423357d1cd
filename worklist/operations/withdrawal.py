"""Withdrawing a broken slide: hidden from everyone, audited, kept until the retention ends.

A registered slide can turn out broken (a scan out of focus, the wrong glass, a file that
decodes to garbage). A lab manager *withdraws* it with a reason: from then on nobody views
it (the service answers 410 Gone, naming the date and the reason), its unfinished tiling
jobs stop, and its file and pyramid stay on disk. Nothing is deleted silently: a withdrawal
can be *restored* (undone) until the retention period has passed; after that the service's
purge deletes the files, and :func:`record_purge` writes the record of it first.

Each step is audited under its own event name: ``slide.withdraw``, ``slide.restore`` and
``slide.purge``; a refused step (not a lab manager) is audited as a refusal under the same.
This module decides; deleting files is the service's (it knows where they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, exists, or_, select
from sqlalchemy.orm import Session, aliased

from worklist.actor import Actor
from worklist.db import read_session
from worklist.enums import AuditAction, JobStatus, PyramidStatus
from worklist.errors import NotFoundError, ValidationError, WorklistError
from worklist.models import Block, Case, Slide, Specimen, TilingJob
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import require_manager, utc_now

__all__ = [
    "MAX_REASON_LENGTH",
    "MIN_REASON_LENGTH",
    "PURGE_EVENT",
    "RESTORE_EVENT",
    "WITHDRAW_EVENT",
    "PurgeCandidate",
    "SlideWithdrawal",
    "SlideWithdrawalError",
    "describe_withdrawal",
    "purge_candidates",
    "record_purge",
    "restore_slide",
    "withdraw_slide",
]

WITHDRAW_EVENT = "slide.withdraw"
RESTORE_EVENT = "slide.restore"
PURGE_EVENT = "slide.purge"

MIN_REASON_LENGTH = 10
"""A reason is read in a review, months later: as for break-the-glass, a word will not do."""
MAX_REASON_LENGTH = 1000

_UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class SlideWithdrawalError(WorklistError):
    """The slide is not in the state the step needs: withdrawn twice, restored while not
    withdrawn, restored or purged after its files went, purged within the retention period."""


@dataclass(frozen=True, slots=True)
class SlideWithdrawal:
    """A slide just withdrawn: when, by whom, why, and the tiling jobs that were stopped."""

    slide_id: int
    case_id: int
    withdrawn_at: datetime
    withdrawn_by: str
    reason: str
    stopped_job_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PurgeCandidate:
    """A withdrawn slide past its retention period, for the purge to delete the files of.

    ``purged_at`` is set when the purge was recorded before (its files may still need
    deleting, if that run was interrupted). ``file_shared``: another slide that is not
    purged names the same file, which must then stay.
    """

    slide_id: int
    case_id: int
    withdrawn_at: datetime
    file_path: str | None
    file_shared: bool
    purged_at: datetime | None


def describe_withdrawal(slide_id: int, withdrawn_at: datetime, reason: str | None) -> str:
    """The one sentence that tells a viewer why a slide is gone (the 410, the 409)."""
    return f"slide {slide_id} was withdrawn on {withdrawn_at.date().isoformat()}: {reason or ''}"


def withdraw_slide(
    *, engine: Engine, actor: Actor, slide_id: int, reason: str, now: datetime | None = None
) -> SlideWithdrawal:
    """Withdraw slide ``slide_id`` with ``reason`` (lab managers and admins; a refusal is
    audited). Its queued or running tiling jobs fail with a message naming the withdrawal;
    its file and pyramid stay where they are. A slide withdrawn already is refused (409)."""
    reason = reason.strip()
    case_id = _case_id_of(engine, slide_id)

    def check() -> None:
        require_manager(actor, f"withdraw slide {slide_id}")
        _check_reason(reason)

    def work(session: Session, audit: Recorder) -> SlideWithdrawal:
        slide = _locked_slide(session, slide_id)
        if slide.withdrawn_at is not None:
            raise SlideWithdrawalError(
                f"{describe_withdrawal(slide_id, slide.withdrawn_at, slide.withdrawal_reason)} "
                f"(by {slide.withdrawn_by}); a slide is withdrawn once"
            )
        if slide.file_path is None:
            raise SlideWithdrawalError(f"slide {slide_id} has no scanned image to withdraw")
        stopped = _stop_jobs(
            session, slide, f"slide {slide_id} was withdrawn: {reason}", audit.moment
        )
        slide.withdrawn_at = audit.moment
        slide.withdrawn_by = actor.user_id
        slide.withdrawal_reason = reason
        audit.record(
            case=session.get_one(Case, case_id),
            slide_id=slide_id,
            detail={"reason": reason, "stopped_job_ids": list(stopped)},
        )
        return SlideWithdrawal(
            slide_id=slide_id,
            case_id=case_id,
            withdrawn_at=audit.moment,
            withdrawn_by=actor.user_id,
            reason=reason,
            stopped_job_ids=stopped,
        )

    return run_audited(engine, actor, WITHDRAW_EVENT, work, case_id=case_id, check=check, now=now)


def restore_slide(
    *, engine: Engine, actor: Actor, slide_id: int, now: datetime | None = None
) -> None:
    """Undo the withdrawal of slide ``slide_id`` (lab managers and admins; a refusal is
    audited): it can be viewed again, and a failed tiling job can be retried. The record
    keeps what was undone. Refused (409) when it is not withdrawn, or its files were purged."""
    case_id = _case_id_of(engine, slide_id)

    def work(session: Session, audit: Recorder) -> None:
        slide = _locked_slide(session, slide_id)
        if slide.withdrawn_at is None:
            raise SlideWithdrawalError(f"slide {slide_id} is not withdrawn")
        if slide.purged_at is not None:
            raise SlideWithdrawalError(
                f"slide {slide_id}'s files were purged on {slide.purged_at.date().isoformat()}: "
                "it cannot be restored"
            )
        undone = {
            "withdrawn_at": slide.withdrawn_at.isoformat(),
            "withdrawn_by": slide.withdrawn_by,
            "reason": slide.withdrawal_reason,
        }
        slide.withdrawn_at = slide.withdrawn_by = slide.withdrawal_reason = None
        audit.record(case=session.get_one(Case, case_id), slide_id=slide_id, detail=undone)

    run_audited(
        engine,
        actor,
        RESTORE_EVENT,
        work,
        case_id=case_id,
        check=lambda: require_manager(actor, f"restore slide {slide_id}"),
        now=now,
    )


def purge_candidates(
    *, engine: Engine, retention: timedelta, now: datetime | None = None
) -> list[PurgeCandidate]:
    """The withdrawn slides whose retention period has passed (withdrawn at or before
    ``now - retention``), and those purged before, oldest withdrawal first. A slide not
    withdrawn, or withdrawn more recently, is never among them."""
    cutoff = utc_now(now) - retention
    other = aliased(Slide, name="other_slide")
    shared = exists().where(
        other.file_path == Slide.file_path, other.id != Slide.id, other.purged_at.is_(None)
    )
    query = (
        select(
            Slide.id,
            Case.id,
            Slide.withdrawn_at,
            Slide.file_path,
            shared.label("file_shared"),
            Slide.purged_at,
        )
        .join(Block, Block.id == Slide.block_id)
        .join(Specimen, Specimen.id == Block.specimen_id)
        .join(Case, Case.id == Specimen.case_id)
        .where(
            Slide.withdrawn_at.is_not(None),
            or_(Slide.withdrawn_at <= cutoff, Slide.purged_at.is_not(None)),
        )
        .order_by(Slide.withdrawn_at, Slide.id)
    )
    with read_session(engine) as session:
        rows = session.execute(query).all()
    return [
        PurgeCandidate(
            slide_id=slide_id,
            case_id=case_id,
            withdrawn_at=withdrawn_at,
            file_path=file_path,
            file_shared=bool(file_shared),
            purged_at=purged_at,
        )
        for slide_id, case_id, withdrawn_at, file_path, file_shared, purged_at in rows
        if withdrawn_at is not None  # always, by the WHERE clause
    ]


def record_purge(
    *,
    engine: Engine,
    actor: Actor,
    slide_id: int,
    retention: timedelta,
    files: list[str],
    now: datetime | None = None,
) -> datetime:
    """Record that the files of withdrawn slide ``slide_id`` are being deleted (``files``:
    what will go, as the record should name it) and mark it purged; the time of the purge.

    Written before anything is deleted, so no file goes unrecorded. Checked again here, in
    the transaction: a slide restored meanwhile, still within ``retention``, or purged
    already is refused (409) and must be left alone. Lab managers, admins and the platform.
    """
    case_id = _case_id_of(engine, slide_id)

    def work(session: Session, audit: Recorder) -> datetime:
        slide = _locked_slide(session, slide_id)
        if slide.withdrawn_at is None:
            raise SlideWithdrawalError(f"slide {slide_id} is not withdrawn: it is not purged")
        if slide.purged_at is not None:
            raise SlideWithdrawalError(f"slide {slide_id} was purged already")
        if slide.withdrawn_at > audit.moment - retention:
            raise SlideWithdrawalError(
                f"slide {slide_id} was withdrawn on {slide.withdrawn_at.date().isoformat()}, "
                f"within the retention period of {retention.days} days: it is not purged yet"
            )
        slide.purged_at = audit.moment
        slide.pyramid_status = PyramidStatus.NONE
        audit.record(
            case=session.get_one(Case, case_id),
            slide_id=slide_id,
            detail={
                "withdrawn_at": slide.withdrawn_at.isoformat(),
                "withdrawn_by": slide.withdrawn_by,
                "reason": slide.withdrawal_reason,
                "retention_days": retention.days,
                "files": files,
            },
        )
        return audit.moment

    return run_audited(
        engine,
        actor,
        PURGE_EVENT,
        work,
        action=AuditAction.DELETE,
        case_id=case_id,
        check=lambda: require_manager(actor, f"purge slide {slide_id}"),
        now=now,
    )


def _check_reason(reason: str) -> None:
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError(
            f"withdrawing a slide needs a reason of at least {MIN_REASON_LENGTH} characters"
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            f"a withdrawal reason has at most {MAX_REASON_LENGTH} characters, not {len(reason)}"
        )


def _case_id_of(engine: Engine, slide_id: int) -> int:
    """The case of slide ``slide_id`` (its refusals are recorded against it); 404 if none."""
    query = (
        select(Specimen.case_id)
        .select_from(Slide)
        .join(Block, Block.id == Slide.block_id)
        .join(Specimen, Specimen.id == Block.specimen_id)
        .where(Slide.id == slide_id)
    )
    with read_session(engine) as session:
        case_id = session.scalar(query)
    if case_id is None:
        raise NotFoundError("slide", slide_id)
    return case_id


def _locked_slide(session: Session, slide_id: int) -> Slide:
    """The slide, its row locked (``FOR UPDATE`` on PostgreSQL): two managers withdrawing it
    at once are one withdrawal and one 409."""
    slide = session.scalar(select(Slide).where(Slide.id == slide_id).with_for_update())
    if slide is None:
        raise NotFoundError("slide", slide_id)
    return slide


def _stop_jobs(session: Session, slide: Slide, message: str, moment: datetime) -> tuple[int, ...]:
    """Fail the slide's queued and running tiling jobs with ``message``; their ids.

    A runner building one finds it no longer running at its next heartbeat and drops it
    (:func:`worklist.operations.jobs.report_progress`); what it wrote stays on disk.
    """
    jobs = list(
        session.scalars(
            select(TilingJob)
            .where(TilingJob.slide_id == slide.id, TilingJob.status.in_(_UNFINISHED))
            .with_for_update()
        )
    )
    for job in jobs:
        job.status = JobStatus.FAILED
        job.error = message
        job.finished_at = moment
    if jobs:
        slide.pyramid_status = PyramidStatus.FAILED
    return tuple(job.id for job in jobs)
