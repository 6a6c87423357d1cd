"""Where tasks run: a dask scheduler's worker processes, behind a small executor interface.

The runner needs only ``submit`` and ``close`` (:class:`JobExecutor`) and a future's ``done``,
``result`` and ``cancel`` (:class:`JobFuture`), so tests can run jobs on threads instead.
Without ``COUPE_DASK_SCHEDULER``, :class:`DaskExecutor` starts a small ``LocalCluster`` on
first use; with it, the configured scheduler is used (its workers must see the same data
folder).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any, Protocol, cast

from services.errors import WorkersUnavailableError

__all__ = ["DaskExecutor", "JobExecutor", "JobFuture", "WorkersUnavailableError"]


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
