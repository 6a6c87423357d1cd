"""``make bench``'s summary: every figure beside its baseline, the ratio the documented way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import results_summary as summary
from benchmarks import run_all
from benchmarks.results_files import with_kept_notes
from services.benchmark_results import BenchmarkResults

RESULTS_DIR = Path(run_all.__file__).resolve().parent / "results"


def _expected_ratio(figure: dict[str, Any]) -> float:
    """The documented ratio: how many times better Coupe is."""
    if figure["better"] == "lower":
        return float(figure["baseline"] / figure["coupe"])
    return float(figure["coupe"] / figure["baseline"])


def _check_figures(figures: list[dict[str, Any]]) -> None:
    for figure in figures:
        with_baseline = [figure[k] is not None for k in ("baseline", "baseline_name", "ratio")]
        assert all(with_baseline) or not any(with_baseline), figure
        if figure["ratio"] is not None:
            assert figure["ratio"] == pytest.approx(_expected_ratio(figure), rel=1e-3), figure
        assert figure["runs"] >= 1 and figure["unit"] and figure["source"].endswith(".md")
        if figure["target"] is not None:
            beats = (
                figure["coupe"] < figure["target"]
                if figure["better"] == "lower"
                else figure["coupe"] > figure["target"]
            )
            assert figure["met"] is beats, figure


def test_ratio_says_how_many_times_better_coupe_is() -> None:
    faster = summary.figure(
        benchmark="b", name="wall", unit="s", better="lower", coupe=2.0, baseline=3.0,
        baseline_name="other", runs=3, source="b.md",
    )  # fmt: skip
    more = summary.figure(
        benchmark="b", name="rate", unit="/s", better="higher", coupe=1500.0, baseline=500.0,
        baseline_name="other", runs=3, source="b.md", target=2000.0,
    )  # fmt: skip
    assert faster.ratio == 1.5 and more.ratio == 3.0
    assert more.met is False  # 1,500 is not over the target of 2,000
    alone = summary.figure(
        benchmark="b", name="x", unit="s", better="lower", coupe=0.123456, runs=1,
        source="b.md", target=1.0,
    )  # fmt: skip
    assert (alone.baseline, alone.baseline_name, alone.ratio) == (None, None, None)
    assert alone.coupe == 0.1235 and alone.met is True
    # A zero baseline gives no ratio, and then no baseline at all (the three go together).
    zero = summary.figure(
        benchmark="b", name="y", unit="ms", better="lower", coupe=1.0, baseline=0.0,
        baseline_name="other", runs=1, source="b.md",
    )  # fmt: skip
    assert (zero.baseline, zero.baseline_name, zero.ratio) == (None, None, None)


def test_the_committed_results_summarize() -> None:
    """Every benchmark's JSON as committed (older formats included) gives valid figures."""
    figures = [vars(f) for f in summary.collect(RESULTS_DIR)]
    assert {f["benchmark"] for f in figures} >= {"tiling", "serving", "assignment"}
    _check_figures(figures)
    serving = [f for f in figures if f["benchmark"] == "serving" and f["ratio"] is not None]
    assert serving and all("DeepZoomGenerator" in f["baseline_name"] for f in serving[:3])


def test_notes_written_by_hand_are_kept() -> None:
    previous = "# Old\n\n| a |\n\n## Notes (issue 12)\n\nwhy it is slow\n\n## Other\n\nx\n"
    new = "# New\n\n| b |\n"
    kept = with_kept_notes(previous, new)
    assert kept == "# New\n\n| b |\n\n## Notes (issue 12)\n\nwhy it is slow\n\n"
    assert with_kept_notes(previous, kept) == kept  # not twice
    assert with_kept_notes(None, new) == new


@pytest.mark.slow
def test_quick_run_writes_results_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "results"

    only = "tiling,serving,serving_floor"
    assert run_all.main(["--quick", "--only", only, "--out", str(out)]) == 0

    report = json.loads((out / "RESULTS.json").read_text())
    BenchmarkResults.model_validate(report)  # what the Benchmarks page reads
    assert report["quick"] is True
    assert [r["benchmark"] for r in report["benchmarks_run"]] == only.split(",")
    assert all(r["exit_code"] == 0 and r["elapsed_s"] > 0 for r in report["benchmarks_run"])
    machine = report["machine"]
    assert machine["cpus"] >= 1 and machine["memory_gb"] > 0 and machine["python"].count(".") == 2
    assert len(machine["load_average_start"]) == 3
    figures = report["figures"]
    _check_figures(figures)
    names = {(f["benchmark"], f["figure"]) for f in figures}
    assert ("tiling", "1000x800 slide, wall time") in names
    baselines = {f["baseline_name"] for f in figures}
    assert (
        summary.VIPS in baselines and summary.FLOOR in baselines and summary.DEEPZOOM in baselines
    )
    # Every tiling and serving figure of this run has its baseline from the same run.
    assert all(f["ratio"] is not None for f in figures), [f for f in figures if f["ratio"] is None]

    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "| benchmark | figure | Coupe | baseline | baseline is | ratio |" in markdown
    assert "[tiling.md](results/tiling.md)" in markdown
    assert "[serving.md](results/serving.md)" in markdown
    assert (out / "serving.md").exists() and list(out.glob("tiling-*.json"))
