"""The app's Prometheus metrics: one registry per app, tile timings, and figures from the database.

What each process counts itself (tile latency by source, tiles served, sign-in failures) lives
in metric objects made here, per app, never at import. What every replica must agree on (jobs,
assignments, the audit chain) is read from the database at scrape time by
:class:`services.metrics_database.DatabaseCollector`, so any replica's ``/metrics`` tells it.

Several server processes (``coupe serve --workers N``): ``coupe serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the workers start; prometheus-client then
keeps each process's values in files there, and :class:`CoupeMetrics` exposes their sum
(``MultiProcessCollector``) next to one database collector. One process (tests, one worker):
the values stay in memory.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from services.metrics_database import DatabaseCollector
from services.storage import make_private_dir

__all__ = [
    "SIGN_IN_FAILURE_REASONS",
    "TILE_LATENCY_BUCKETS_S",
    "TILE_SOURCES",
    "CoupeMetrics",
    "LatencyFigures",
    "LiveFigures",
    "prepare_multiprocess_dir",
    "quantile_from_buckets",
]

TILE_SOURCES = ("prebuilt", "rendered", "cache")
"""Where a tile's bytes came from (``services.tiles.TileResponse.source``)."""

SIGN_IN_FAILURE_REASONS = ("unknown_user", "wrong_password", "throttled")
"""Why a sign-in was refused (``worklist.sessions.record_sign_in_failure``)."""

TILE_LATENCY_BUCKETS_S = (
    0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04,
    0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5,
)  # fmt: skip
"""Fine from 1 ms to 500 ms, where tile answers fall and the p99 targets (20, 100 ms) sit."""

TILE_LATENCY = "coupe_tile_latency_seconds"

MULTIPROCESS_DIR = "metrics"
"""Under the data dir: one folder per ``coupe serve`` (host and pid) for its processes' values."""


