"""Tiling jobs: run on dask worker processes, fail cleanly, resume after a restart, never twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from services.jobs import JobFuture, JobRunner, build_in_worker
from services.storage import pyramid_paths
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import (
    app_state,
    crashing_task,
    job_row,
    new_case,
    running_service,
    sample_copy,
    settings_for,
    slides_of,
)
from tests.tiling.sources.hostile_tiffs import write_offset_reuse_tiff
from tiling.errors import ImplausibleSlideError, PyramidBuildError, SlideTooLargeError
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.spec import TileSpec
from worklist.actor import Actor
from worklist.db import read_session, run_in_transaction
from worklist.enums import JobStatus, PyramidStatus, Role
from worklist.models import Slide, TilingJob

MANAGER = Actor(user_id="manager", role=Role.LAB_MANAGER, site="ALR")


@pytest.fixture
def service(tmp_path: Path, dask_cluster: str) -> Iterator[ServiceHarness]:
    with running_service(settings_for(tmp_path / "data", dask_cluster)) as harness:
        yield harness


def scanned_slide(service: ServiceHarness, sample: str, department: str = "ALR") -> int:
    """A new case whose one slide shows a copy of ``sample``; the slide's id."""
    path = sample_copy(sample, service.settings.slide_dir / "scans", f"{department}-{sample}")
    case = new_case(service, department, file_path=path)
    return slides_of(service, case.case_id)[0].id


class InProcessExecutor:
    """Threads instead of worker processes: for tests about claiming, not isolation."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=2)

    def submit(self, fn: Callable[..., Any], *args: Any) -> JobFuture:
        return self.pool.submit(fn, *args)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


# --- Running on worker processes --------------------------------------------------------------


@pytest.mark.slow
def test_a_real_slide_is_tiled_on_a_worker_process(service: ServiceHarness) -> None:
    slide_id = scanned_slide(service, "CMU-1-Small-Region.svs")
    runner = app_state(service).jobs
    job = runner.enqueue(slide_id=slide_id)
    assert job.status is JobStatus.QUEUED
    assert runner.enqueue(slide_id=slide_id).id == job.id  # one unfinished job per slide

    finished = runner.run_pending()

    assert [j.id for j in finished] == [job.id]
    done = job_row(service, job.id)
    assert done.status is JobStatus.DONE, done.error
    assert done.tiles_done == done.tiles_total > 0
    assert done.attempts == 1 and done.error is None and done.finished_at is not None
    paths = pyramid_paths(service.settings, slide_id)
    assert paths.dzi.is_file()
    assert (paths.files_dir / "0" / "0_0.jpeg").is_file()
    assert not any(p.name.endswith(".progress") for p in paths.directory.iterdir())
    assert pyramid_status(service, slide_id) is PyramidStatus.READY


def run_one_job(runner: JobRunner, service: ServiceHarness, slide_id: int) -> TilingJob:
    """Queue and run the tiling job of ``slide_id`` on ``runner``, close it; the job's row."""
    try:
        job = runner.enqueue(slide_id=slide_id)
        runner.run_pending()
    finally:
        runner.close()
    return job_row(service, job.id)


