"""The tiling job runner: claims queued jobs and runs their builds on dask worker processes.

Every transition of a job (claim, progress, finish, release, recover, retry) is decided in
:mod:`worklist.operations.jobs`; the runner executes: it submits the build to a worker
(:mod:`services.jobs.worker`), copies the worker's progress file into the job row (throttled)
with a heartbeat, and records the outcome. A runner that is stopped puts its unfinished jobs
back in the queue; after a restart, jobs left running by a dead process (stale heartbeat) are
queued again and resume where their build journal stopped. The pyramid builder's own file lock
guards the output folder as well: a dask task cannot be stopped once it runs, so the build of a
runner that stopped may still hold it when the job runs again; the job then waits for that
build and tries again (finding the pyramid complete, or resuming it), instead of failing.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from distributed import KilledWorker
from sqlalchemy import Engine, select

from services.errors import WorkersUnavailableError
from services.jobs.executor import DaskExecutor, JobExecutor, JobFuture
from services.jobs.worker import SlideProbe, build_in_worker, probe_slide, read_progress
from services.settings import Settings
from services.storage import pyramid_paths
from tiling.errors import PyramidBusyError, SlideReadError, TilingError
from worklist.actor import Actor
from worklist.db import read_session
from worklist.models import TilingJob
from worklist.operations import jobs
from worklist.operations.jobs import PyramidLocator, PyramidTarget

__all__ = ["JobRunner", "pyramid_locator"]

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
"""How often a running job's row is refreshed (progress and heartbeat)."""
PROGRESS_STEP = 0.05
"""A progress change of this fraction is written at once, without waiting for the heartbeat."""
STALE_AFTER_S = 60.0
"""A running job whose heartbeat is older than this belongs to a dead process."""
PROBE_TIMEOUT_S = 120.0
BUSY_RETRY_S = 2.0
"""How long a job whose pyramid another build holds waits before it tries again."""


def pyramid_locator(settings: Settings) -> PyramidLocator:
    """Where the jobs build a slide's pyramid: the data directory's layout
    (:func:`services.storage.pyramid_paths`)."""

    def locate(slide_id: int) -> PyramidTarget:
        paths = pyramid_paths(settings, slide_id)
        return PyramidTarget(output_dir=str(paths.directory), name=paths.name)

    return locate


@dataclass
class _Running:
    job_id: int
    task_args: tuple[str, str, str, str]
    progress_path: Path
    future: JobFuture | None
    """None while the job waits for another build of its pyramid (until ``retry_at_s``)."""
    retry_at_s: float = 0.0
    last_written_s: float = field(default_factory=time.monotonic)
    last_fraction: float = 0.0

    @property
    def source_path(self) -> str:
        return self.task_args[0]


