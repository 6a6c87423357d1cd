"""Every benchmark's JSON turned into figures, for ``RESULTS.json`` and ``RESULTS.md``.

A figure is one measured number of Coupe beside its baseline from the same run, both medians
of the benchmark's runs. ``ratio`` is always how many times better Coupe is (above 1: Coupe is
better): ``baseline / coupe`` where lower is better, ``coupe / baseline`` where higher is
better, computed from the two rounded figures as they are written. A figure without a baseline
(the assignment rounds, the viewer timings: nothing comparable runs beside them) has baseline,
baseline_name and ratio null, and its target where the benchmark has one. Each figure names
the results file with its detail (``source``) and when that benchmark ran (``measured_at``):
``run_all --only`` reruns some benchmarks and keeps the others' latest results.

:mod:`benchmarks.results_files` writes the figures as ``RESULTS.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Figure:
    """One row of the results table."""

    benchmark: str
    figure: str
    unit: str
    better: Better
    coupe: float
    baseline: float | None
    baseline_name: str | None
    ratio: float | None
    runs: int
    source: str
    measured_at: str | None = None
    target: float | None = None
    met: bool | None = None


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (as written in the results)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def ratio_of(coupe: float, baseline: float, better: Better) -> float | None:
    """How many times better Coupe is; None where a zero or a negative makes it meaningless."""
    numerator, denominator = (baseline, coupe) if better == "lower" else (coupe, baseline)
    if denominator <= 0 or numerator <= 0:
        return None
    return significant(numerator / denominator)


def figure(
    *,
    benchmark: str,
    name: str,
    unit: str,
    better: Better,
    coupe: float,
    baseline: float | None = None,
    baseline_name: str | None = None,
    runs: int,
    source: str,
    measured_at: str | None = None,
    target: float | None = None,
) -> Figure:
    """A figure with its values rounded and its ratio computed from the rounded values."""
    coupe = significant(coupe)
    base = significant(baseline) if baseline is not None else None
    ratio = ratio_of(coupe, base, better) if base is not None else None
    if ratio is None:
        base, baseline_name = None, None
    met = None
    if target is not None:
        met = coupe < target if better == "lower" else coupe > target
    return Figure(
        benchmark, name, unit, better, coupe, base, baseline_name, ratio, max(1, runs), source,
        measured_at, target, met,
    )  # fmt: skip


# --- tiling -------------------------------------------------------------------------------

VIPS = "libvips dzsave (direct JPEG mode)"
FLOOR = "codec floor (decode + encode every tile, no pyramid, no files)"


def latest_tiling_json(results_dir: Path) -> Path | None:
    """The newest ``tiling-<date>.json`` (the date in its name orders them)."""
    found = sorted(results_dir.glob("tiling-*.json"))
    return found[-1] if found else None


def tiling_figures(report: dict[str, Any], source: str) -> list[Figure]:
    """Coupe's wall time, CPU time and peak memory per slide, beside libvips and the floor."""
    started = report.get("started_utc")
    when = started if isinstance(started, str) else (max(started) if started else None)
    by_slide: dict[str, dict[str, dict[str, Any]]] = {}
    for result in report["results"]:
        by_slide.setdefault(result["slide"], {})[result["contender"]] = result
    figures: list[Figure] = []
    for contenders in by_slide.values():
        coupe = contenders.get("coupe")
        if coupe is None or coupe.get("median_s") is None:
            continue
        size = f"{coupe['width_px']}x{coupe['height_px']}"
        runs = sum(1 for run in coupe["runs"] if run["ok"])
        rows = [
            ("wall time", "s", "median_s", contenders.get("vips-dzsave"), VIPS),
            ("CPU time (user + system)", "s", "median_cpu_s", contenders.get("vips-dzsave"), VIPS),
            ("peak memory (summed RSS)", "MB", "peak_rss_mb", contenders.get("vips-dzsave"), VIPS),
            ("wall time against the codec floor", "s", "median_s",
             contenders.get("codec-floor"), FLOOR),
        ]  # fmt: skip
        for what, unit, key, other, other_name in rows:
            value = coupe.get(key)
            if value is None:
                continue
            base = other.get(key) if other else None
            base_runs = sum(1 for run in other["runs"] if run["ok"]) if other else runs
            figures.append(
                figure(
                    benchmark="tiling",
                    name=f"{size} slide, {what}",
                    unit=unit,
                    better="lower",
                    coupe=value,
                    baseline=base,
                    baseline_name=other_name,
                    runs=min(runs, base_runs),
                    source=source,
                    measured_at=when,
                )
            )
    return figures


