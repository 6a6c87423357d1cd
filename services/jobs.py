"""The tiling job runner: pyramid builds kept in the database and run on dask worker processes.

A job is a ``tiling_job`` row: queued -> running -> done | failed. The runner claims a queued
job with one conditional UPDATE (``... WHERE status = 'queued'``; on PostgreSQL the candidate
is picked with ``FOR UPDATE SKIP LOCKED``), so two runners never run the same job; the pyramid
builder's own file lock guards the output folder as well.

Each build is one task on a dask worker *process*: slide files are untrusted, and a reader
that crashes takes a worker down, not the API. Without ``COUPE_DASK_SCHEDULER`` a small
``LocalCluster`` is started on the first job; with it, the configured scheduler is used (its
workers must see the same data folder). The worker writes its progress to a small file next
to the pyramid; the runner copies it into the job row (throttled) and keeps a heartbeat.

After a restart, jobs left ``running`` by a dead process (stale heartbeat) are queued again
and resume where their build journal stopped. A runner that is stopped puts its unfinished
jobs back in the queue.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.errors import ConflictError
from services.settings import Settings
from services.storage import pyramid_paths
from tiling.errors import SlideReadError, TilingError
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.sources import open_slide
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import read_session, run_in_transaction
from worklist.enums import AuditAction, JobStatus, PyramidStatus
from worklist.errors import NotFoundError, ValidationError
from worklist.models import Slide, TilingJob

__all__ = [
    "DaskExecutor",
    "JobExecutor",
    "JobFuture",
    "JobRunner",
    "SlideProbe",
    "WorkersUnavailableError",
    "build_in_worker",
    "probe_slide",
    "queue_job",
]

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
"""How often a running job's row is refreshed (progress and heartbeat)."""
PROGRESS_STEP = 0.05
"""A progress change of this fraction is written at once, without waiting for the heartbeat."""
STALE_AFTER_S = 60.0
"""A running job whose heartbeat is older than this belongs to a dead process."""
PROBE_TIMEOUT_S = 120.0
_PROBE_REGION_PX = 64
_UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


# --- What runs in the worker process ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlideProbe:
    """What opening a slide in a worker found: enough to accept a file for import."""

    backend: str
    width_px: int
    height_px: int
    level_count: int
    barcode: str | None


def probe_slide(path: str) -> SlideProbe:
    """Open ``path`` and decode one small region (run in a worker process, not the API).

    Raises the reader's ``TilingError`` (naming the file) when it cannot be read.
    """
    with open_slide(path) as source:
        level = len(source.level_dimensions) - 1
        width, height = source.level_dimensions[level]
        size = (min(_PROBE_REGION_PX, width), min(_PROBE_REGION_PX, height))
        source.read_region((0, 0), level, size)
        barcode = next(
            (
                str(value).strip()
                for key, value in sorted(source.properties.items())
                if key.lower().endswith("barcode") and str(value).strip()
            ),
            None,
        )
        width_px, height_px = source.dimensions
        return SlideProbe(
            backend=type(source).__name__,
            width_px=width_px,
            height_px=height_px,
            level_count=len(source.level_dimensions),
            barcode=barcode,
        )


class _ProgressFile:
    """Writes ``{"done": n, "total": m}`` atomically, at most every half second."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.5:
            return
        self._last = now
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"done": done, "total": total}))
        os.replace(partial, self.path)


def build_in_worker(source_path: str, out_dir: str, name: str, progress_path: str) -> int:
    """Build (or resume) one pyramid; runs as a dask task in a worker process.

    Returns the pyramid's tile count; raises ``TilingError`` with the builder's message.
    """
    result = build_pyramid(
        source_path,
        out_dir,
        PyramidOptions(),
        name=name,
        progress=_ProgressFile(Path(progress_path)),
    )
    return result.tiles_total


def _read_progress(path: Path) -> tuple[int, int] | None:
    try:
        data = json.loads(path.read_text())
        return int(data["done"]), int(data["total"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- Executors ----------------------------------------------------------------------------


class WorkersUnavailableError(RuntimeError):
    """No worker process is available (no cluster, a lost scheduler, a timeout)."""


class JobFuture(Protocol):
    """The part of a dask (or ``concurrent.futures``) future the runner uses."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def cancel(self) -> Any: ...


