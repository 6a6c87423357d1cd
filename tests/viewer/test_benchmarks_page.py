"""The Benchmarks page in Chromium: reached by its link in the header, a chart per benchmark
drawn under the page's policy, a table row per figure with its baseline and ratio, the run's
machine, the live figures (refreshed: a tile served shows within one refresh), no serious axe
finding; without results it says to run `make bench`, and a broken file is said in words.

The page reads RESULTS.json from COUPE_BENCHMARK_RESULTS_DIR, so the tests serve the demo a
second time (``coupe serve`` on the same data folder, no background workers) with a results
folder of their own: the project's benchmarks/results changes with every ``make bench``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from services.benchmark_results import RESULTS_FILE_NAME
from tests.services.test_benchmarks_api import valid_results, write_results
from tests.viewer.case_panels import first_slide, primary_cases
from tests.viewer.conftest import (
    DEMO_PASSWORD,
    DESK_ROLES,
    ApiClient,
    DemoServer,
    coupe_served,
    sign_in_context,
)

REFRESH_MS = 10_000  # how often the page asks for the live figures
TIMES = "\N{MULTIPLICATION SIGN}"  # the ratio: "1.21 times better"
# Non-blank pixels of a chart's canvas: a drawn chart has axes and marks, an empty one none.
_INKED_PIXELS = """(canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
}"""


@dataclass
class BenchServer:
    base_url: str
    results_dir: Path


@pytest.fixture(scope="module")
def bench_server(
    demo_server: DemoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BenchServer]:
    """The demo served again, reading its benchmark results from a folder of the tests'."""
    root = tmp_path_factory.mktemp("benchmarks-page")
    results_dir = root / "results"
    results_dir.mkdir()
    env = {
        **os.environ,
        "COUPE_DATA_DIR": str(demo_server.data_dir),
        "COUPE_BENCHMARK_RESULTS_DIR": str(results_dir),
        # The demo's own server runs the job runner and the folder import.
        "COUPE_RUN_BACKGROUND_WORKERS": "false",
        "COUPE_SIGN_IN_FAILURES_PER_ADDRESS": "100000",
    }
    env.pop("COUPE_DATABASE_URL", None)
    with coupe_served(env, root / "serve.log") as base_url:
        yield BenchServer(base_url, results_dir)


@pytest.fixture
def open_as(browser: Any, bench_server: BenchServer) -> Iterator[Callable[[str], Any]]:
    """``open_as("manager")``: a page of the bench server signed in as that demo account, on
    its landing page; uncaught script errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(username: str) -> Any:
        context = sign_in_context(browser, bench_server.base_url, username)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/")
        if context.request.get("/auth/me").json().get("role") in DESK_ROLES:
            # Their landing page sends them on to the desk: a click before that would be lost.
            page.wait_for_url("**/desk/queue")
        page.get_by_role("navigation", name="Main").get_by_role("link").first.wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def _api(bench_server: BenchServer, username: str) -> ApiClient:
    anonymous = ApiClient(bench_server.base_url, token="")
    body = {"username": username, "password": DEMO_PASSWORD}
    status, answer = anonymous.request("POST", "/auth/login", body)
    assert status == 200, answer
    return ApiClient(bench_server.base_url, token=answer["access_token"], user=answer["user"])


def _serve_a_tile(bench_server: BenchServer) -> None:
    """One tile of the pathologist ``hmc``'s first case: a tile the server counts."""
    api = _api(bench_server, "hmc")
    slide = first_slide(api, primary_cases(api)[0]["id"])
    deepzoom = slide["deepzoom"]
    status, _ = api.get(
        f"/slides/{slide['id']}_files/{deepzoom['level_count'] - 1}/0_0.{deepzoom['tile_format']}"
    )
    assert status == 200


def _cell(table: Any, row_name: str) -> Any:
    """The cells of the row whose header is ``row_name``."""
    return (
        table.get_by_role("row")
        .filter(has=table.page.get_by_role("rowheader", name=row_name, exact=True))
        .get_by_role("cell")
    )


