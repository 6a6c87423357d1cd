"""Metrics read from the database at scrape time, so every replica shows the same figures.

A few small queries per scrape: jobs by status (the status index), the jobs finished in the
last hour and their durations (a window: what is fetched follows the hour's jobs, not the
years'), assignments made (one count), recent sign-in failures (a table the throttle keeps
short), and how far the audit chain's sealing lags (the chain index). Measured on SQLite with
200,000 assignments, 50,000 jobs and a million audit records: about 40 ms a scrape, most of it
the finished-jobs window, which the status index narrows but an index on ``finished_at`` would
make a range. A database that does not answer gives ``coupe_database_up 0`` and nothing
else from here: ``/metrics`` itself still answers.

Durations are gauges over the last hour, not a cumulative histogram: a job's row changes (a
failed job retried becomes queued, then done), so counts derived from the rows would go down,
which Prometheus reads as a counter reset.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from worklist.enums import JobStatus
from worklist.models import Assignment, AuditChainHead, AuditEvent, SignInFailure, TilingJob

__all__ = ["DURATION_QUANTILES", "DatabaseCollector", "JobFigures"]

log = logging.getLogger(__name__)

DURATION_QUANTILES = (0.5, 0.9, 0.99, 1.0)
"""The duration percentiles shown for the last hour's finished jobs (1.0: the longest)."""

_FINISHED = (JobStatus.DONE, JobStatus.FAILED)


@dataclass(frozen=True)
class JobFigures:
    """Tiling jobs waiting and running now, and finished in the last hour."""

    queued: int
    running: int
    finished_last_hour: int
    failed_last_hour: int


class DatabaseCollector(Collector):
    """The database-derived metrics (see the module docstring), collected on each scrape."""

    def __init__(self, engine: Engine, *, sign_in_window: timedelta) -> None:
        self.engine = engine
        self.sign_in_window = sign_in_window

    def describe(self) -> list[Metric]:
        # Nothing described: registering must not query the database (the app is starting).
        return []

    def collect(self) -> Iterator[Metric]:
        """Every figure from one connection; ``coupe_database_up`` 0 if the database fails."""
        started_s = time.perf_counter()
        try:
            with self.engine.connect() as connection:
                families = list(self._families(connection, datetime.now(UTC)))
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", type(exc).__name__)
            families = []
        up = GaugeMetricFamily(
            "coupe_database_up", "1 when the metrics' database queries succeeded, else 0."
        )
        up.add_metric([], 1.0 if families else 0.0)
        yield up
        took = GaugeMetricFamily(
            "coupe_database_metrics_seconds", "Time the database metrics took on this scrape."
        )
        took.add_metric([], time.perf_counter() - started_s)
        yield took
        yield from families

    def job_figures(self, now: datetime | None = None) -> JobFigures:
        """Queued and running jobs, and jobs done or failed in the hour before ``now``."""
        moment = now or datetime.now(UTC)
        with self.engine.connect() as connection:
            by_status = _jobs_by_status(connection)
            recent = _finished_since(connection, moment - timedelta(hours=1))
        return JobFigures(
            queued=by_status.get(JobStatus.QUEUED, 0),
            running=by_status.get(JobStatus.RUNNING, 0),
            finished_last_hour=len(recent),
            failed_last_hour=sum(1 for status, _ in recent if status is JobStatus.FAILED),
        )

    def _families(self, connection: Connection, now: datetime) -> Iterator[Metric]:
        by_status = _jobs_by_status(connection)
        jobs = GaugeMetricFamily(
            "coupe_tiling_jobs", "Tiling jobs by status, now.", labels=["status"]
        )
        for status in JobStatus:
            jobs.add_metric([status.value], by_status.get(status, 0))
        yield jobs
        yield from _job_families(connection, now)

        assignments = CounterMetricFamily(
            "coupe_assignments", "Assignments made (rows, active or ended; never deleted)."
        )
        assignments.add_metric([], connection.scalar(select(func.count(Assignment.id))) or 0)
        yield assignments

        recent_failures = connection.scalar(
            select(func.count()).where(SignInFailure.occurred_at > now - self.sign_in_window)
        )
        yield _gauge(
            "coupe_sign_in_failures_recent",
            "Failed sign-ins within the throttle window (all replicas), as the throttle counts.",
            recent_failures or 0,
        )
        yield from _audit_families(connection, now)