# --- serving ------------------------------------------------------------------------------

DEEPZOOM = "OpenSlide DeepZoomGenerator server (renders every tile, no sign-in)"


def serving_figures(report: dict[str, Any], source: str) -> list[Figure]:
    """Per setup: pre-built and on-the-fly latency, throughput and CPU per tile beside the
    DeepZoomGenerator server; behind a proxy, also beside the direct setup (the proxy's cost)."""
    targets = report.get("targets", {})
    when = report.get("date")
    clients = report.get("clients")
    rows = report.get("summary") or _summary_of_old(report)
    baseline = {row["scenario"]: row for row in rows if row["server"] == "baseline"}
    dz_first = baseline.get("DeepZoomGenerator, first request")
    setups = [s for s in report.get("setups", []) if s] or sorted(
        {row["setup"] for row in rows if row["server"] == "coupe"}
    )
    direct = next((s for s in setups if s.startswith("direct")), None)
    coupe_rows = {(row["setup"], row["scenario"]): row for row in rows if row["server"] == "coupe"}
    figures: list[Figure] = []
    plan: list[tuple[str, str, str, str, Better, str | None]] = [
        ("pre-built, first request", "pre-built tiles, p99 latency", "ms", "p99_ms", "lower",
         "prebuilt_p99_ms"),
        ("pre-built, first request", "pre-built tiles, throughput", "tiles/s", "tiles_per_s",
         "higher", "prebuilt_tiles_per_s"),
        ("pre-built, first request", "pre-built tiles, API CPU per tile", "ms",
         "server_cpu_ms_per_tile", "lower", None),
        ("on the fly, uncached", "on-the-fly tiles (uncached), p99 latency", "ms", "p99_ms",
         "lower", "rendered_uncached_p99_ms"),
        ("on the fly, uncached", "on-the-fly tiles (uncached), throughput", "tiles/s",
         "tiles_per_s", "higher", None),
    ]  # fmt: skip
    for setup in setups:
        logged = ", access log"
        if setup.endswith(logged):
            figures += _access_log_figures(coupe_rows, setup, setup[: -len(logged)], when, source)
            continue
        shared = ", Redis tile cache"
        if setup.endswith(shared):
            # The same processes as another setup: only what sharing the cache changes.
            figures += _shared_cache_figures(coupe_rows, setup, setup[: -len(shared)], when, source)
            continue
        for scenario, what, unit, key, better, target_key in plan:
            row = coupe_rows.get((setup, scenario))
            if row is None or row.get(key) is None:
                continue
            figures.append(
                figure(
                    benchmark="serving",
                    name=f"{what} at {clients} clients ({setup})",
                    unit=unit,
                    better=better,
                    coupe=row[key],
                    baseline=dz_first.get(key) if dz_first else None,
                    baseline_name=DEEPZOOM,
                    runs=min(row["runs"], dz_first["runs"]) if dz_first else row["runs"],
                    source=source,
                    measured_at=when,
                    target=targets.get(target_key) if target_key else None,
                )
            )
        if direct is None or setup == direct:
            continue
        figures += _against_setup(
            coupe_rows, "pre-built, first request", setup, direct, _THROUGHPUT_AND_P99,
            name="pre-built tiles, {what} ({setup}) against no proxy",
            baseline_name=f"Coupe {direct}, no proxy", when=when, source=source,
        )  # fmt: skip
    return figures


# (key, what, unit, better) of the figures that compare one setup with another.
_Measure = tuple[str, str, str, Better]
_THROUGHPUT_AND_P99: tuple[_Measure, ...] = (
    ("tiles_per_s", "throughput", "tiles/s", "higher"),
    ("p99_ms", "p99 latency", "ms", "lower"),
)


def _shared_cache_figures(
    rows: dict[tuple[str, str], dict[str, Any]], setup: str, alone: str, when: Any, source: str
) -> list[Figure]:
    """Tiles rendered on the fly asked again, with the replicas sharing Redis and without."""
    return _against_setup(
        rows, "on the fly, cached", setup, alone, _THROUGHPUT_AND_P99,
        name="on-the-fly tiles asked again, {what} ({setup})",
        baseline_name=f"Coupe {alone}, each process its own cache", when=when, source=source,
    )  # fmt: skip


def _access_log_figures(
    rows: dict[tuple[str, str], dict[str, Any]], setup: str, quiet: str, when: Any, source: str
) -> list[Figure]:
    """Pre-built tiles with uvicorn's access log on (as ``coupe serve`` runs) and off."""
    measures = (*_THROUGHPUT_AND_P99, ("server_cpu_ms_per_tile", "API CPU per tile", "ms", "lower"))
    return _against_setup(
        rows, "pre-built, first request", setup, quiet, measures,
        name="pre-built tiles, {what} ({setup})",
        baseline_name=f"Coupe {quiet}, no access log", when=when, source=source,
    )  # fmt: skip


