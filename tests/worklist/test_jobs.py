"""The tiling job's state machine: queue, claim, progress, finish, release, recover, retry."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, NOW, Factory
from worklist.actor import Actor
from worklist.enums import AuditAction, AuditOutcome, JobStatus, PyramidStatus, Role
from worklist.errors import JobStateError, NotFoundError, NotPermittedError, ValidationError
from worklist.models import AuditEvent, Block, Slide, Specimen, TilingJob
from worklist.operations import PyramidTarget, set_pyramid_status
from worklist.operations.jobs import (
    claim_job,
    enqueue_job,
    finish_job,
    recover_stale_jobs,
    release_job,
    report_progress,
    retry_job,
)

WORKER = "host:1:runner"


def locate(slide_id: int) -> PyramidTarget:
    return PyramidTarget(output_dir=f"/pyramids/{slide_id}", name="slide")


def slide_ids(engine: Engine, factory: Factory, count: int = 1, scanned: bool = True) -> list[int]:
    """The one slide of each of ``count`` new cases."""
    case_ids = factory.cases(count, scanned=scanned)
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Slide.id)
                .join(Block, Slide.block_id == Block.id)
                .join(Specimen, Block.specimen_id == Specimen.id)
                .where(Specimen.case_id.in_(case_ids))
                .order_by(Slide.id)
            )
        )


def state(engine: Engine, job_id: int) -> tuple[JobStatus, PyramidStatus, str | None, int]:
    """The job's status, its slide's pyramid status, its worker and its attempts."""
    with Session(engine) as session:
        job = session.get_one(TilingJob, job_id)
        slide = session.get_one(Slide, job.slide_id)
        return job.status, slide.pyramid_status, job.worker, job.attempts


def queued(engine: Engine, factory: Factory) -> TilingJob:
    [slide_id] = slide_ids(engine, factory)
    return enqueue_job(engine=engine, slide_id=slide_id, locate_pyramid=locate, now=NOW)


def test_a_slide_has_one_unfinished_job(engine: Engine, factory: Factory) -> None:
    [slide_id] = slide_ids(engine, factory)
    job = enqueue_job(engine=engine, slide_id=slide_id, locate_pyramid=locate)
    assert (job.status, job.output_dir, job.pyramid_name) == (
        JobStatus.QUEUED,
        f"/pyramids/{slide_id}",
        "slide",
    )
    assert enqueue_job(engine=engine, slide_id=slide_id, locate_pyramid=locate).id == job.id
    assert state(engine, job.id) == (JobStatus.QUEUED, PyramidStatus.QUEUED, None, 0)
    with pytest.raises(NotFoundError):
        enqueue_job(engine=engine, slide_id=999_999, locate_pyramid=locate)


def test_an_unscanned_slide_has_nothing_to_tile(engine: Engine, factory: Factory) -> None:
    [slide_id] = slide_ids(engine, factory, scanned=False)
    with pytest.raises(ValidationError, match="no scanned image"):
        enqueue_job(engine=engine, slide_id=slide_id, locate_pyramid=locate)


def test_claim_progress_and_finish(engine: Engine, factory: Factory) -> None:
    job = queued(engine, factory)
    claimed = claim_job(engine=engine, worker=WORKER)
    assert claimed is not None and claimed.id == job.id
    assert state(engine, job.id) == (JobStatus.RUNNING, PyramidStatus.BUILDING, WORKER, 1)
    assert claim_job(engine=engine, worker="other") is None  # nothing else is queued
    assert report_progress(engine=engine, job_id=job.id, worker=WORKER, progress=(3, 10))
    assert not report_progress(engine=engine, job_id=job.id, worker="other", progress=(9, 10))
    assert not finish_job(engine=engine, job_id=job.id, worker="other", tiles_total=10)
    assert finish_job(engine=engine, job_id=job.id, worker=WORKER, tiles_total=10)
    assert state(engine, job.id)[:2] == (JobStatus.DONE, PyramidStatus.READY)
    with Session(engine) as session:
        done = session.get_one(TilingJob, job.id)
        assert (done.tiles_done, done.tiles_total) == (10, 10)
        assert done.finished_at is not None


def test_a_failed_job_is_retried_by_a_manager_and_audited(engine: Engine, factory: Factory) -> None:
    job = queued(engine, factory)
    with pytest.raises(JobStateError, match="only failed jobs are retried"):
        retry_job(engine=engine, actor=MANAGER, job_id=job.id)
    claim_job(engine=engine, worker=WORKER)
    finish_job(engine=engine, job_id=job.id, worker=WORKER, error="cannot open slide")
    assert state(engine, job.id)[:2] == (JobStatus.FAILED, PyramidStatus.FAILED)

    again = retry_job(engine=engine, actor=MANAGER, job_id=job.id)

    assert again.status is JobStatus.QUEUED and again.error is None
    assert state(engine, job.id) == (JobStatus.QUEUED, PyramidStatus.QUEUED, None, 1)
    with Session(engine) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "tiling_job.retry")
        ).one()
        assert event.action == AuditAction.EXECUTE and event.slide_id == job.slide_id
        assert '"previous_error":"cannot open slide"' in event.detail
    with pytest.raises(NotFoundError):
        retry_job(engine=engine, actor=MANAGER, job_id=999_999)


def test_only_a_manager_may_retry_a_job_and_a_refusal_is_audited(
    engine: Engine, factory: Factory
) -> None:
    job = queued(engine, factory)
    claim_job(engine=engine, worker=WORKER)
    finish_job(engine=engine, job_id=job.id, worker=WORKER, error="cannot open slide")
    pathologist = Actor(user_id="p.jansen", role=Role.PATHOLOGIST)

    with pytest.raises(NotPermittedError, match="may not retry tiling jobs"):
        retry_job(engine=engine, actor=pathologist, job_id=job.id)

    assert state(engine, job.id)[0] is JobStatus.FAILED
    with Session(engine) as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "tiling_job.retry")
        ).one()
        assert refused.outcome is not AuditOutcome.SUCCESS and refused.user_id == "p.jansen"


def test_release_and_recovery_put_jobs_back_in_the_queue(engine: Engine, factory: Factory) -> None:
    job = queued(engine, factory)
    claim_job(engine=engine, worker=WORKER, now=NOW)
    release_job(engine=engine, job_id=job.id, worker="other")  # not theirs: nothing happens
    assert state(engine, job.id)[0] is JobStatus.RUNNING
    release_job(engine=engine, job_id=job.id, worker=WORKER)
    assert state(engine, job.id) == (JobStatus.QUEUED, PyramidStatus.QUEUED, None, 1)

    claim_job(engine=engine, worker=WORKER, now=NOW)
    live = recover_stale_jobs(engine=engine, stale_after=timedelta(minutes=1), now=NOW)
    assert live == []  # a live heartbeat is left alone, and nobody else runs the job
    assert claim_job(engine=engine, worker="other") is None
    assert state(engine, job.id)[2] == WORKER
    later = NOW + timedelta(minutes=2)
    assert recover_stale_jobs(engine=engine, stale_after=timedelta(minutes=1), now=later) == [
        job.id
    ]
    assert state(engine, job.id) == (JobStatus.QUEUED, PyramidStatus.QUEUED, None, 2)


def test_racing_claims_take_each_job_once(engine: Engine, factory: Factory) -> None:
    ids = [
        enqueue_job(engine=engine, slide_id=s, locate_pyramid=locate).id
        for s in slide_ids(engine, factory, 6)
    ]
    taken: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def claimer(worker: str) -> None:
        start.wait()
        while (job := claim_job(engine=engine, worker=worker)) is not None:
            with lock:
                taken.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == ids


def test_a_pyramid_status_can_be_set_by_hand(engine: Engine, factory: Factory) -> None:
    [slide_id] = slide_ids(engine, factory)
    set_pyramid_status(engine=engine, slide_id=slide_id, status=PyramidStatus.READY)
    with Session(engine) as session:
        assert session.get_one(Slide, slide_id).pyramid_status is PyramidStatus.READY
    with pytest.raises(NotFoundError):
        set_pyramid_status(engine=engine, slide_id=999_999, status=PyramidStatus.READY)
