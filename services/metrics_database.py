"""Metrics read from the database at scrape time, so every replica shows the same figures.

A few aggregate queries on indexed columns per scrape: jobs by status, finished jobs'
durations as a histogram, assignments by kind, recent sign-in failures, and how far the audit
chain's sealing lags. A database that does not answer gives ``coupe_database_up 0`` and
nothing else from here: ``/metrics`` itself still answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Connection, Engine, SQLColumnExpression, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from worklist.enums import AssignmentKind, JobStatus
from worklist.models import Assignment, AuditChainHead, AuditEvent, SignInFailure, TilingJob

__all__ = ["JOB_DURATION_BUCKETS_S", "DatabaseCollector", "JobFigures"]

log = logging.getLogger(__name__)

JOB_DURATION_BUCKETS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
"""A small slide tiles in seconds, a large one in tens of minutes."""

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
            recent = dict(
                connection.execute(
                    select(TilingJob.status, func.count())
                    .where(
                        TilingJob.status.in_(_FINISHED),
                        TilingJob.finished_at >= moment - timedelta(hours=1),
                    )
                    .group_by(TilingJob.status)
                ).all()
            )
        return JobFigures(
            queued=by_status.get(JobStatus.QUEUED, 0),
            running=by_status.get(JobStatus.RUNNING, 0),
            finished_last_hour=sum(recent.values()),
            failed_last_hour=recent.get(JobStatus.FAILED, 0),
        )

    def _families(self, connection: Connection, now: datetime) -> Iterator[Metric]:
        by_status = _jobs_by_status(connection)
        jobs = GaugeMetricFamily(
            "coupe_tiling_jobs", "Tiling jobs by status, now.", labels=["status"]
        )
        for status in JobStatus:
            jobs.add_metric([status.value], by_status.get(status, 0))
        yield jobs
        yield _job_durations(connection)

        assignments = CounterMetricFamily(
            "coupe_assignments",
            "Assignments made (rows, active or ended), by kind.",
            labels=["kind"],
        )
        made = dict(
            connection.execute(
                select(Assignment.kind, func.count()).group_by(Assignment.kind)
            ).all()
        )
        for kind in AssignmentKind:
            assignments.add_metric([kind.value], made.get(kind, 0))
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


def _seconds_between(
    connection: Connection, start: SQLColumnExpression[Any], end: SQLColumnExpression[Any]
) -> ColumnElement[Any]:
    """``end - start`` in seconds, in the database's own arithmetic."""
    if connection.dialect.name == "sqlite":
        # SQLite keeps the times as ISO text; julianday reads it, in days.
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def _job_durations(connection: Connection) -> Metric:
    """Wall time from start to finish of the finished jobs, by outcome, as a histogram."""
    seconds = _seconds_between(connection, TilingJob.started_at, TilingJob.finished_at)
    bucket_counts = [
        func.sum(case((seconds <= bound, 1), else_=0)) for bound in JOB_DURATION_BUCKETS_S
    ]
    rows = connection.execute(
        select(TilingJob.status, func.count(), func.sum(seconds), *bucket_counts)
        .where(
            TilingJob.status.in_(_FINISHED),
            TilingJob.started_at.is_not(None),
            TilingJob.finished_at.is_not(None),
        )
        .group_by(TilingJob.status)
    ).all()
    family = HistogramMetricFamily(
        "coupe_tiling_job_duration_seconds",
        "Finished tiling jobs' wall time from start to finish, by outcome (done, failed).",
        labels=["outcome"],
    )
    found = {JobStatus(row[0]): row for row in rows}
    for status in _FINISHED:
        row = found.get(status)
        count = int(row[1]) if row else 0
        total_s = float(row[2] or 0.0) if row else 0.0
        per_bucket: Sequence[Any] = row[3:] if row else [0] * len(JOB_DURATION_BUCKETS_S)
        buckets = [
            (_bound_text(bound), float(n or 0))
            for bound, n in zip(JOB_DURATION_BUCKETS_S, per_bucket, strict=True)
        ]
        buckets.append(("+Inf", float(count)))
        family.add_metric([status.value], buckets, total_s)
    return family


def _bound_text(bound: float) -> str:
    return repr(float(bound))


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