class JobExecutor(Protocol):
    """Runs a function somewhere else and hands back a future."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> JobFuture: ...

    def close(self) -> None: ...


class DaskExecutor:
    """Tasks on the configured dask scheduler, or on a small LocalCluster started on first use.

    The LocalCluster has ``n_workers`` worker processes with one thread each; a build uses
    threads of its own inside its worker process.
    """

    def __init__(
        self,
        scheduler_address: str | None,
        *,
        n_workers: int = 2,
        local_directory: Path | None = None,
    ) -> None:
        self.scheduler_address = scheduler_address
        self.n_workers = n_workers
        self.local_directory = local_directory
        self._lock = threading.Lock()
        self._client: Any = None
        self._cluster: Any = None
        self._closed = False

    def _ensure_client(self) -> Any:
        from distributed import Client, LocalCluster

        with self._lock:
            if self._closed:
                raise CancelledError("the job executor is closed")
            if self._client is None:
                if self.scheduler_address:
                    self._client = Client(
                        self.scheduler_address, timeout="10s", set_as_default=False
                    )
                else:
                    # Loopback only (a scheduler runs whatever it is sent), no dashboard,
                    # and the scheduler's HTTP endpoint on a free port, not 8787.
                    self._cluster = LocalCluster(
                        n_workers=self.n_workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        local_directory=str(self.local_directory) if self.local_directory else None,
                        silence_logs=logging.ERROR,
                    )
                    self._client = Client(self._cluster, set_as_default=False)
            return self._client

    def submit(self, fn: Callable[..., Any], *args: Any) -> JobFuture:
        """Run ``fn(*args)`` on a worker; every call is a new task (``pure=False``)."""
        return cast(JobFuture, self._ensure_client().submit(fn, *args, pure=False))

    def close(self) -> None:
        """Close the client and, if this executor started it, the local cluster."""
        with self._lock:
            self._closed = True
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


# --- Queueing -----------------------------------------------------------------------------


def queue_job(session: Session, *, slide: Slide, settings: Settings, now: datetime) -> TilingJob:
    """Queue the pyramid build of ``slide`` in ``session``'s transaction.

    A slide has at most one unfinished job (a partial unique index): when one exists, it is
    returned instead of a second.
    """
    if slide.file_path is None:
        raise ValidationError(f"slide {slide.id} has no scanned image to tile")
    existing = _open_job(session, slide.id)
    if existing is not None:
        return existing
    paths = pyramid_paths(settings, slide.id)
    job = TilingJob(
        slide_id=slide.id,
        source_path=slide.file_path,
        output_dir=str(paths.directory),
        pyramid_name=paths.name,
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


def _open_job(session: Session, slide_id: int) -> TilingJob | None:
    return session.scalar(
        select(TilingJob).where(TilingJob.slide_id == slide_id, TilingJob.status.in_(_UNFINISHED))
    )


# --- The runner ---------------------------------------------------------------------------


@dataclass
class _Running:
    job_id: int
    slide_id: int | None
    source_path: str
    progress_path: Path
    future: JobFuture
    last_written_s: float = field(default_factory=time.monotonic)
    last_fraction: float = 0.0


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
        task: Callable[[str, str, str, str], int] = build_in_worker,
        max_parallel: int = 1,
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
        self.task = task
        self.max_parallel = max_parallel
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_s = min(2.0, settings.import_poll_seconds)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- queue operations

    def enqueue(self, *, slide_id: int) -> TilingJob:
        """Queue the build of slide ``slide_id`` (or return its unfinished job)."""

        def work(session: Session) -> TilingJob:
            slide = session.get(Slide, slide_id)
            if slide is None:
                raise NotFoundError("slide", slide_id)
            return queue_job(session, slide=slide, settings=self.settings, now=_now())

        job = run_in_transaction(self.engine, work)
        self.notify()
        return job

    def retry(self, *, job_id: int, actor: Actor) -> TilingJob:
        """Queue a failed job again (it resumes from what its build journal kept)."""

        def work(session: Session) -> TilingJob:
            job = session.get(TilingJob, job_id)
            if job is None:
                raise NotFoundError("tiling job", job_id)
            if job.status is not JobStatus.FAILED:
                raise ConflictError(
                    f"tiling job {job_id} is {job.status.value}; only failed jobs are retried"
                )
            if job.slide_id is not None and _open_job(session, job.slide_id) is not None:
                raise ConflictError(
                    f"slide {job.slide_id} already has an unfinished tiling job; "
                    f"job {job_id} is not queued again"
                )
            previous_error = job.error
            job.status = JobStatus.QUEUED
            job.error = None
            job.worker = None
            job.finished_at = None
            job.heartbeat_at = None
            _set_slide_status(session, job.slide_id, PyramidStatus.QUEUED)
            record_event(
                session,
                actor=actor,
                event_type="tiling_job.retry",
                action=AuditAction.EXECUTE,
                slide_id=job.slide_id,
                detail={"job_id": job_id, "previous_error": previous_error},
            )
            return job

        job = run_in_transaction(self.engine, work)
        self.notify()
        return job

    def recover(self) -> list[int]:
        """Queue again the jobs left running by a process that stopped heartbeating."""
        cutoff = _now() - timedelta(seconds=self.stale_after_s)

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
                log.warning(
                    "re-queueing tiling job %d: %s stopped heartbeating", job.id, job.worker
                )
                job.status = JobStatus.QUEUED
                job.worker = None
                _set_slide_status(session, job.slide_id, PyramidStatus.QUEUED)
            return [job.id for job in stale]

        return run_in_transaction(self.engine, work)

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
                    job = self._claim()
                    if job is None:
                        break
                    running[job.id] = self._submit(job)
                if not running:
                    break
                if self._stopping.wait(0.1):
                    break
                for job_id, run in list(running.items()):
                    if run.future.done():
                        del running[job_id]
                        if self._finish(run):
                            finished.append(job_id)
                    elif not self._report(run):
                        del running[job_id]
                        run.future.cancel()
        finally:
            for run in running.values():
                run.future.cancel()
                self._release(run.job_id)
        with read_session(self.engine) as session:
            return list(
                session.scalars(
                    select(TilingJob).where(TilingJob.id.in_(finished)).order_by(TilingJob.id)
                )
            )

    def probe(self, path: Path) -> SlideProbe:
        """Open ``path`` in a worker process.

        Raises the reader's ``TilingError`` when the file cannot be read (a file that kills
        the worker process counts as unreadable), and :class:`WorkersUnavailableError` when
        no worker could look at it (try again later).
        """
        try:
            future = self.executor.submit(probe_slide, str(path))
        except Exception as exc:
            raise WorkersUnavailableError(
                f"no worker process to check {str(path)!r}: {exc}"
            ) from exc
        try:
            probe: SlideProbe = future.result(timeout=PROBE_TIMEOUT_S)
        except TilingError:
            raise
        except Exception as exc:
            future.cancel()
            if type(exc).__name__ == "KilledWorker":
                raise SlideReadError(
                    f"reading slide {str(path)!r} crashed the worker process"
                ) from exc
            raise WorkersUnavailableError(
                f"no worker process could check {str(path)!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return probe

    def _claim(self) -> TilingJob | None:
        """Take the oldest queued job, or None; one conditional UPDATE decides who gets it."""
        is_postgres = self.engine.dialect.name == "postgresql"

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
            moment = _now()
            claimed = cast(
                CursorResult[Any],
                session.execute(
                    update(TilingJob)
                    .where(TilingJob.id == job_id, TilingJob.status == JobStatus.QUEUED)
                    .values(
                        status=JobStatus.RUNNING,
                        worker=self.worker_id,
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

        for _ in range(3):  # another runner may win the race for the first candidate
            job = run_in_transaction(self.engine, work)
            if job is not None or not self._has_queued():
                return job
        return None

    def _has_queued(self) -> bool:
        with read_session(self.engine) as session:
            return (
                session.scalar(
                    select(TilingJob.id).where(TilingJob.status == JobStatus.QUEUED).limit(1)
                )
                is not None
            )

    def _submit(self, job: TilingJob) -> _Running:
        out_dir = Path(job.output_dir)
        progress_path = out_dir / f".{job.pyramid_name}.progress"
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            progress_path.unlink(missing_ok=True)
            future = self.executor.submit(
                self.task, job.source_path, str(out_dir), job.pyramid_name, str(progress_path)
            )
        except BaseException:
            # No cluster (a wrong scheduler address, a closed executor): the job waits.
            self._release(job.id)
            raise
        return _Running(job.id, job.slide_id, job.source_path, progress_path, future)

    def _owned(self, session: Session, job_id: int) -> TilingJob | None:
        """The job, if this runner still holds it (a stale-job recovery may have taken it)."""
        return session.scalar(
            select(TilingJob)
            .where(
                TilingJob.id == job_id,
                TilingJob.status == JobStatus.RUNNING,
                TilingJob.worker == self.worker_id,
            )
            .with_for_update()
        )

    def _report(self, run: _Running) -> bool:
        """Copy progress into the job row when due; False when the job is no longer ours."""
        progress = _read_progress(run.progress_path)
        fraction = progress[0] / progress[1] if progress and progress[1] else 0.0
        due = time.monotonic() - run.last_written_s >= self.heartbeat_s
        if not due and fraction - run.last_fraction < PROGRESS_STEP:
            return True

        def work(session: Session) -> bool:
            job = self._owned(session, run.job_id)
            if job is None:
                return False
            job.heartbeat_at = _now()
            if progress is not None:
                job.tiles_done, job.tiles_total = progress
            return True

        run.last_written_s = time.monotonic()
        run.last_fraction = fraction
        return run_in_transaction(self.engine, work)

    def _finish(self, run: _Running) -> bool:
        """Record the outcome of a finished task; False if it was cancelled (re-queued)."""
        error: str | None = None
        tiles_total = 0
        try:
            tiles_total = int(run.future.result())
        except CancelledError:
            self._release(run.job_id)
            return False
        except TilingError as exc:
            error = str(exc)
        except Exception as exc:
            # The worker process died (KilledWorker) or the task broke in an unexpected way.
            error = f"tiling {run.source_path!r} failed in the worker: {type(exc).__name__}: {exc}"

        def work(session: Session) -> None:
            job = self._owned(session, run.job_id)
            if job is None:
                return
            moment = _now()
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

        run_in_transaction(self.engine, work)
        run.progress_path.unlink(missing_ok=True)
        if error is not None:
            log.warning("tiling job %d failed: %s", run.job_id, error)
        return True

    def _release(self, job_id: int) -> None:
        """Put an interrupted job back in the queue; its build resumes from its journal."""

        def work(session: Session) -> None:
            job = self._owned(session, job_id)
            if job is not None:
                job.status = JobStatus.QUEUED
                job.worker = None
                _set_slide_status(session, job.slide_id, PyramidStatus.QUEUED)

        run_in_transaction(self.engine, work)

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


def _set_slide_status(session: Session, slide_id: int | None, status: PyramidStatus) -> None:
    if slide_id is None:
        return
    slide = session.get(Slide, slide_id)
    if slide is not None:
        slide.pyramid_status = status


def _now() -> datetime:
    return datetime.now(UTC)