def _jobs_by_status(connection: Connection) -> dict[JobStatus, int]:
    rows = connection.execute(select(TilingJob.status, func.count()).group_by(TilingJob.status))
    return {JobStatus(status): count for status, count in rows.all()}


def _finished_since(
    connection: Connection, since: datetime
) -> list[tuple[JobStatus, float | None]]:
    """(outcome, seconds from start to finish or None) of each job finished after ``since``."""
    rows = connection.execute(
        select(TilingJob.status, TilingJob.started_at, TilingJob.finished_at).where(
            TilingJob.status.in_(_FINISHED), TilingJob.finished_at >= since
        )
    ).all()
    return [
        (
            JobStatus(status),
            None if started is None or finished is None else (finished - started).total_seconds(),
        )
        for status, started, finished in rows
    ]


def _job_families(connection: Connection, now: datetime) -> Iterator[Metric]:
    """The last hour's finished jobs and their durations, and the longest-running job."""
    recent = _finished_since(connection, now - timedelta(hours=1))
    finished = GaugeMetricFamily(
        "coupe_tiling_jobs_finished_last_hour",
        "Tiling jobs that finished in the last hour, by outcome (done, failed).",
        labels=["outcome"],
    )
    for outcome in _FINISHED:
        finished.add_metric([outcome.value], sum(1 for status, _ in recent if status is outcome))
    yield finished
    durations = sorted(s for status, s in recent if status is JobStatus.DONE and s is not None)
    if durations:
        family = GaugeMetricFamily(
            "coupe_tiling_job_duration_last_hour_seconds",
            "Wall time from start to finish of the jobs done in the last hour, by percentile "
            "(quantile 1: the longest); absent when none finished.",
            labels=["quantile"],
        )
        for quantile in DURATION_QUANTILES:
            family.add_metric([repr(quantile)], _nearest_rank(durations, quantile))
        yield family
    # Ordered, not min(): an aggregate skips the column's type, so SQLite's text would come back.
    oldest_start = connection.scalar(
        select(TilingJob.started_at)
        .where(TilingJob.status == JobStatus.RUNNING, TilingJob.started_at.is_not(None))
        .order_by(TilingJob.started_at)
        .limit(1)
    )
    running_s = 0.0 if oldest_start is None else (now - oldest_start).total_seconds()
    yield _gauge(
        "coupe_tiling_job_longest_running_seconds",
        "How long the longest-running tiling job has run (0 when none runs).",
        running_s,
    )


def _nearest_rank(ordered: Sequence[float], quantile: float) -> float:
    """The ``quantile`` of ``ordered`` (sorted, not empty) by the nearest-rank rule."""
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


def _audit_families(connection: Connection, now: datetime) -> Iterator[Metric]:
    """How old the chain's newest sealed record is, and what waits to be sealed."""
    head_time = connection.scalar(
        select(AuditEvent.occurred_at)
        .join(AuditChainHead, AuditEvent.chain_seq == AuditChainHead.last_seq)
        .limit(1)
    )
    if head_time is not None:
        yield _gauge(
            "coupe_audit_chain_head_age_seconds",
            "Seconds since the newest sealed audit record happened (the chain's head).",
            (now - head_time).total_seconds(),
        )
    unsealed = connection.scalar(select(func.count()).where(AuditEvent.chain_seq.is_(None)))
    yield _gauge(
        "coupe_audit_unsealed_records",
        "Audit records written but not yet sealed into the chain.",
        unsealed or 0,
    )
    oldest = connection.scalar(
        select(AuditEvent.occurred_at)
        .where(AuditEvent.chain_seq.is_(None))
        .order_by(AuditEvent.seq)
        .limit(1)
    )
    yield _gauge(
        "coupe_audit_oldest_unsealed_age_seconds",
        "Seconds the oldest unsealed audit record has waited (0 when all are sealed); "
        "growing means no process seals.",
        0.0 if oldest is None else (now - oldest).total_seconds(),
    )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], float(value))
    return family
