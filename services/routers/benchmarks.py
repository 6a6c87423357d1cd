"""``GET /benchmarks``: the latest benchmark results beside their baselines, and live figures.

The results are ``RESULTS.json`` from ``COUPE_BENCHMARK_RESULTS_DIR`` (default: the project's
``benchmarks/results``), read afresh on every request (a few kB: a new ``make bench`` shows at
once) and checked by :mod:`services.benchmark_results`. No file yet, or one that does not hold
results, is an answer too, saying what to do: the live figures are worth showing either way.

The live figures are :meth:`services.metrics.CoupeMetrics.live_figures`: the tiles of the
answering server (every process of one ``coupe serve --workers N``, summed; each replica behind
a proxy answers with its own) and the tiling jobs from the database, which every replica shares.
Neither holds patient data, so every signed-in account may read them, and nothing is audited.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.benchmark_results import (
    BenchmarkResults,
    ResultsStatus,
    default_results_dir,
    read_results,
)
from services.deps import CurrentUser, StateDep
from services.schemas.auth import ErrorBody

__all__ = ["BenchmarksPublic", "LiveFiguresPublic", "TileLatencyPublic", "router"]

router = APIRouter(
    tags=["meta"],
    responses={401: {"model": ErrorBody, "description": "Not signed in."}},
)


class TileLatencyPublic(BaseModel):
    """How long this server took to answer tiles of one source, from its latency histogram."""

    count: int = Field(description="Tiles answered.")
    p50_ms: float | None = Field(description="Median latency, ms; null before the first tile.")
    p90_ms: float | None = Field(description="90th percentile, ms.")
    p99_ms: float | None = Field(description="99th percentile, ms.")


class LiveFiguresPublic(BaseModel):
    """What the answering server has done since it started (its ``/metrics``, summed up)."""

    tile_latency: dict[str, TileLatencyPublic] = Field(
        description='Per tile source: "prebuilt" (from the pyramid), "rendered" (on the fly) '
        'and "cache" (rendered before, kept).'
    )
    tiles_served: int = Field(description="Tiles answered, every source.")
    jobs_finished_last_hour: int = Field(description="Tiling jobs finished in the last hour.")
    jobs_failed_last_hour: int = Field(description="Tiling jobs failed in the last hour.")
    jobs_queued: int = Field(description="Tiling jobs waiting now.")
    jobs_running: int = Field(description="Tiling jobs running now.")


class BenchmarksPublic(BaseModel):
    """The latest results (or why there are none) and the live figures."""

    status: ResultsStatus = Field(
        description='"ready": results below; "missing": none made yet; "invalid": the results '
        "file does not hold results (message says what is wrong)."
    )
    message: str | None = Field(description="Why there are no results, and what to do.")
    results: BenchmarkResults | None = Field(description="The latest run of `make bench`.")
    live: LiveFiguresPublic


@router.get("/benchmarks", response_model=BenchmarksPublic)
def benchmarks(user: CurrentUser, state: StateDep) -> BenchmarksPublic:
    """The latest benchmark results, every figure beside its baseline and the ratio (how many
    times better Coupe is), and this server's live figures: tile latency percentiles by
    source, tiles served, tiling jobs of the last hour and now. Any signed-in account."""
    directory = state.settings.benchmark_results_dir or default_results_dir()
    reading = read_results(directory)
    live = LiveFiguresPublic.model_validate(asdict(state.metrics.live_figures()))
    return BenchmarksPublic(
        status=reading.status, message=reading.message, results=reading.results, live=live
    )