def pyramid_status(service: ServiceHarness, slide_id: int) -> PyramidStatus:
    with read_session(service.engine) as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None
        return slide.pyramid_status


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ("unreadable.svs", "cannot read level 0 region"),
        ("unopenable.tiff", "cannot open slide"),
    ],
)
def test_a_malformed_slide_fails_its_job_with_a_clear_message(
    service: ServiceHarness, sample: str, message: str
) -> None:
    slide_id = scanned_slide(service, sample)
    runner = app_state(service).jobs
    job = runner.enqueue(slide_id=slide_id)

    runner.run_pending()

    failed = job_row(service, job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and message in failed.error and sample in failed.error
    assert pyramid_status(service, slide_id) is PyramidStatus.FAILED
    assert service.client.get("/health").status_code == 200
    # The next job still runs.
    good = runner.enqueue(slide_id=scanned_slide(service, "small.svs", "HMC"))
    runner.run_pending()
    assert job_row(service, good.id).status is JobStatus.DONE


def test_a_job_for_a_slide_over_the_caps_fails_naming_its_size_and_writes_no_tile(
    service: ServiceHarness,
) -> None:
    slide_id = scanned_slide(service, "CMU-1-Small-Region.svs")
    capped = service.settings.model_copy(update={"max_slide_pixels": 1_000_000})
    # A runner of its own, on the worker processes.
    failed = run_one_job(JobRunner(engine=service.engine, settings=capped), service, slide_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "is 2,220 x 2,967 px (6,586,740 px); the limit is 1,000,000 px per slide" in (
        failed.error
    )
    paths = pyramid_paths(service.settings, slide_id)
    assert not paths.dzi.exists() and not paths.files_dir.exists()
    assert not (paths.directory / f".{paths.name}.building").exists()


def test_the_probe_holds_a_slide_to_the_caps_and_refuses_a_hostile_tiff(
    service: ServiceHarness, tmp_path: Path
) -> None:
    runner = app_state(service).jobs
    slide = sample_copy("CMU-1-Small-Region.svs", tmp_path)
    assert runner.probe(slide).width_px == 2220  # the default caps let real slides through
    runner.settings = runner.settings.model_copy(update={"max_slide_tiles": 100})
    with pytest.raises(SlideTooLargeError, match=r"would make 1\d\d tiles of 254 px; the limit"):
        runner.probe(slide)
    with pytest.raises(ImplausibleSlideError, match="50,000 x 50,000 px"):
        runner.probe(write_offset_reuse_tiff(tmp_path / "reuse.tif"))


def test_a_worker_process_that_dies_fails_the_job_and_the_app_keeps_serving(
    service: ServiceHarness, dask_cluster: str
) -> None:
    slide_id = scanned_slide(service, "small.svs")
    state = app_state(service)
    runner = JobRunner(engine=service.engine, settings=service.settings, task=crashing_task)
    failed = run_one_job(runner, service, slide_id)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None and "failed in the worker" in failed.error
    assert service.client.get("/health").status_code == 200
    # The worker came back (the nanny restarts it) and the real runner goes on.
    retried = state.jobs.retry(job_id=failed.id, actor=MANAGER)
    assert retried.status is JobStatus.QUEUED
    state.jobs.run_pending()
    assert job_row(service, failed.id).status is JobStatus.DONE
    assert job_row(service, failed.id).attempts == 2


# --- Restarts and races -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_interrupted_by_a_dying_process_resumes_after_a_restart(tmp_path: Path) -> None:
    """The first app "dies" with its job running and half its blocks built; a new app on the
    same data folder and database (and its own LocalCluster) queues it again and finishes it."""
    settings = settings_for(tmp_path / "data", None)
    with running_service(settings) as first:
        slide_id = scanned_slide(first, "CMU-1-Small-Region.svs")
        job = app_state(first).jobs.enqueue(slide_id=slide_id)
        paths = pyramid_paths(settings, slide_id)
        _build_partly(Path(job.source_path), paths.directory)
        long_ago = datetime.now(UTC) - timedelta(minutes=10)
        run_in_transaction(
            first.engine,
            lambda s: s.execute(
                update(TilingJob)
                .where(TilingJob.id == job.id)
                .values(
                    status=JobStatus.RUNNING,
                    worker="scanner-pc:4242:dead",
                    attempts=1,
                    started_at=long_ago,
                    heartbeat_at=long_ago,
                )
            ),
        )
    assert not paths.dzi.exists()
    assert (paths.directory / ".slide.building").is_dir()

    with running_service(settings, seed=False) as second:
        assert job_row(second, job.id).status is JobStatus.QUEUED  # recovered at start
        finished = app_state(second).jobs.run_pending()
        assert [j.id for j in finished] == [job.id]
        resumed = job_row(second, job.id)
        assert resumed.status is JobStatus.DONE, resumed.error
        assert resumed.attempts == 2
        assert paths.dzi.is_file()
        assert not (paths.directory / ".slide.building").exists()


class _Interrupt(Exception):
    pass


def _build_partly(slide: Path, out_dir: Path) -> None:
    """Start the pyramid build and break it off after some blocks, as a crash would."""

    def progress(done: int, total: int) -> None:
        if done > 0:
            raise _Interrupt

    with pytest.raises(PyramidBuildError, match="_Interrupt"):  # the builder wraps it
        build_pyramid(slide, out_dir, PyramidOptions(), name="slide", progress=progress)


def test_a_job_replaces_a_pyramid_left_with_other_options(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    """The job's folder is the slide's own: what an earlier build left there is replaced."""
    old = PyramidOptions(spec=TileSpec(tile_size_px=510))
    build_pyramid(cmu_small_region, tmp_path, old, name="slide")
    tiles = build_in_worker(
        str(cmu_small_region), str(tmp_path), "slide", str(tmp_path / ".slide.progress")
    )
    assert tiles == 160
    assert 'TileSize="254"' in (tmp_path / "slide.dzi").read_text(encoding="utf-8")


def test_two_runners_racing_run_every_job_exactly_once(service: ServiceHarness) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def task(source_path: str, out_dir: str, name: str, progress_path: str) -> int:
        with lock:
            runs.append(source_path)
        time.sleep(0.02)
        return 1

    slide_ids = []
    for i in range(8):
        case = new_case(service, "HMC", file_path=Path(f"/nonexistent/slide-{i}.svs"))
        slide_ids.append(slides_of(service, case.case_id)[0].id)
    runners = [
        JobRunner(
            engine=service.engine,
            settings=service.settings,
            executor=InProcessExecutor(),
            task=task,
            max_parallel=2,
        )
        for _ in range(2)
    ]
    jobs = [runners[0].enqueue(slide_id=s) for s in slide_ids]
    start = threading.Barrier(2)

    def race(runner: JobRunner) -> None:
        start.wait()
        runner.run_pending()

    threads = [threading.Thread(target=race, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for runner in runners:
        runner.close()

    assert sorted(runs) == sorted(job.source_path for job in jobs)
    assert all(job_row(service, j.id).status is JobStatus.DONE for j in jobs)
    assert all(job_row(service, j.id).attempts == 1 for j in jobs)


def test_stopping_the_runner_puts_its_running_job_back_in_the_queue(
    service: ServiceHarness,
) -> None:
    started = threading.Event()
    release = threading.Event()

    def task(source_path: str, out_dir: str, name: str, progress_path: str) -> int:
        started.set()
        release.wait(30)
        return 1

    runner = JobRunner(
        engine=service.engine,
        settings=service.settings,
        executor=InProcessExecutor(),
        task=task,
    )
    job = runner.enqueue(slide_id=scanned_slide(service, "small.svs"))
    runner.start()
    assert started.wait(30)
    assert job_row(service, job.id).status is JobStatus.RUNNING
    closing = threading.Thread(target=runner.close)
    closing.start()
    deadline = time.monotonic() + 30
    while job_row(service, job.id).status is not JobStatus.QUEUED:
        assert time.monotonic() < deadline, "the job was not put back"
        time.sleep(0.05)
    release.set()  # the abandoned task ends; its result is ignored
    closing.join(30)
    back = job_row(service, job.id)
    assert back.status is JobStatus.QUEUED and back.worker is None
    assert pyramid_status(service, back.slide_id or 0) is PyramidStatus.QUEUED


# --- The job routes -----------------------------------------------------------------------------


def test_job_routes_list_show_and_retry(service: ServiceHarness) -> None:
    service.add_user("alr_path", Role.PATHOLOGIST, pathologist_code="ALR-01")
    service.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    runner = app_state(service).jobs
    broken = runner.enqueue(slide_id=scanned_slide(service, "unopenable.tiff", "ALR"))
    waiting = runner.enqueue(slide_id=scanned_slide(service, "small.svs", "HMC"))
    run_in_transaction(  # only the broken one runs now
        service.engine,
        lambda s: s.execute(
            update(TilingJob).where(TilingJob.id == waiting.id).values(status=JobStatus.DONE)
        ),
    )
    runner.run_pending()
    manager, alr, hmc = (service.headers(u) for u in ("manager", "alr_path", "hmc_path"))

    everything = service.client.get("/jobs", headers=manager).json()
    assert [j["id"] for j in everything["items"]] == [waiting.id, broken.id]
    assert (everything["total"], everything["next"]) == (2, None)
    newest = service.client.get("/jobs", params={"limit": 1}, headers=manager).json()
    assert [j["id"] for j in newest["items"]] == [waiting.id]
    older = service.client.get(
        "/jobs", params={"limit": 1, "cursor": newest["next"]}, headers=manager
    ).json()
    assert ([j["id"] for j in older["items"]], older["next"]) == ([broken.id], None)
    failed = service.client.get("/jobs", params={"status": "failed"}, headers=manager).json()
    failed = failed["items"]
    assert [(j["id"], j["status"]) for j in failed] == [(broken.id, "failed")]
    assert "cannot open slide" in failed[0]["error"]
    for headers, shown in ((alr, broken.id), (hmc, waiting.id)):
        page = service.client.get("/jobs", headers=headers).json()
        assert [j["id"] for j in page["items"]] == [shown]
    unknown_status = service.client.get("/jobs", params={"status": "lost"}, headers=manager)
    assert unknown_status.status_code == 422

    assert service.client.get(f"/jobs/{broken.id}", headers=alr).status_code == 200
    assert service.client.get(f"/jobs/{broken.id}", headers=hmc).status_code == 403
    assert service.client.get("/jobs/999999", headers=manager).status_code == 404
    service.client.cookies.clear()  # signing in also set the viewer's cookie
    assert service.client.get("/jobs").status_code == 401

    assert service.client.post(f"/jobs/{broken.id}/retry", headers=alr).status_code == 403
    assert service.client.post(f"/jobs/{waiting.id}/retry", headers=manager).status_code == 409
    assert service.client.post("/jobs/999999/retry", headers=manager).status_code == 404
    retried = service.client.post(f"/jobs/{broken.id}/retry", headers=manager)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "queued" and retried.json()["error"] is None
    assert pyramid_status(service, broken.slide_id or 0) is PyramidStatus.QUEUED
    runner.run_pending()
    again = service.client.get(f"/jobs/{broken.id}", headers=manager).json()
    assert again["status"] == "failed" and again["attempts"] == 2
