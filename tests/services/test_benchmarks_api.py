"""``GET /benchmarks``: the latest RESULTS.json checked and answered with its baselines and
ratios, or in words why there is none (no file yet; a file that does not hold results), beside
the live figures of the server; every signed-in account, nobody else."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.benchmark_results import (
    MAX_RESULTS_BYTES,
    RESULTS_FILE_NAME,
    ResultsStatus,
    default_results_dir,
    read_results,
)
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import new_case, running_service, settings_for
from tests.services.worklist_api_support import first_slide
from tiling.samples import fetch_sample
from worklist.enums import Role

REPO_ROOT = Path(__file__).resolve().parents[2]


def valid_results() -> dict[str, Any]:
    """A results file as ``make bench`` writes it: a lower-is-better figure, a higher-is-better
    one where Coupe is worse, and one without a baseline but with a target."""
    return {
        "generated_at": "2026-12-03T11:40:00+00:00",
        "machine": {"cpu": "AMD EPYC 7B13", "cpus": 2, "memory_gb": 23.5, "python": "3.11.7"},
        "figures": [
            {
                "benchmark": "tiling",
                "figure": "20000x15000 slide, wall time",
                "unit": "s",
                "better": "lower",
                "coupe": 4.2,
                "baseline": 5.1,
                "baseline_name": "libvips dzsave",
                "ratio": 1.21,
                "runs": 3,
                "source": "tiling.md",
            },
            {
                "benchmark": "serving",
                "figure": "pre-built tiles, 20 clients, throughput",
                "unit": "tiles/s",
                "better": "higher",
                "coupe": 1934.0,
                "baseline": 2400.0,
                "baseline_name": "nginx static files",
                "ratio": 0.81,
                "runs": 5,
                "source": "serving.md",
            },
            {
                "benchmark": "serving",
                "figure": "pre-built tiles, 20 clients, p99",
                "unit": "ms",
                "better": "lower",
                "coupe": 43.0,
                "baseline": None,
                "baseline_name": None,
                "ratio": None,
                "runs": 5,
                "source": "serving.md",
                # Extra detail make bench writes: a target, whether it was met, when it ran.
                "target": 20.0,
                "met": False,
                "measured_at": "2026-12-03",
            },
        ],
    }


def write_results(directory: Path, content: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RESULTS_FILE_NAME
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def service(tmp_path: Path, results_dir: Path) -> Iterator[ServiceHarness]:
    """The app reading its benchmark results from ``results_dir`` (empty at first)."""
    settings = settings_for(tmp_path / "data", None).model_copy(
        update={"benchmark_results_dir": results_dir}
    )
    with running_service(settings) as harness:
        harness.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
        harness.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
        harness.add_user("admin", Role.ADMIN)
        harness.add_user("privacy", Role.PRIVACY_OFFICER)
        yield harness


def answer_for(service: ServiceHarness, username: str = "hmc_path") -> dict[str, Any]:
    answer = service.client.get("/benchmarks", headers=service.headers(username))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_without_results_the_answer_says_how_to_make_them(service: ServiceHarness) -> None:
    body = answer_for(service)
    assert body["status"] == "missing"
    assert body["results"] is None
    assert "make bench" in body["message"]
    assert "COUPE_BENCHMARK_RESULTS_DIR" in body["message"]
    # The live figures are there all the same, before any tile was served.
    live = body["live"]
    assert live["tiles_served"] == 0
    assert set(live["tile_latency"]) >= {"prebuilt", "rendered", "cache"}
    assert live["tile_latency"]["prebuilt"] == {
        "count": 0,
        "p50_ms": None,
        "p90_ms": None,
        "p99_ms": None,
    }


def test_a_results_file_answers_every_figure_with_its_baseline_and_ratio(
    service: ServiceHarness, results_dir: Path
) -> None:
    write_results(results_dir, valid_results())
    body = answer_for(service)
    assert body["status"] == "ready"
    assert body["message"] is None
    results = body["results"]
    assert results["generated_at"].startswith("2026-12-03T11:40:00")
    assert results["machine"] == {
        "cpu": "AMD EPYC 7B13",
        "cpus": 2,
        "memory_gb": 23.5,
        "python": "3.11.7",
    }
    by_figure = {figure["figure"]: figure for figure in results["figures"]}
    assert list(by_figure) == [figure["figure"] for figure in valid_results()["figures"]]
    tiling = by_figure["20000x15000 slide, wall time"]
    assert (tiling["coupe"], tiling["baseline"], tiling["ratio"]) == (4.2, 5.1, 1.21)
    assert tiling["baseline_name"] == "libvips dzsave"
    assert (tiling["unit"], tiling["better"], tiling["runs"]) == ("s", "lower", 3)
    assert tiling["source"] == "tiling.md"
    throughput = by_figure["pre-built tiles, 20 clients, throughput"]
    assert throughput["better"] == "higher" and throughput["ratio"] == 0.81
    alone = by_figure["pre-built tiles, 20 clients, p99"]
    assert alone["baseline"] is alone["baseline_name"] is alone["ratio"] is None
    assert (alone["target"], alone["met"]) == (20.0, False)
    assert tiling["target"] is tiling["met"] is None

    # A new run shows at once: the file is read on every request.
    newer = valid_results()
    newer["generated_at"] = "2026-12-04T09:00:00+00:00"
    write_results(results_dir, newer)
    assert answer_for(service)["results"]["generated_at"].startswith("2026-12-04")


def _with(change: dict[str, Any], index: int = 0) -> dict[str, Any]:
    results = valid_results()
    results["figures"][index].update(change)
    return results


def _duplicated() -> dict[str, Any]:
    results = valid_results()
    results["figures"].append(dict(results["figures"][0]))
    return results


def _without_machine() -> dict[str, Any]:
    results = valid_results()
    del results["machine"]
    return results


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "is not JSON"),
        ("[" * 100_000, "is not JSON"),
        ("[]", "Input should be a valid dictionary"),
        (_without_machine(), "machine: Field required"),
        (_with({"better": "sideways"}), "figures.0.better"),
        # The ratio the wrong way round: coupe / baseline for a lower-is-better figure.
        (_with({"ratio": 0.82}), "ratio 0.82 is not baseline / coupe = 1.21"),
        (_with({"ratio": 1.24}, index=1), "ratio 1.24 is not coupe / baseline = 0.806"),
        (_with({"baseline": None}), "baseline, baseline_name and ratio go together"),
        (_with({"runs": 0}), "figures.0.runs: Input should be greater than or equal to 1"),
        (
            json.dumps(valid_results()).replace("4.2", "NaN"),
            "figures.0.coupe: Input should be a finite number",
        ),
        (_duplicated(), "appears twice"),
    ],
)
def test_a_file_that_does_not_hold_results_is_said_in_the_answer(
    service: ServiceHarness, results_dir: Path, content: Any, says: str
) -> None:
    write_results(results_dir, content)
    body = answer_for(service, "manager")
    assert body["status"] == "invalid"
    assert body["results"] is None
    assert body["message"].startswith(f"{RESULTS_FILE_NAME} does not hold benchmark results: ")
    assert says in body["message"]
    assert str(results_dir) not in body["message"]  # no server path to any signed-in account
    assert body["live"]["tiles_served"] == 0


def test_an_unreadable_results_file_is_said_in_the_answer(tmp_path: Path) -> None:
    (tmp_path / RESULTS_FILE_NAME).mkdir()
    reading = read_results(tmp_path)
    assert reading.status == ResultsStatus.INVALID
    assert reading.message is not None and "not a file" in reading.message
    huge = tmp_path / "huge"
    write_results(huge, " " * (MAX_RESULTS_BYTES + 1))
    assert "more than a results file" in (read_results(huge).message or "")
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / RESULTS_FILE_NAME).write_bytes(b'{"machine": "\xe9"}')
    assert "not UTF-8" in (read_results(latin).message or "")
    # A folder that is not there at all: no results yet, like an empty one.
    assert read_results(tmp_path / "absent").status == ResultsStatus.MISSING


def test_the_default_folder_is_the_projects_benchmarks_results() -> None:
    assert default_results_dir() == REPO_ROOT / "benchmarks" / "results"
    # What make bench wrote last, if it has run here: the page must be able to show it.
    reading = read_results(default_results_dir())
    if (default_results_dir() / RESULTS_FILE_NAME).exists():
        assert reading.status == ResultsStatus.READY, reading.message
        assert reading.results is not None and reading.results.figures
    else:
        assert reading.status == ResultsStatus.MISSING


@pytest.mark.parametrize("username", ["hmc_path", "manager", "admin", "privacy"])
def test_every_signed_in_account_reads_them(service: ServiceHarness, username: str) -> None:
    assert answer_for(service, username)["status"] == "missing"


def test_without_a_session_the_answer_is_401(service: ServiceHarness) -> None:
    service.client.cookies.clear()
    answer = service.client.get("/benchmarks")
    assert answer.status_code == 401
    assert answer.json()["error"]
    bad = service.client.get("/benchmarks", headers={"Authorization": "Bearer not-a-session"})
    assert bad.status_code == 401


def test_live_figures_count_the_tiles_served(service: ServiceHarness) -> None:
    slide_file = service.settings.slide_dir / "CMU-1-Small-Region.svs"
    shutil.copyfile(fetch_sample("CMU-1-Small-Region.svs"), slide_file)
    slide_id = first_slide(service, new_case(service, "HMC", file_path=slide_file).case_id)
    headers = service.headers("admin")
    for address in ("12/0_0.jpeg", "11/0_0.jpeg", "12/0_0.jpeg"):
        tile = service.client.get(f"/slides/{slide_id}_files/{address}", headers=headers)
        assert tile.status_code == 200, tile.text
    live = answer_for(service)["live"]
    assert live["tiles_served"] == 3
    served = {source: figures["count"] for source, figures in live["tile_latency"].items()}
    assert sum(served.values()) == 3
    assert served["prebuilt"] == 0  # no pyramid yet: rendered on the fly, the third from cache
    busiest = max(live["tile_latency"].values(), key=lambda figures: figures["count"])
    assert 0 < busiest["p50_ms"] <= busiest["p90_ms"] <= busiest["p99_ms"]
    assert live["jobs_queued"] >= 0 and live["jobs_running"] >= 0


def test_the_answer_is_documented_and_the_page_may_draw_charts(service: ServiceHarness) -> None:
    operation = service.client.get("/openapi.json").json()["paths"]["/benchmarks"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/BenchmarksPublic")
    assert "401" in operation["responses"]
    page = service.client.get("/desk/benchmarks")
    assert page.status_code == 200
    assert '<h1 id="benchmarks-heading">Benchmarks</h1>' in page.text
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', page.text)
    assert '"vega-util": "/static/vendor/vega-util/index.js?v=' in import_map  # for the charts
    assert "'sha256-" in page.headers["content-security-policy"]
    assert "unsafe" not in page.headers["content-security-policy"]
