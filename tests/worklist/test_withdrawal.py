"""Withdrawing a broken slide: who may, the reason, once only, its tiling jobs stopped, the
audit records, restoring it, the purge's retention rule, and migration 0009 keeping the data
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, NOW, PATHOLOGIST, Factory
from worklist.enums import AuditAction, AuditOutcome, JobStatus, PyramidStatus
from worklist.errors import NotFoundError, NotPermittedError, ValidationError
from worklist.migrate import alembic_config, upgrade_engine
from worklist.models import Annotation, AuditEvent, Slide, TilingJob
from worklist.operations import restore_slide, withdraw_slide
from worklist.operations.jobs import (
    JobStateError,
    PyramidTarget,
    claim_job,
    enqueue_job,
    finish_job,
    report_progress,
    retry_job,
)
from worklist.operations.notes import add_annotation
from worklist.operations.withdrawal import (
    PurgeCandidate,
    SlideWithdrawalError,
    purge_candidates,
    record_purge,
)

REASON = "scan out of focus in the whole tissue"
RETENTION = timedelta(days=90)
POINT = json.dumps({"type": "Point", "coordinates": [10, 20]})


def _locate(slide_id: int) -> PyramidTarget:
    return PyramidTarget(output_dir=f"pyramids/{slide_id}", name="slide")


@pytest.fixture
def slides(factory: Factory, engine: Engine) -> list[int]:
    """Three scanned slides (one per case)."""
    factory.cases(3)
    with Session(engine) as session:
        return list(session.scalars(select(Slide.id).order_by(Slide.id)))


def slide_row(engine: Engine, slide_id: int) -> Slide:
    with Session(engine) as session:
        return session.get_one(Slide, slide_id)


def events(engine: Engine, event_type: str) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.event_type == event_type)
        return list(session.scalars(query.order_by(AuditEvent.seq)))


def detail(record: AuditEvent) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(record.detail)
    return found


def withdraw(engine: Engine, slide_id: int, **options: object) -> None:
    withdraw_slide(
        engine=engine,
        actor=MANAGER,
        slide_id=slide_id,
        reason=REASON,
        **options,  # type: ignore[arg-type]
    )


# --- Withdrawing --------------------------------------------------------------------------------


def test_a_lab_manager_withdraws_a_slide_and_it_is_audited(
    engine: Engine, slides: list[int]
) -> None:
    receipt = withdraw_slide(
        engine=engine, actor=MANAGER, slide_id=slides[0], reason=f"  {REASON} ", now=NOW
    )
    assert (receipt.withdrawn_at, receipt.withdrawn_by, receipt.reason) == (NOW, "manager", REASON)
    row = slide_row(engine, slides[0])
    assert (row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason) == (NOW, "manager", REASON)
    assert row.file_path == "scans/a1.svs"  # the file is not touched
    assert slide_row(engine, slides[1]).withdrawn_at is None
    [record] = events(engine, "slide.withdraw")
    assert (record.outcome, record.slide_id, record.case_id) == (
        AuditOutcome.SUCCESS,
        slides[0],
        receipt.case_id,
    )
    assert detail(record)["reason"] == REASON


def test_a_pathologist_may_not_withdraw_and_the_refusal_is_audited(
    engine: Engine, slides: list[int]
) -> None:
    with pytest.raises(NotPermittedError, match="lab manager"):
        withdraw_slide(engine=engine, actor=PATHOLOGIST, slide_id=slides[0], reason=REASON)
    assert slide_row(engine, slides[0]).withdrawn_at is None
    [refusal] = events(engine, "slide.withdraw")
    assert (refusal.outcome, refusal.user_id) == (AuditOutcome.SERIOUS_FAILURE, "patholoog")
    assert f"slide {slides[0]}" in detail(refusal)["reason"]


@pytest.mark.parametrize("reason", ["", "   ", "blurry", "x" * 1001])
def test_a_withdrawal_needs_a_real_reason(engine: Engine, slides: list[int], reason: str) -> None:
    with pytest.raises(ValidationError, match="reason"):
        withdraw_slide(engine=engine, actor=MANAGER, slide_id=slides[0], reason=reason)
    assert slide_row(engine, slides[0]).withdrawn_at is None
    assert events(engine, "slide.withdraw") == []


def test_a_slide_is_withdrawn_once(engine: Engine, slides: list[int]) -> None:
    withdraw(engine, slides[0], now=NOW)
    with pytest.raises(SlideWithdrawalError, match=f"withdrawn on 2025-03-12: {REASON}"):
        withdraw_slide(engine=engine, actor=MANAGER, slide_id=slides[0], reason="another reason")
    assert slide_row(engine, slides[0]).withdrawal_reason == REASON
    assert len(events(engine, "slide.withdraw")) == 1


def test_an_unknown_or_unscanned_slide_is_not_withdrawn(engine: Engine, factory: Factory) -> None:
    factory.cases(scanned=False)
    with Session(engine) as session:
        slide_id = session.scalars(select(Slide.id)).one()
    with pytest.raises(SlideWithdrawalError, match="no scanned image"):
        withdraw(engine, slide_id)
    with pytest.raises(NotFoundError):
        withdraw(engine, slide_id + 100)


def test_the_unfinished_tiling_jobs_of_a_withdrawn_slide_fail_with_its_reason(
    engine: Engine, slides: list[int]
) -> None:
    running = enqueue_job(engine=engine, slide_id=slides[0], locate_pyramid=_locate)
    claimed = claim_job(engine=engine, worker="runner-1")
    assert claimed is not None and claimed.id == running.id
    queued = enqueue_job(engine=engine, slide_id=slides[1], locate_pyramid=_locate)
    untouched = enqueue_job(engine=engine, slide_id=slides[2], locate_pyramid=_locate)

    withdraw(engine, slides[0])
    receipt = withdraw_slide(engine=engine, actor=MANAGER, slide_id=slides[1], reason=REASON)
    assert receipt.stopped_job_ids == (queued.id,)

    with Session(engine) as session:
        jobs = {job.id: job for job in session.scalars(select(TilingJob))}
    for job_id, slide_id in ((running.id, slides[0]), (queued.id, slides[1])):
        assert jobs[job_id].status is JobStatus.FAILED
        assert jobs[job_id].error == f"slide {slide_id} was withdrawn: {REASON}"
        assert slide_row(engine, slide_id).pyramid_status is PyramidStatus.FAILED
    assert jobs[untouched.id].status is JobStatus.QUEUED
    # The runner that was building it loses it at its next heartbeat; its result is dropped.
    assert not report_progress(engine=engine, job_id=running.id, worker="runner-1", progress=None)
    assert not finish_job(engine=engine, job_id=running.id, worker="runner-1", tiles_total=9)
    assert claim_job(engine=engine, worker="runner-1").id == untouched.id  # type: ignore[union-attr]
    # A failed job of a withdrawn slide is not queued again (that would build it anew).
    with pytest.raises(JobStateError, match="withdrawn"):
        retry_job(engine=engine, actor=MANAGER, job_id=queued.id)


# --- Restoring ----------------------------------------------------------------------------------


def test_restoring_undoes_a_withdrawal_and_is_audited(engine: Engine, slides: list[int]) -> None:
    withdraw(engine, slides[0], now=NOW)
    restore_slide(engine=engine, actor=MANAGER, slide_id=slides[0])
    row = slide_row(engine, slides[0])
    assert (row.withdrawn_at, row.withdrawn_by, row.withdrawal_reason) == (None, None, None)
    [record] = events(engine, "slide.restore")
    assert detail(record) == {
        "withdrawn_at": NOW.isoformat(),
        "withdrawn_by": "manager",
        "reason": REASON,
    }
    with pytest.raises(SlideWithdrawalError, match="is not withdrawn"):
        restore_slide(engine=engine, actor=MANAGER, slide_id=slides[0])
    withdraw(engine, slides[0])  # and it can be withdrawn again


def test_a_pathologist_may_not_restore_and_the_refusal_is_audited(
    engine: Engine, slides: list[int]
) -> None:
    withdraw(engine, slides[0])
    with pytest.raises(NotPermittedError):
        restore_slide(engine=engine, actor=PATHOLOGIST, slide_id=slides[0])
    assert slide_row(engine, slides[0]).withdrawn_at is not None
    [refusal] = events(engine, "slide.restore")
    assert refusal.outcome is AuditOutcome.SERIOUS_FAILURE


# --- The purge's rule ---------------------------------------------------------------------------


def test_only_slides_withdrawn_longer_ago_than_the_retention_are_due(
    engine: Engine, slides: list[int]
) -> None:
    old, recent, _kept = slides
    withdraw(engine, old, now=NOW - RETENTION - timedelta(seconds=1))
    withdraw(engine, recent, now=NOW - RETENTION + timedelta(minutes=1))
    [due] = purge_candidates(engine=engine, retention=RETENTION, now=NOW)
    assert due == PurgeCandidate(
        slide_id=old,
        case_id=due.case_id,
        withdrawn_at=NOW - RETENTION - timedelta(seconds=1),
        file_path="scans/a1.svs",
        file_shared=True,  # every factory slide names scans/a1.svs
        purged_at=None,
    )
    with pytest.raises(SlideWithdrawalError, match="within the retention period of 90 days"):
        record_purge(
            engine=engine, actor=MANAGER, slide_id=recent, retention=RETENTION, files=[], now=NOW
        )
    with pytest.raises(SlideWithdrawalError, match="is not withdrawn"):
        record_purge(
            engine=engine, actor=MANAGER, slide_id=_kept, retention=RETENTION, files=[], now=NOW
        )
    assert events(engine, "slide.purge") == []


def test_a_purge_is_recorded_once_and_the_slide_cannot_be_restored(
    engine: Engine, slides: list[int]
) -> None:
    withdraw(engine, slides[0], now=NOW - RETENTION)
    purged_at = record_purge(
        engine=engine,
        actor=MANAGER,
        slide_id=slides[0],
        retention=RETENTION,
        files=["a1.svs", "pyramid"],
        now=NOW,
    )
    assert purged_at == NOW
    row = slide_row(engine, slides[0])
    assert (row.purged_at, row.pyramid_status) == (NOW, PyramidStatus.NONE)
    [record] = events(engine, "slide.purge")
    assert (record.action, record.slide_id) == (AuditAction.DELETE, slides[0])
    assert detail(record)["files"] == ["a1.svs", "pyramid"]
    assert detail(record)["reason"] == REASON
    with pytest.raises(SlideWithdrawalError, match="purged already"):
        record_purge(
            engine=engine, actor=MANAGER, slide_id=slides[0], retention=RETENTION, files=[]
        )
    with pytest.raises(SlideWithdrawalError, match="cannot be restored"):
        restore_slide(engine=engine, actor=MANAGER, slide_id=slides[0])
    [again] = purge_candidates(engine=engine, retention=RETENTION, now=NOW)
    assert again.purged_at == NOW
    assert again.file_shared  # the other two slides still name scans/a1.svs


def test_a_pathologist_may_not_purge(engine: Engine, slides: list[int]) -> None:
    withdraw(engine, slides[0], now=NOW - RETENTION)
    with pytest.raises(NotPermittedError):
        record_purge(
            engine=engine,
            actor=PATHOLOGIST,
            slide_id=slides[0],
            retention=RETENTION,
            files=[],
            now=NOW,
        )
    assert slide_row(engine, slides[0]).purged_at is None


# --- Migration 0009 -----------------------------------------------------------------------------


def test_migration_0009_keeps_the_jobs_and_annotations_of_every_slide(
    engine: Engine, slides: list[int]
) -> None:
    add_annotation(engine=engine, actor=PATHOLOGIST, slide_id=slides[0], geojson=POINT)
    enqueue_job(engine=engine, slide_id=slides[1], locate_pyramid=_locate)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0008")
    with engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM slide")).keys()
    assert "withdrawn_at" not in columns

    upgrade_engine(engine)  # 0009 and what follows it
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Slide)) == 3
        assert session.scalar(select(func.count()).select_from(TilingJob)) == 1
        assert session.scalar(select(func.count()).select_from(Annotation)) == 1
        assert session.scalar(select(func.count()).where(Slide.withdrawn_at.is_not(None))) == 0
    withdraw(engine, slides[0])
    assert slide_row(engine, slides[0]).withdrawal_reason == REASON
