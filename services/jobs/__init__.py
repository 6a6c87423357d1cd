"""Tiling jobs: pyramid builds kept in the database and run on dask worker processes.

A job is a ``tiling_job`` row: queued -> running -> done | failed; its state machine is
:mod:`worklist.operations.jobs`. This package runs it: :mod:`~services.jobs.worker` is what
runs inside a worker process (opening a slide, building its pyramid),
:mod:`~services.jobs.executor` where (the dask cluster), :mod:`~services.jobs.runner` the
background loop that claims jobs and records what became of them.
"""

from __future__ import annotations

from services.jobs.executor import DaskExecutor, JobExecutor, JobFuture, WorkersUnavailableError
from services.jobs.runner import JobRunner, pyramid_locator
from services.jobs.worker import SlideProbe, build_in_worker, probe_slide

__all__ = [
    "DaskExecutor",
    "JobExecutor",
    "JobFuture",
    "JobRunner",
    "SlideProbe",
    "WorkersUnavailableError",
    "build_in_worker",
    "probe_slide",
    "pyramid_locator",
]
