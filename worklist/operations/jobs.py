"""The tiling job's state machine, over ``tiling_job`` rows and the slide's pyramid status.

::

    queued --claim--> running --finish--> done
      ^                 |   \\--finish--> failed --retry--> queued
      +--release/recover+

A slide has at most one unfinished (queued or running) job, held by a partial unique index.
A runner *claims* the oldest queued job with one conditional UPDATE (``... WHERE status =
'queued'``; on PostgreSQL the candidate is picked with ``FOR UPDATE SKIP LOCKED``), so two
runners never run the same job. While it runs, the runner that holds it (``worker``) reports
progress and a heartbeat; only that runner may finish or *release* it (a stopped runner puts
its jobs back). A job whose heartbeat went stale belongs to a dead process and is *recovered*
(queued again). A lab manager may *retry* a failed job.

Every transition keeps the slide's pyramid status in step: queued -> ``QUEUED``, running ->
``BUILDING``, done -> ``READY``, failed -> ``FAILED``.

This module decides; it runs nothing. Where pyramids are built is the caller's to say (a
:data:`PyramidLocator`); running them is the service's (:mod:`services.jobs`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.db import read_session, run_in_transaction
from worklist.enums import AuditAction, JobStatus, PyramidStatus
from worklist.errors import JobStateError, NotFoundError, ValidationError
from worklist.models import Slide, TilingJob
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import require_manager, utc_now

__all__ = [
    "PyramidLocator",
    "PyramidTarget",
    "claim_job",
    "enqueue_job",
    "finish_job",
    "queue_job",
    "recover_stale_jobs",
    "release_job",
    "report_progress",
    "retry_job",
    "set_pyramid_status",
]

log = logging.getLogger(__name__)

_UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)
_CLAIM_TRIES = 3


@dataclass(frozen=True, slots=True)
class PyramidTarget:
    """Where a slide's pyramid is built: the builder's output folder and pyramid name."""

    output_dir: str
    name: str


PyramidLocator = Callable[[int], PyramidTarget]
"""The pyramid target of a slide id (the service's data layout)."""


def queue_job(
    *, session: Session, slide: Slide, locate_pyramid: PyramidLocator, now: datetime
) -> TilingJob:
    """Queue the pyramid build of ``slide`` in ``session``'s transaction.

    A slide has at most one unfinished job: when one exists, it is returned instead of a
    second.
    """
    if slide.file_path is None:
        raise ValidationError(f"slide {slide.id} has no scanned image to tile")
    existing = _open_job(session, slide.id)
    if existing is not None:
        return existing
    target = locate_pyramid(slide.id)
    job = TilingJob(
        slide_id=slide.id,
        source_path=slide.file_path,
        output_dir=target.output_dir,
        pyramid_name=target.name,
        status=JobStatus.QUEUED,
        tiles_done=0,
        tiles_total=0,
        attempts=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        # A concurrent registration queued one between our look and our insert.
        winner = _open_job(session, slide.id)
        if winner is None:
            raise
        return winner
    slide.pyramid_status = PyramidStatus.QUEUED
    return job


def enqueue_job(
    *,
    engine: Engine,
    slide_id: int,
    locate_pyramid: PyramidLocator,
    now: datetime | None = None,
) -> TilingJob:
    """Queue the build of slide ``slide_id`` (or return its unfinished job)."""

    def work(session: Session) -> TilingJob:
        slide = session.get(Slide, slide_id)
        if slide is None:
            raise NotFoundError("slide", slide_id)
        return queue_job(
            session=session, slide=slide, locate_pyramid=locate_pyramid, now=utc_now(now)
        )

    return run_in_transaction(engine, work)


def retry_job(
    *, engine: Engine, actor: Actor, job_id: int, now: datetime | None = None
) -> TilingJob:
    """Queue a failed job again (it resumes from what its build journal kept)."""

    def work(session: Session, audit: Recorder) -> TilingJob:
        job = session.get(TilingJob, job_id)
        if job is None:
            raise NotFoundError("tiling job", job_id)
        if job.status is not JobStatus.FAILED:
            raise JobStateError(
                f"tiling job {job_id} is {job.status.value}; only failed jobs are retried"
            )
        if job.slide_id is not None and _open_job(session, job.slide_id) is not None:
            raise JobStateError(
                f"slide {job.slide_id} already has an unfinished tiling job; "
                f"job {job_id} is not queued again"
            )
        slide = session.get(Slide, job.slide_id) if job.slide_id is not None else None
        if slide is not None and slide.withdrawn_at is not None:
            raise JobStateError(
                f"slide {slide.id} was withdrawn; restore it before its tiling job is retried"
            )
        previous_error = job.error
        job.status = JobStatus.QUEUED
        job.error = None
        job.worker = None
        job.finished_at = None
        job.heartbeat_at = None
        _set_slide_status(session, job.slide_id, PyramidStatus.QUEUED)
        audit.record(
            slide_id=job.slide_id, detail={"job_id": job_id, "previous_error": previous_error}
        )
        return job

    return run_audited(
        engine,
        actor,
        "tiling_job.retry",
        work,
        action=AuditAction.EXECUTE,
        check=lambda: require_manager(actor, "retry tiling jobs"),
        now=now,
    )


def claim_job(*, engine: Engine, worker: str, now: datetime | None = None) -> TilingJob | None:
    """Take the oldest queued job for ``worker``, or None; one conditional UPDATE decides who
    gets it, and a runner that loses the race for a candidate tries the next."""
    is_postgres = engine.dialect.name == "postgresql"

    def work(session: Session) -> TilingJob | None:
        query = (
            select(TilingJob.id)
            .where(TilingJob.status == JobStatus.QUEUED)
            .order_by(TilingJob.id)
            .limit(1)
        )
        if is_postgres:
            query = query.with_for_update(skip_locked=True)
        job_id = session.scalar(query)
        if job_id is None:
            return None
        moment = utc_now(now)
        claimed = cast(
            CursorResult[Any],
            session.execute(
                update(TilingJob)
                .where(TilingJob.id == job_id, TilingJob.status == JobStatus.QUEUED)
                .values(
                    status=JobStatus.RUNNING,
                    worker=worker,
                    attempts=TilingJob.attempts + 1,
                    started_at=moment,
                    heartbeat_at=moment,
                    error=None,
                )
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount != 1:
            return None
        job = session.get(TilingJob, job_id, populate_existing=True)
        assert job is not None
        _set_slide_status(session, job.slide_id, PyramidStatus.BUILDING)
        return job

    for _ in range(_CLAIM_TRIES):
        job = run_in_transaction(engine, work)
        if job is not None or not _has_queued(engine):
            return job
    return None


def report_progress(
    *,
    engine: Engine,
    job_id: int,
    worker: str,
    progress: tuple[int, int] | None,
    now: datetime | None = None,
) -> bool:
    """Refresh the heartbeat (and ``(tiles_done, tiles_total)``) of a job ``worker`` holds;
    False when it no longer holds it (a recovery gave it to someone else)."""

    def work(session: Session) -> bool:
        job = _held(session, job_id, worker)
        if job is None:
            return False
        job.heartbeat_at = utc_now(now)
        if progress is not None:
            job.tiles_done, job.tiles_total = progress
        return True

    return run_in_transaction(engine, work)


def finish_job(
    *,
    engine: Engine,
    job_id: int,
    worker: str,
    tiles_total: int = 0,
    error: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Record the outcome of a job ``worker`` holds: done with ``tiles_total`` tiles, or
    failed with ``error``. False (and nothing changed) if it no longer holds the job."""

    def work(session: Session) -> bool:
        job = _held(session, job_id, worker)
        if job is None:
            return False
        moment = utc_now(now)
        job.finished_at = moment
        job.heartbeat_at = moment
        if error is None:
            job.status = JobStatus.DONE
            job.tiles_done = job.tiles_total = tiles_total
            _set_slide_status(session, job.slide_id, PyramidStatus.READY)
        else:
            job.status = JobStatus.FAILED
            job.error = error
            _set_slide_status(session, job.slide_id, PyramidStatus.FAILED)
        return True

    return run_in_transaction(engine, work)


def release_job(*, engine: Engine, job_id: int, worker: str) -> None:
    """Put a job ``worker`` holds back in the queue (its build resumes from its journal)."""

    def work(session: Session) -> None:
        job = _held(session, job_id, worker)
        if job is not None:
            _requeue(session, job)

    run_in_transaction(engine, work)


def recover_stale_jobs(
    *, engine: Engine, stale_after: timedelta, now: datetime | None = None
) -> list[int]:
    """Queue again the running jobs whose heartbeat is older than ``stale_after`` (their
    process stopped); the ids of those jobs."""
    cutoff = utc_now(now) - stale_after

    def work(session: Session) -> list[int]:
        stale = list(
            session.scalars(
                select(TilingJob).where(
                    TilingJob.status == JobStatus.RUNNING,
                    (TilingJob.heartbeat_at.is_(None)) | (TilingJob.heartbeat_at < cutoff),
                )
            )
        )
        for job in stale:
            log.warning("re-queueing tiling job %d: %s stopped heartbeating", job.id, job.worker)
            _requeue(session, job)
        return [job.id for job in stale]

    return run_in_transaction(engine, work)


def set_pyramid_status(*, engine: Engine, slide_id: int, status: PyramidStatus) -> None:
    """Set a slide's pyramid status outside a job (a pyramid built or imported by hand)."""

    def work(session: Session) -> None:
        if session.get(Slide, slide_id) is None:
            raise NotFoundError("slide", slide_id)
        _set_slide_status(session, slide_id, status)

    run_in_transaction(engine, work)


def _requeue(session: Session, job: TilingJob) -> None:
    job.status = JobStatus.QUEUED
    job.worker = None
    _set_slide_status(session, job.slide_id, PyramidStatus.QUEUED)


def _open_job(session: Session, slide_id: int) -> TilingJob | None:
    return session.scalar(
        select(TilingJob).where(TilingJob.slide_id == slide_id, TilingJob.status.in_(_UNFINISHED))
    )


def _has_queued(engine: Engine) -> bool:
    query = select(TilingJob.id).where(TilingJob.status == JobStatus.QUEUED).limit(1)
    with read_session(engine) as session:
        return session.scalar(query) is not None


def _held(session: Session, job_id: int, worker: str) -> TilingJob | None:
    """The job, locked, if ``worker`` still holds it (a recovery may have taken it)."""
    return session.scalar(
        select(TilingJob)
        .where(
            TilingJob.id == job_id,
            TilingJob.status == JobStatus.RUNNING,
            TilingJob.worker == worker,
        )
        .with_for_update()
    )


def _set_slide_status(session: Session, slide_id: int | None, status: PyramidStatus) -> None:
    if slide_id is None:
        return
    slide = session.get(Slide, slide_id)
    if slide is not None:
        slide.pyramid_status = status
