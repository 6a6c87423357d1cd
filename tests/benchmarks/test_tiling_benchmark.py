"""The tiling benchmark harness, run end to end on a tiny slide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import tiling as bench

BASELINES = ["openslide-deepzoom", "vips-dzsave", "codec-floor"]


def test_parse_sizes() -> None:
    assert bench.parse_sizes("20000x15000, 50000X40000") == [(20000, 15000), (50000, 40000)]


@pytest.mark.slow
def test_quick_run_writes_json_and_markdown_with_checked_tile_counts(tmp_path: Path) -> None:
    out = tmp_path / "results"
    argv = [
        "--quick", "--sizes", "1000x800", "--repeats", "1", "--out", str(out),
        "--cache-dir", str(tmp_path / "cache"), "--contenders", ",".join(BASELINES),
    ]  # fmt: skip

    assert bench.main(argv) == 0

    (json_path,) = out.glob("tiling-*.json")
    report = json.loads(json_path.read_text())
    results = report["results"]
    assert [r["contender"] for r in results] == BASELINES
    expected = report["slides"]["synthetic-aperio-svs-1000x800-v1.svs"]["expected_tiles"]
    assert expected == 29  # 1000x800 at 254/1: levels 0..10, 1+1+...+2+4+12 tiles
    for result in results:
        assert result["error"] is None, result
        assert result["expected_tiles"] == expected
        (run,) = result["runs"]
        assert run["ok"] and run["tiles"] == expected
        assert run["wall_s"] > 0 and run["peak_rss_mb"] > 0
        assert run["cpu_s"] > 0  # the children's user + system time
        assert result["median_s"] == run["wall_s"]
    assert report["environment"]["libvips"].count(".") == 2
    assert report["environment"]["machine"]["logical_cores"] >= 1

    markdown = (out / "tiling.md").read_text()
    assert (
        "| contender | slide | tiles | median s | tiles/s | speed vs vips | CPU s | peak MB |"
        in markdown
    )
    for name in BASELINES:
        assert f"| {name} | 1000x800 | {expected} |" in markdown
    assert "| vips-dzsave | 1000x800 | 29 |" in markdown and "| 1.00x |" in markdown


@pytest.mark.slow
def test_a_missing_contender_errors_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "_coupe_executable", lambda: str(tmp_path / "no-such-coupe"))
    out = tmp_path / "results"
    argv = [
        "--sizes", "1000x800", "--repeats", "1", "--out", str(out),
        "--cache-dir", str(tmp_path / "cache"), "--contenders", "coupe,vips-dzsave",
    ]  # fmt: skip

    assert bench.main(argv) == 0  # Coupe failing alone does not fail the baselines' run

    report = json.loads(next(out.glob("tiling-*.json")).read_text())
    coupe, vips = report["results"]
    assert coupe["median_s"] is None and "cannot run" in coupe["error"]
    assert vips["error"] is None
    assert "| coupe | 1000x800 | 29 | error: cannot run" in (out / "tiling.md").read_text()