def _against_setup(
    rows: dict[tuple[str, str], dict[str, Any]],
    scenario: str,
    setup: str,
    other: str,
    measures: Sequence[_Measure],
    *,
    name: str,
    baseline_name: str,
    when: Any,
    source: str,
) -> list[Figure]:
    """``setup``'s ``scenario`` beside ``other``'s, one figure a measure (``name`` formatted
    with ``what`` and ``setup``); none if either setup lacks the scenario."""
    row, base = rows.get((setup, scenario)), rows.get((other, scenario))
    if row is None or base is None:
        return []
    return [
        figure(
            benchmark="serving", name=name.format(what=what, setup=setup), unit=unit,
            better=better, coupe=row[key], baseline=base[key], baseline_name=baseline_name,
            runs=min(row["runs"], base["runs"]), source=source, measured_at=when,
        )
        for key, what, unit, better in measures
    ]  # fmt: skip


def _summary_of_old(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Results written before setups and repeats: every pass is one run of one setup."""
    return [
        {**one, "setup": one.get("setup") or "direct, 2 processes", "runs": 1}
        for one in report.get("passes", [])
    ]


# --- assignment and claims ----------------------------------------------------------------


def assignment_figures(report: dict[str, Any], source: str) -> list[Figure]:
    """The engine's rounds, the stored preview and PostgreSQL claims: no baseline runs."""
    when = report.get("when")
    figures: list[Figure] = []

    def add(name: str, unit: str, better: Better, value: Any, runs: int, target: Any) -> None:
        if isinstance(value, int | float):
            figures.append(
                figure(
                    benchmark="assignment",
                    name=name,
                    unit=unit,
                    better=better,
                    coupe=value,
                    runs=runs,
                    source=source,
                    measured_at=when,
                    target=target,
                )
            )

    engine = report.get("engine", {})
    for scenario, data in engine.get("scenarios", {}).items():
        add(
            f"engine round, {data['cases']:,} open cases, {data['pathologists']} pathologists "
            f"({scenario})", "s", "lower", data["round_median_s"], data["repeats"],
            engine.get("target_s"),
        )  # fmt: skip
    rounds = report.get("rounds", {})
    stored = rounds.get("stored")
    targets = rounds.get("targets_s", {})
    if stored:
        add(
            f"stored round preview, {stored['cases_in_snapshot']:,} cases", "s", "lower",
            stored["preview_s"], stored.get("preview_repeats", 1), targets.get("preview"),
        )  # fmt: skip
    for scenario, data in rounds.get("large", {}).items():
        add(
            f"engine round, {data['cases']:,} open cases, {data['pathologists']:,} "
            f"pathologists ({scenario})", "s", "lower", data["round_median_s"],
            data["repeats"], targets.get("large_round"),
        )  # fmt: skip
    claims = report.get("claims", {})
    claim_targets = claims.get("targets", {})
    for run in claims.get("runs", []):
        who = f"{run['clients']} clients in {run['client_processes']} process(es)"
        add(
            f"claims on PostgreSQL, {who}", "claims/s", "higher", run["claims_per_s"], 1,
            claim_targets.get("claims_per_s"),
        )  # fmt: skip
        add(
            f"claim p99 latency on PostgreSQL, {who}", "ms", "lower", run["latency_p99_ms"],
            1, claim_targets.get("p99_ms"),
        )  # fmt: skip
    return figures


def claims_http_figures(report: dict[str, Any], source: str) -> list[Figure]:
    """Claims through the API, per database: SQLite is PostgreSQL's baseline here."""
    when = report.get("date")
    runs = {run["backend"]: run for run in report.get("runs", [])}
    figures = []
    sqlite = runs.get("sqlite")
    measures: list[tuple[str, str, str, Better]] = [
        ("claims_per_s", "claims through the API", "claims/s", "higher"),
        ("p99_ms", "claim p99 latency through the API", "ms", "lower"),
    ]
    for backend, run in runs.items():
        other = sqlite if backend != "sqlite" else None
        for key, what, unit, better in measures:
            figures.append(
                figure(
                    benchmark="claims_http",
                    name=f"{what}, {backend}, {run['clients']} clients",
                    unit=unit,
                    better=better,
                    coupe=run[key],
                    baseline=other[key] if other else None,
                    baseline_name="the same on SQLite" if other else None,
                    runs=int(run.get("rounds", 1)),
                    source=source,
                    measured_at=when,
                    target=run.get("target", {}).get(key),
                )
            )
    return figures


# --- viewer timings -----------------------------------------------------------------------


def viewer_figures(report: dict[str, Any], source: str) -> list[Figure]:
    """Open, change slide and pan in Chromium, on loopback and through the simulated link."""
    when = report.get("date")
    targets = report.get("targets_ms", {})
    names = {
        "open": "open a case (click to first tile)",
        "change_slide": "change slide (click to first tile)",
        "pan": "pan (move to field complete)",
    }
    conditions = {"loopback": "loopback", "wan": "30 ms round trip, 50 Mbit/s"}
    figures = []
    for condition, label in conditions.items():
        data = report.get("conditions", {}).get(condition)
        if not data:
            continue
        for key, what in names.items():
            value = data["median"].get(f"{key}_ms")
            if value is None:
                continue
            figures.append(
                figure(
                    benchmark="viewer_timings",
                    name=f"{what}, {label}",
                    unit="ms",
                    better="lower",
                    coupe=value,
                    runs=len(data.get("runs", [])) or 1,
                    source=source,
                    measured_at=when,
                    target=targets.get(key) if condition == "wan" else None,
                )
            )
    return figures


# --- all of them --------------------------------------------------------------------------

Reader = Callable[[dict[str, Any], str], list[Figure]]
SOURCES: tuple[tuple[str, Callable[[Path], Path | None], str, Reader], ...] = (
    ("tiling", latest_tiling_json, "tiling.md", tiling_figures),
    ("serving", lambda d: d / "serving.json", "serving.md", serving_figures),
    ("assignment", lambda d: d / "assignment.json", "assignment.md", assignment_figures),
    ("claims_http", lambda d: d / "claims_http.json", "claims_http.md", claims_http_figures),
    ("viewer_timings", lambda d: d / "viewer-timings.json", "viewer-timings.md", viewer_figures),
)
"""(benchmark, where its JSON is, its markdown, how to read its figures)."""


def collect(results_dir: Path, benchmarks: Sequence[str] | None = None) -> list[Figure]:
    """The figures of every benchmark whose results are in ``results_dir``."""
    figures: list[Figure] = []
    for name, locate, markdown_name, reader in SOURCES:
        if benchmarks is not None and name not in benchmarks:
            continue
        path = locate(results_dir)
        if path is None or not path.exists():
            continue
        figures += reader(json.loads(path.read_text()), markdown_name)
    floor_path, serving_path = results_dir / "serving-floor.json", results_dir / "serving.json"
    wanted = benchmarks is None or "serving_floor" in benchmarks
    if wanted and floor_path.exists() and serving_path.exists():
        figures += floor_figures(
            json.loads(floor_path.read_text()), json.loads(serving_path.read_text())
        )
    return figures


FLOOR_SERVERS = {
    "bare ASGI app, uvicorn 2 workers": "a bare ASGI app, uvicorn (reads the file, nothing else)",
    "Caddy file_server": "Caddy file_server (Go, reads the file, nothing else)",
}


def floor_figures(floor: dict[str, Any], serving: dict[str, Any]) -> list[Figure]:
    """Coupe's pre-built tiles (direct, 2 processes) against servers that only read the file:
    how far above the floor its own path is (as the codec floor is for tiling)."""
    rows = serving.get("summary") or _summary_of_old(serving)
    coupe = next(
        (r for r in rows if r["server"] == "coupe" and r["scenario"] == "pre-built, first request"
         and r["setup"].startswith("direct")), None,
    )  # fmt: skip
    if coupe is None:
        return []
    figures = []
    measures: list[tuple[str, str, str, Better]] = [
        ("tiles_per_s", "throughput", "tiles/s", "higher"),
        ("server_cpu_ms_per_tile", "server CPU per tile", "ms", "lower"),
    ]
    for floor_pass in floor.get("passes", []):
        name = FLOOR_SERVERS.get(floor_pass["scenario"])
        if name is None:
            continue
        for key, what, unit, better in measures:
            if coupe.get(key) is None or floor_pass.get(key) is None:
                continue
            figures.append(
                figure(
                    benchmark="serving_floor",
                    name=f"pre-built tiles, {what} ({coupe['setup']}) against "
                    f"{floor_pass['scenario']}",
                    unit=unit,
                    better=better,
                    coupe=coupe[key],
                    baseline=floor_pass[key],
                    baseline_name=name,
                    runs=1,
                    source="serving.md",
                    measured_at=floor.get("date"),
                )
            )
    return figures
