"""The latest benchmark results, read from ``RESULTS.json`` and checked before anyone sees them.

``make bench`` (``benchmarks.run_all``) writes ``benchmarks/results/RESULTS.json``: when and on
what machine it ran, and every figure beside its baseline from the same run. Its ``ratio`` is
always "how many times better Coupe is" (above 1: Coupe is better), so a reader never has to
know which way a figure points: ``baseline / coupe`` where lower is better, ``coupe /
baseline`` where higher is. A figure without a baseline has none of the three.

Reading never raises: no file yet and a file that does not hold results are answers too
(:class:`ResultsReading`), so the Benchmarks page can say what to do instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import services

__all__ = [
    "MAX_RESULTS_BYTES",
    "RESULTS_FILE_NAME",
    "BenchmarkFigure",
    "BenchmarkResults",
    "MachineDescription",
    "ResultsReading",
    "ResultsStatus",
    "default_results_dir",
    "read_results",
]

RESULTS_FILE_NAME = "RESULTS.json"
MAX_RESULTS_BYTES = 4 * 1024**2
"""A results file is a few kB; anything this large is not one (and is not read per request)."""

RATIO_TOLERANCE = 0.05
"""How far a stated ratio may be from the one its figures give: the figures are rounded."""


class _ResultsModel(BaseModel):
    # Numbers must be numbers: Python's json reads NaN and Infinity, which no answer may carry.
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)


class MachineDescription(_ResultsModel):
    """The machine the benchmarks ran on."""

    cpu: str = Field(max_length=300, description="The processor's model name.")
    cpus: int = Field(ge=1, description="Logical processors the benchmarks could use.")
    memory_gb: float = Field(gt=0, description="Memory, GB (10^9 bytes).")
    python: str = Field(max_length=40, description="The Python version, e.g. 3.11.7.")


class BenchmarkFigure(_ResultsModel):
    """One measured figure of Coupe beside its baseline from the same run (medians of runs)."""

    benchmark: str = Field(min_length=1, max_length=80, description='e.g. "tiling".')
    figure: str = Field(min_length=1, max_length=300, description="What was measured.")
    unit: str = Field(min_length=1, max_length=40, description='e.g. "s", "ms", "tiles/s".')
    better: Literal["lower", "higher"] = Field(description="Which way is better.")
    coupe: float = Field(description="Coupe's figure (the median of its runs).")
    baseline: float | None = Field(description="The baseline's figure; null: none measured.")
    baseline_name: str | None = Field(
        max_length=200, description='What the baseline is, e.g. "libvips dzsave".'
    )
    ratio: float | None = Field(
        gt=0,
        description="How many times better Coupe is (above 1: better): baseline / coupe where "
        "lower is better, coupe / baseline where higher is. Null without a baseline.",
    )
    runs: int = Field(ge=1, description="How many runs the medians are of.")
    source: str = Field(
        min_length=1, max_length=200, description="The file in benchmarks/results with the detail."
    )
    target: float | None = Field(
        default=None, description="The figure Coupe should beat (the issue's target), if any."
    )
    met: bool | None = Field(
        default=None, description="Whether Coupe's figure beats the target; null: no target."
    )

    @model_validator(mode="after")
    def _baseline_is_whole(self) -> Self:
        given = [value is not None for value in (self.baseline, self.baseline_name, self.ratio)]
        if any(given) and not all(given):
            raise ValueError(
                "baseline, baseline_name and ratio go together: all three or none "
                f"(figure {self.figure!r})"
            )
        expected = self.expected_ratio()
        if self.ratio is not None and expected is not None:
            if abs(self.ratio - expected) > max(0.01, RATIO_TOLERANCE * expected):
                way = "baseline / coupe" if self.better == "lower" else "coupe / baseline"
                raise ValueError(
                    f"figure {self.figure!r}: ratio {self.ratio:g} is not {way} = {expected:.3g} "
                    f"(better: {self.better}; the ratio says how many times better Coupe is)"
                )
        return self

    def expected_ratio(self) -> float | None:
        """The ratio the two figures give, or None (no baseline, or a zero to divide by)."""
        if self.baseline is None:
            return None
        numerator, denominator = (
            (self.baseline, self.coupe) if self.better == "lower" else (self.coupe, self.baseline)
        )
        if denominator <= 0 or numerator < 0:
            return None
        return numerator / denominator


class BenchmarkResults(_ResultsModel):
    """``RESULTS.json``: one run of ``make bench``."""

    generated_at: datetime = Field(description="When the run finished (ISO 8601).")
    machine: MachineDescription
    figures: list[BenchmarkFigure] = Field(max_length=1000)

    @model_validator(mode="after")
    def _figures_are_unique(self) -> Self:
        seen: set[tuple[str, str]] = set()
        for figure in self.figures:
            key = (figure.benchmark, figure.figure)
            if key in seen:
                raise ValueError(
                    f"figure {figure.figure!r} of benchmark {figure.benchmark!r} appears twice"
                )
            seen.add(key)
        return self


class ResultsStatus(StrEnum):
    """What was found where the results should be."""

    READY = "ready"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class ResultsReading:
    """The results, or why there are none (``message``, in words for the page)."""

    status: ResultsStatus
    results: BenchmarkResults | None = None
    message: str | None = None


MISSING_MESSAGE = (
    "No benchmark results yet: run make bench in the project (it writes "
    f"benchmarks/results/{RESULTS_FILE_NAME}), or point COUPE_BENCHMARK_RESULTS_DIR at a folder "
    "that holds one."
)


def default_results_dir() -> Path:
    """The project's ``benchmarks/results``, beside the ``services`` package it runs from.

    An installed package (the Docker image) has no such folder: then there are no results.
    """
    return Path(services.__file__).resolve().parents[1] / "benchmarks" / "results"


def _problems(error: ValidationError, limit: int = 5) -> str:
    """Pydantic's errors as "figures.2.ratio: Input should be greater than 0; ..."."""
    lines = []
    for item in error.errors()[:limit]:
        where = ".".join(str(part) for part in item["loc"])
        lines.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    more = error.error_count() - limit
    if more > 0:
        lines.append(f"and {more} more")
    return "; ".join(lines)


def read_results(directory: Path) -> ResultsReading:
    """The results in ``directory/RESULTS.json``; never raises for what the file holds."""
    path = directory / RESULTS_FILE_NAME
    invalid = f"{RESULTS_FILE_NAME} does not hold benchmark results"
    try:
        size_bytes = path.stat().st_size
        if not path.is_file():
            return ResultsReading(ResultsStatus.INVALID, message=f"{invalid}: it is not a file.")
        if size_bytes > MAX_RESULTS_BYTES:
            return ResultsReading(
                ResultsStatus.INVALID,
                message=f"{invalid}: it is {size_bytes:,} bytes, more than a results file "
                f"({MAX_RESULTS_BYTES:,} at most).",
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ResultsReading(ResultsStatus.MISSING, message=MISSING_MESSAGE)
    except UnicodeDecodeError:
        return ResultsReading(ResultsStatus.INVALID, message=f"{invalid}: it is not UTF-8 text.")
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return ResultsReading(
            ResultsStatus.INVALID, message=f"{invalid}: it cannot be read ({reason})."
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: nested past all reason
        return ResultsReading(
            ResultsStatus.INVALID, message=f"{invalid}: it is not JSON ({error})."
        )
    try:
        results = BenchmarkResults.model_validate(data)
    except ValidationError as error:
        return ResultsReading(ResultsStatus.INVALID, message=f"{invalid}: {_problems(error)}.")
    return ResultsReading(ResultsStatus.READY, results=results)
