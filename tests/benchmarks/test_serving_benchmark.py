"""The serving benchmark harness, run end to end on a small slide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import serving as bench
from benchmarks._serving_passes import percentile


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) == 0.0


@pytest.mark.slow
def test_quick_run_serves_every_tile_and_writes_json_and_markdown(tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = ["--quick", "--clients", "4", "--requests", "40", "--seconds", "60", "--out", str(out)]

    assert bench.main(argv) == 0

    report = json.loads((out / "serving.json").read_text())
    assert report["slide"] == {
        "name": "synthetic-aperio-svs-3001x2017-v1.svs",
        "width_px": 3001,
        "height_px": 2017,
    }
    scenarios = [p["scenario"] for p in report["passes"]]
    assert "pre-built, first request" in scenarios and "on the fly, uncached" in scenarios
    assert {p["server"] for p in report["passes"]} == {"coupe", "baseline"}
    for result in report["passes"]:
        assert result["errors"] == 0, result
        assert result["ok"] > 0 and result["p99_ms"] >= result["p50_ms"] > 0
    assert set(report["met"]) == set(bench.TARGETS)
    assert "| pre-built, first request | coupe |" in (out / "serving.md").read_text()