@dataclass(frozen=True)
class LatencyFigures:
    """One tile source's answers so far and their percentiles (from the histogram's buckets)."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class LiveFigures:
    """What the Benchmarks page shows beside the benchmark results."""

    tile_latency: dict[str, LatencyFigures]  # "prebuilt" | "rendered" | "cache"
    tiles_served: int
    jobs_finished_last_hour: int
    jobs_failed_last_hour: int
    jobs_queued: int
    jobs_running: int


class CoupeMetrics:
    """One app's metrics (see the module docstring); ``registry`` is what ``/metrics`` shows.

    ``multiprocess_dir``: the ``PROMETHEUS_MULTIPROC_DIR`` of this process, when several
    server processes share the metrics (prometheus-client read it when it was imported).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        sign_in_window: timedelta,
        multiprocess_dir: Path | None = None,
    ) -> None:
        self.multiprocess_dir = multiprocess_dir
        # The metric objects register here; with several processes it is never exposed itself:
        # the files every process writes are summed instead.
        own = CollectorRegistry(auto_describe=True)
        self.tile_latency = Histogram(
            TILE_LATENCY,
            "Time to answer a tile request (access check and read), by where the bytes came "
            "from: prebuilt (pyramid file), rendered (on the fly), cache (rendered earlier).",
            ["source"],
            buckets=TILE_LATENCY_BUCKETS_S,
            registry=own,
        )
        self.tiles_served = Counter(
            "coupe_tiles_served",
            "Tiles answered (304s included), by source.",
            ["source"],
            registry=own,
        )
        self.sign_in_failures = Counter(
            "coupe_sign_in_failures",
            "Failed sign-ins seen by this service, by reason "
            "(unknown_user, wrong_password, throttled).",
            ["reason"],
            registry=own,
        )
        # Made now, so each source shows at 0 before its first tile; kept, so a tile skips the
        # label lookup (counting a tile: 1.3 us instead of 5.5; 3 us with several processes).
        self._per_source = {
            source: (self.tile_latency.labels(source), self.tiles_served.labels(source))
            for source in TILE_SOURCES
        }
        for reason in SIGN_IN_FAILURE_REASONS:
            self.sign_in_failures.labels(reason)
        self.database = DatabaseCollector(engine, sign_in_window=sign_in_window)
        self._local: Collector
        if multiprocess_dir is None:
            self.registry = own
            self._local = own
        else:
            self.registry = CollectorRegistry(auto_describe=True)
            # prometheus-client's multiprocess module has no annotations.
            MultiProcessCollector(self.registry, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
            self._local = MultiProcessCollector(None, path=str(multiprocess_dir))  # type: ignore[no-untyped-call]
        # Registered once per registry: every process's /metrics reads the database itself.
        self.registry.register(self.database)

    content_type = CONTENT_TYPE_LATEST

    def observe_tile(self, *, source: str, seconds: float) -> None:
        """Count one tile answer from ``source`` that took ``seconds``."""
        known = self._per_source.get(source)
        if known is None:  # a source not in TILE_SOURCES: still counted, under its own label
            known = (self.tile_latency.labels(source), self.tiles_served.labels(source))
        latency, served = known
        latency.observe(seconds)
        served.inc()

    def count_sign_in_failure(self, reason: str) -> None:
        """Count a refused sign-in (``reason`` as audited)."""
        self.sign_in_failures.labels(reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric (all processes summed)."""
        return generate_latest(self.registry)

    def live_figures(self) -> LiveFigures:
        """Tile percentiles so far (all processes) and the job figures from the database."""
        buckets: dict[str, list[tuple[float, float]]] = {source: [] for source in TILE_SOURCES}
        served = 0.0
        for family in self._local.collect():
            for sample in family.samples:
                if sample.name == f"{TILE_LATENCY}_bucket":
                    source = sample.labels["source"]
                    bound = float(sample.labels["le"])
                    buckets.setdefault(source, []).append((bound, sample.value))
                elif sample.name == "coupe_tiles_served_total":
                    served += sample.value
        jobs = self.database.job_figures()
        return LiveFigures(
            tile_latency={source: _latency(pairs) for source, pairs in buckets.items()},
            tiles_served=int(served),
            jobs_finished_last_hour=jobs.finished_last_hour,
            jobs_failed_last_hour=jobs.failed_last_hour,
            jobs_queued=jobs.queued,
            jobs_running=jobs.running,
        )


def _latency(pairs: Iterable[tuple[float, float]]) -> LatencyFigures:
    cumulative = sorted(pairs)
    count = int(cumulative[-1][1]) if cumulative else 0

    def ms(quantile: float) -> float | None:
        seconds = quantile_from_buckets(quantile, cumulative)
        return None if seconds is None else round(seconds * 1000, 3)

    return LatencyFigures(count=count, p50_ms=ms(0.5), p90_ms=ms(0.9), p99_ms=ms(0.99))


def quantile_from_buckets(
    quantile: float, cumulative: Sequence[tuple[float, float]]
) -> float | None:
    """The ``quantile`` of a histogram given as (upper bound, cumulative count) pairs, sorted.

    Prometheus's ``histogram_quantile`` rule: linear within the bucket the rank falls in (the
    first bucket from 0); in the +Inf bucket, the highest finite bound. None without counts.
    """
    if not cumulative or cumulative[-1][1] <= 0:
        return None
    rank = quantile * cumulative[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in cumulative:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """A fresh, empty folder for one ``coupe serve``'s processes to share their metrics in.

    ``DATA_DIR/metrics/<host>-<pid>``: replicas sharing a data dir each sum only their own
    processes (Prometheus scrapes each replica). A folder of this host whose ``coupe serve``
    no longer runs is removed; one with this very name (a container restarted with the same
    host name and pid) is emptied: counters start again from zero with the service.
    """
    base = data_dir.resolve() / MULTIPROCESS_DIR
    make_private_dir(base)
    host = socket.gethostname()
    for folder in base.glob(f"{host}-*"):
        pid_text = folder.name.removeprefix(f"{host}-")
        if pid_text.isdigit() and not _running(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
    mine = base / f"{host}-{os.getpid()}"
    shutil.rmtree(mine, ignore_errors=True)
    make_private_dir(mine)
    return mine


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True  # cleared by the caller
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