class JobRunner:
    """Claims queued tiling jobs and runs them on ``executor`` (see the module docstring).

    ``run_pending()`` runs everything queued and returns; ``start()`` does so from a
    background thread whenever jobs arrive; ``close()`` stops it.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        executor: JobExecutor | None = None,
        task: Callable[[str, str, str, str], int] | None = None,
        max_parallel: int | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.executor: JobExecutor = executor or DaskExecutor(
            settings.dask_scheduler,
            n_workers=2,
            local_directory=settings.data_dir.resolve() / "dask-worker-space",
        )
        # By default the build holds the slide to the service's caps, like the probe does.
        self.task = task or functools.partial(build_in_worker, limits=settings.slide_limits)
        # By default as many builds at once as COUPE_TILING_PARALLEL_JOBS says.
        self.max_parallel = max_parallel or settings.tiling_parallel_jobs
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_s = settings.job_poll_s
        self.locate_pyramid = pyramid_locator(settings)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- queue operations

    def enqueue(self, *, slide_id: int) -> TilingJob:
        """Queue the build of slide ``slide_id`` (or return its unfinished job)."""
        job = jobs.enqueue_job(
            engine=self.engine, slide_id=slide_id, locate_pyramid=self.locate_pyramid
        )
        self.notify()
        return job

    def retry(self, *, job_id: int, actor: Actor) -> TilingJob:
        """Queue a failed job again (it resumes from what its build journal kept)."""
        job = jobs.retry_job(engine=self.engine, actor=actor, job_id=job_id)
        self.notify()
        return job

    def recover(self) -> list[int]:
        """Queue again the jobs left running by a process that stopped heartbeating."""
        return jobs.recover_stale_jobs(
            engine=self.engine, stale_after=timedelta(seconds=self.stale_after_s)
        )

    # -- running

    def run_pending(self) -> list[TilingJob]:
        """Claim and run queued jobs until none is left (or the runner stops).

        Returns the jobs this call finished (done or failed), as they are in the database.
        """
        finished: list[int] = []
        running: dict[int, _Running] = {}
        try:
            while True:
                while len(running) < self.max_parallel and not self._stopping.is_set():
                    job = jobs.claim_job(engine=self.engine, worker=self.worker_id)
                    if job is None:
                        break
                    running[job.id] = self._submit(job)
                if not running:
                    break
                if self._stopping.wait(0.1):
                    break
                for job_id, run in list(running.items()):
                    if run.future is None and time.monotonic() >= run.retry_at_s:
                        run.future = self.executor.submit(self.task, *run.task_args)
                    if run.future is not None and run.future.done():
                        outcome = self._finish(run, run.future)
                        if outcome is not None:
                            del running[job_id]
                            if outcome:
                                finished.append(job_id)
                            continue
                        # Another build holds the pyramid; its progress is the job's meanwhile.
                        run.future = None
                        run.retry_at_s = time.monotonic() + BUSY_RETRY_S
                    if not self._report(run):
                        del running[job_id]
                        if run.future is not None:
                            run.future.cancel()
        finally:
            for run in running.values():
                if run.future is not None:
                    run.future.cancel()
                self._release(run.job_id)
        with read_session(self.engine) as session:
            return list(
                session.scalars(
                    select(TilingJob).where(TilingJob.id.in_(finished)).order_by(TilingJob.id)
                )
            )

    def probe(self, path: Path) -> SlideProbe:
        """Open ``path`` in a worker process and hold it to ``settings.slide_limits``.

        Raises the reader's ``TilingError`` when the file cannot be read (a file that kills
        the worker process counts as unreadable), ``SlideTooLargeError`` when it is over the
        limits, and :class:`WorkersUnavailableError` when
        no worker could look at it (try again later).
        """
        try:
            future = self.executor.submit(probe_slide, str(path), self.settings.slide_limits)
        except Exception as exc:
            raise WorkersUnavailableError(
                f"no worker process to check {str(path)!r}: {exc}"
            ) from exc
        try:
            probe: SlideProbe = future.result(timeout=PROBE_TIMEOUT_S)
        except TilingError:
            raise
        except KilledWorker as exc:
            future.cancel()
            raise SlideReadError(f"reading slide {str(path)!r} crashed the worker process") from exc
        except Exception as exc:
            future.cancel()
            raise WorkersUnavailableError(
                f"no worker process could check {str(path)!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return probe

    def _submit(self, job: TilingJob) -> _Running:
        out_dir = Path(job.output_dir)
        progress_path = out_dir / f".{job.pyramid_name}.progress"
        task_args = (job.source_path, str(out_dir), job.pyramid_name, str(progress_path))
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            progress_path.unlink(missing_ok=True)
            future = self.executor.submit(self.task, *task_args)
        except BaseException:
            # No cluster (a wrong scheduler address, a closed executor): the job waits.
            self._release(job.id)
            raise
        return _Running(job.id, task_args, progress_path, future)

    def _report(self, run: _Running) -> bool:
        """Copy progress into the job row when due; False when the job is no longer ours."""
        progress = read_progress(run.progress_path)
        fraction = progress[0] / progress[1] if progress and progress[1] else 0.0
        due = time.monotonic() - run.last_written_s >= self.heartbeat_s
        if not due and fraction - run.last_fraction < PROGRESS_STEP:
            return True
        run.last_written_s = time.monotonic()
        run.last_fraction = fraction
        return jobs.report_progress(
            engine=self.engine, job_id=run.job_id, worker=self.worker_id, progress=progress
        )

    def _finish(self, run: _Running, future: JobFuture) -> bool | None:
        """Record the outcome of ``run``'s finished task ``future``; False if it was cancelled
        (re-queued), None (nothing recorded) if another build holds the pyramid: the task is
        to run again."""
        error: str | None = None
        tiles_total = 0
        try:
            tiles_total = int(future.result())
        except CancelledError:
            self._release(run.job_id)
            return False
        except PyramidBusyError:
            # A build a stopped runner left running on a worker holds the pyramid.
            return None
        except TilingError as exc:
            error = str(exc)
        except Exception as exc:
            # The worker process died (KilledWorker) or the task broke in an unexpected way.
            error = f"tiling {run.source_path!r} failed in the worker: {type(exc).__name__}: {exc}"
        jobs.finish_job(
            engine=self.engine,
            job_id=run.job_id,
            worker=self.worker_id,
            tiles_total=tiles_total,
            error=error,
        )
        run.progress_path.unlink(missing_ok=True)
        if error is not None:
            log.warning("tiling job %d failed: %s", run.job_id, error)
        return True

    def _release(self, job_id: int) -> None:
        """Put an interrupted job back in the queue; its build resumes from its journal."""
        jobs.release_job(engine=self.engine, job_id=job_id, worker=self.worker_id)

    # -- background thread

    def notify(self) -> None:
        """Wake the background thread: a job was queued."""
        self._wake.set()

    def start(self) -> None:
        """Run queued jobs from a background thread until :meth:`close`."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="coupe-tiling-jobs", daemon=True
            )
            self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the background thread runs: started, not stopped, not dead."""
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.recover()
                self.run_pending()
            except Exception:
                log.exception("the tiling job runner hit an error; it goes on")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def close(self) -> None:
        """Stop the background thread (unfinished jobs go back to the queue) and the cluster."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.executor.close()