def test_a_lab_manager_reads_the_benchmarks_beside_the_live_figures(
    bench_server: BenchServer,
    open_as: Callable[[str], Any],
    assert_accessible: Callable[[Any, str], None],
) -> None:
    results = valid_results()
    write_results(bench_server.results_dir, results)
    page = open_as("manager")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Benchmarks").click()
    page.wait_for_url("**/desk/benchmarks")
    page.get_by_role("heading", name="Benchmarks", level=1).wait_for()
    expect(page.get_by_role("link", name="Benchmarks")).to_have_attribute("aria-current", "page")
    page.get_by_role("status").filter(has_text="2 charts drawn").wait_for(timeout=60_000)

    # A chart per benchmark, in the file's order, each drawn on its canvas.
    for benchmark in ("tiling", "serving"):
        chart = page.get_by_role("img", name=f"Coupe beside its baseline for each {benchmark}")
        assert chart.locator("canvas").evaluate(_INKED_PIXELS) > 500, benchmark
    captions = page.locator("#charts figcaption").all_inner_texts()
    assert captions == ["Benchmark: tiling", "Benchmark: serving"]

    machine = page.get_by_text("on AMD EPYC 7B13 (2 CPUs, 23.5 GB memory, Python 3.11.7)")
    expect(machine).to_be_visible()
    assert "03 Dec 2026" in machine.inner_text()

    table = page.get_by_role("table", name="Every figure")
    assert table.get_by_role("columnheader").all_inner_texts() == [
        "Benchmark",
        "Figure",
        "Unit",
        "Better",
        "Coupe",
        "Baseline",
        "Baseline is",
        "Ratio",
        "Target",
        "Runs",
        "Source file",
    ]
    assert table.locator("tbody").get_by_role("row").count() == len(results["figures"])
    tiling = _cell(table, "20000x15000 slide, wall time").all_inner_texts()
    assert tiling == [
        "tiling",
        "s",
        "lower",
        "4.2",
        "5.1",
        "libvips dzsave",
        f"1.21{TIMES} better",
        "—",
        "3",
        "tiling.md",
    ]
    throughput = _cell(table, "pre-built tiles, 20 clients, throughput").all_inner_texts()
    assert throughput[3:7] == [
        "1,934",
        "2,400",
        "nginx static files",
        f"0.81{TIMES} (the baseline is better)",
    ]
    alone = _cell(table, "pre-built tiles, 20 clients, p99").all_inner_texts()
    assert alone[4:] == ["—", "—", "no baseline", "under 20 ms: not met", "5", "serving.md"]

    # The live panel: every tile source, the tiles and jobs; a tile served shows on a refresh.
    latency = page.get_by_role("table", name="Tile latency by source (ms)")
    for source in (
        "Pre-built (from the pyramid)",
        "Rendered on the fly",
        "From the cache (rendered before)",
    ):
        expect(_cell(latency, source)).to_have_count(4)  # tiles, p50, p90, p99
    activity = page.get_by_role("table", name="Tiles and tiling jobs")
    for name in (
        "Tiling jobs finished in the last hour",
        "Tiling jobs failed in the last hour",
        "Tiling jobs queued now",
        "Tiling jobs running now",
    ):
        expect(_cell(activity, name)).to_have_count(1)
    served = _cell(activity, "Tiles served")
    before = int(served.inner_text().replace(",", ""))
    _serve_a_tile(bench_server)
    expect(served).to_have_text(f"{before + 1:,}", timeout=15_000)  # within one refresh
    expect(page.get_by_text("Live figures as of")).to_be_visible()
    page.mouse.wheel(0, 0)  # the page is in use: the refresh goes on
    assert_accessible(page, "desk-benchmarks")

    # No results: the page says how to make them; a broken file: what is wrong with it.
    (bench_server.results_dir / RESULTS_FILE_NAME).unlink()
    page.reload()
    no_results = page.get_by_role("region", name="No results to show")
    expect(no_results).to_contain_text("make bench")
    expect(no_results).to_contain_text("COUPE_BENCHMARK_RESULTS_DIR")
    expect(page.locator("#results")).to_be_hidden()
    expect(served).to_have_text(f"{before + 1:,}")  # the live figures all the same
    assert_accessible(page, "desk-benchmarks-no-results")

    broken = valid_results()
    broken["figures"][0]["ratio"] = 0.82  # the wrong way round
    broken["figures"][0]["figure"] = "<img src=x onerror=alert(1)>"  # shown as text
    write_results(bench_server.results_dir, json.dumps(broken))
    page.reload()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("ratio 0.82 is not baseline / coupe")
    expect(alert).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("main img").count() == 0
    expect(page.get_by_role("region", name="No results to show")).to_be_hidden()


def test_a_pathologist_has_the_benchmarks_in_the_header_too(
    bench_server: BenchServer, open_as: Callable[[str], Any]
) -> None:
    write_results(bench_server.results_dir, valid_results())
    page = open_as("hmc")
    navigation = page.get_by_role("navigation", name="Main")
    assert navigation.get_by_role("link").all_inner_texts() == ["My worklist", "Benchmarks"]
    page.clock.install()  # time runs on, and the test may jump it forward
    navigation.get_by_role("link", name="Benchmarks").click()
    page.get_by_role("status").filter(has_text="charts drawn").wait_for(timeout=60_000)
    expect(page.get_by_role("table", name="Every figure").locator("tbody tr")).to_have_count(3)

    # Left alone for over 10 minutes, the page stops asking (else it would keep the session
    # from idling out); one click resumes it.
    resume = page.get_by_role("button", name="Resume the live figures")
    expect(resume).to_be_hidden()
    page.clock.fast_forward("11:00")
    page.clock.run_for(REFRESH_MS)
    expect(page.get_by_text("The live figures are paused")).to_be_visible()
    updated = page.get_by_text("Live figures as of").inner_text()
    page.clock.run_for(3 * REFRESH_MS)
    assert page.get_by_text("Live figures as of").inner_text() == updated
    resume.click()
    expect(resume).to_be_hidden()
    expect(page.get_by_text("Live figures as of")).not_to_have_text(updated)
