"""Every benchmark in one run, each beside its baseline: ``make bench``.

``python -m benchmarks.run_all`` runs, one after another, each in its own process and in its
fastest honest configuration with its baselines in the same run (see benchmarks/README.md):

- tiling: 16000x12000 and 20000x15000 slides, Coupe against libvips dzsave (direct JPEG mode)
  and the codec floor, 3 rounds (``--repeats``), medians;
- serving: 20 clients, pre-built and on-the-fly tiles, 2 API processes direct and 2 and 4
  behind Caddy (and 4 sharing the local Redis as their tile cache, database 15, if it
  answers), against OpenSlide's DeepZoomGenerator server, 3 repeats, and a py-spy profile of
  one API process during a pre-built pass;
- serving_floor: the same tiles from a bare ASGI app and from Caddy's file_server, the floor
  under the serving figures (``benchmarks.serving_floor``);
- assignment: the engine's rounds, a stored round at 10,000 cases, 100,000 cases, and claims
  on PostgreSQL;
- claims_http: claims through the API on SQLite and PostgreSQL;
- viewer_timings: the case view in Chromium, on loopback and through a simulated link
  (``benchmarks.viewer_timings``: a pytest browser test).

Each writes its JSON and markdown to ``benchmarks/results/``; then ``RESULTS.json`` there and
``benchmarks/RESULTS.md`` hold every figure beside its baseline with the ratio
(``benchmarks/results_summary.py``), the machine (CPU, cores, memory, load average, Python)
and how long each benchmark took. ``--only tiling,serving`` reruns some (the others' latest
results stay in the table, with their own dates); ``--quick`` is a smoke run on small sizes
into ``.coupe/bench-quick/`` (it leaves out the viewer timings unless ``--only`` names them).
Hand-written ``## Notes`` sections of a benchmark's markdown and of RESULTS.md are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from benchmarks._machine import cpu_model
from benchmarks._proxy import ProxyUnavailable, caddy_executable
from benchmarks.assignment import LOCAL_POSTGRES
from benchmarks.results_files import results_json, results_markdown, with_kept_notes
from benchmarks.results_summary import SOURCES, collect

_BENCH_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _BENCH_DIR.parent
RESULTS_DIR = _BENCH_DIR / "results"
QUICK_DIR = _REPO_ROOT / ".coupe" / "bench-quick" / "results"
TILE_CACHE_URL = "redis://127.0.0.1:6379/15"
"""The Redis the serving benchmark's shared-cache setup uses (``COUPE_BENCH_TILE_CACHE_URL``
overrides it): a database of its own, as the benchmark deletes Coupe's tile entries in it."""
BENCHMARK_TIMEOUT_S = 1500.0
"""One benchmark stuck (a server that never answers) must not hold the whole run."""


@dataclass(frozen=True)
class Options:
    """What a benchmark's command line depends on."""

    out: Path
    repeats: int
    quick: bool
    tile_cache_url: str | None = None


def _tiling(o: Options) -> list[str]:
    sizes = "1000x800" if o.quick else "16000x12000,20000x15000"
    return [
        "benchmarks.tiling", "--sizes", sizes, "--repeats", str(1 if o.quick else o.repeats),
        "--contenders", "coupe,vips-dzsave,codec-floor", "--out", str(o.out),
    ]  # fmt: skip


def _serving(o: Options) -> list[str]:
    try:
        caddy_executable()
        proxy = ["--proxy", "caddy"]
    except ProxyUnavailable as error:
        print(f"run_all: serving without a proxy: {error}", flush=True)
        proxy = []
    shared = ["--tile-cache-url", o.tile_cache_url] if o.tile_cache_url else []
    if o.quick:
        sizes = ["--quick", "--clients", "4", "--requests", "40", "--profile", "3"]
        return ["benchmarks.serving", *sizes, "--processes", "2", *proxy, "--out", str(o.out)]
    return [
        "benchmarks.serving", "--clients", "20", "--processes", "2,4", *proxy, *shared,
        "--access-log",
        "--repeats", str(o.repeats), "--profile", "15", "--out", str(o.out),
    ]  # fmt: skip


def _serving_floor(o: Options) -> list[str]:
    # Quick: enough tiles that the CPU clock (10 ms ticks) sees the servers' share.
    size = ["--size", "8000x6000", "--requests", "1000", "--clients", "4"] if o.quick else []
    return ["benchmarks.serving_floor", *size, "--out", str(o.out)]


def _assignment(o: Options) -> list[str]:
    command = ["benchmarks.assignment", "--out", str(o.out)]
    if o.quick:
        command += [
            "--cases", "300", "--pathologists", "12", "--repeats", "1",
            "--claim-cases", "60", "--claim-clients", "4", "--claim-processes", "1",
            "--large-cases", "2000", "--large-pathologists", "40",
        ]  # fmt: skip
    return command


def _claims_http(o: Options) -> list[str]:
    return ["benchmarks.claims_http", *(["--quick"] if o.quick else []), "--out", str(o.out)]


def _viewer_timings(o: Options) -> list[str]:
    return ["benchmarks.viewer_timings", "--out", str(o.out)]


BENCHMARKS: dict[str, Callable[[Options], list[str]]] = {
    "tiling": _tiling,
    "serving": _serving,
    "serving_floor": _serving_floor,
    "assignment": _assignment,
    "claims_http": _claims_http,
    "viewer_timings": _viewer_timings,
}
"""Each benchmark's ``python -m`` arguments, in the order they run."""
SKIPPED_WHEN_QUICK = frozenset({"viewer_timings"})
_MARKDOWN = {name: markdown for name, _, markdown, _ in SOURCES} | {"serving_floor": "serving.md"}


def machine() -> dict[str, Any]:
    """The machine: what RESULTS.json's reader needs (cpu, cpus, memory_gb, python) and more."""
    model = cpu_model()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": model,
        "cpus": usable or os.cpu_count() or 1,
        "logical_cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def ensure_claims_database() -> None:
    """Create the claim benchmarks' PostgreSQL database on the local server if it is missing
    (they make and drop a schema in it per run); an unreachable server is left to them to
    report. Not done for ``COUPE_BENCH_DATABASE_URL``: that one is the caller's."""
    if os.environ.get("COUPE_BENCH_DATABASE_URL"):
        return
    url = make_url(LOCAL_POSTGRES)
    name = url.database
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                print(f"run_all: created PostgreSQL database {name} for the claim benchmarks")
    except OperationalError as error:
        print(f"run_all: no PostgreSQL for the claim benchmarks ({error.orig})", flush=True)
    finally:
        engine.dispose()


def reachable_tile_cache() -> str | None:
    """The benchmark's Redis URL if a Redis answers there (else the setup is left out)."""
    import redis

    url = os.environ.get("COUPE_BENCH_TILE_CACHE_URL") or TILE_CACHE_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        return url
    except redis.RedisError as error:
        print(f"run_all: serving without the shared tile cache setup ({error})", flush=True)
        return None
    finally:
        client.close()


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(name: str, arguments: list[str], out: Path) -> dict[str, Any]:
    """Run one benchmark (its output straight to the console); what happened."""
    markdown_path = out / _MARKDOWN[name]
    previous = markdown_path.read_text() if markdown_path.exists() else None
    command = [sys.executable, "-m", *arguments]
    load_before = _load()
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command, cwd=_REPO_ROOT, timeout=BENCHMARK_TIMEOUT_S, check=False
        )
        code = completed.returncode
    except subprocess.TimeoutExpired:
        code = -9
    elapsed_s = time.perf_counter() - started
    if markdown_path.exists():
        current = markdown_path.read_text()
        kept = with_kept_notes(previous, current)
        if kept != current:
            markdown_path.write_text(kept)
    return {
        "benchmark": name,
        "command": " ".join(["python", "-m", *arguments]).replace(str(_REPO_ROOT) + "/", ""),
        "exit_code": code,
        "elapsed_s": round(elapsed_s, 1),
        "load_average_before": load_before,
        "load_average_after": _load(),
    }


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def write_results(
    out: Path,
    results_md: Path,
    *,
    ran: Sequence[dict[str, Any]],
    about: dict[str, Any],
    total_s: float,
    load_start: list[float],
    quick: bool,
) -> list[Any]:
    """RESULTS.json in ``out`` and ``results_md``, from every benchmark's results there."""
    figures = collect(out)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    load_end = _load()
    report = results_json(
        figures, {**about, "load_average_start": load_start, "load_average_end": load_end},
        now, total_s=round(total_s, 1), quick=quick, benchmarks_run=list(ran),
    )  # fmt: skip
    (out / "RESULTS.json").write_text(json.dumps(report, indent=2) + "\n")
    link = os.path.relpath(out, results_md.parent).replace(os.sep, "/") + "/"
    how = (
        "`python -m benchmarks.run_all --quick` (a smoke run on small sizes, not results)"
        if quick
        else "`make bench` (`python -m benchmarks.run_all`)"
    )
    header = [
        "# Benchmark results",
        "",
        f"{how} finished {now[:16].replace('T', ' ')} UTC in {_minutes(total_s)} (min:s). "
        "Every figure is "
        "Coupe's median beside its baseline's median from the same run of that benchmark; "
        "**ratio** is how many times better Coupe is (above 1: better): baseline / Coupe "
        "where lower is better, Coupe / baseline where higher is better. A figure without a "
        "baseline has its target instead. How each benchmark is set up: "
        "[README.md](README.md).",
        "",
        f"Machine: {about['cpu']}, {about['cpus']} usable of {about['logical_cpus']} logical "
        f"CPUs, {about['memory_gb']} GB memory, Python {about['python']} ({about['platform']}). "
        f"Load average (1, 5, 15 min) at the start {', '.join(map(str, load_start))}, at the "
        f"end {', '.join(map(str, load_end))}: the machine is shared, and other work on it "
        "slows every contender (the ratios are within a run).",
        "",
        "| benchmark | command | exit | took (min:s) | load before | load after |",
        "|---|---|---:|---:|---|---|",
        *(
            f"| {r['benchmark']} | `{r['command']}` | {r['exit_code']} | "
            f"{_minutes(r['elapsed_s'])} | {', '.join(map(str, r['load_average_before']))} | "
            f"{', '.join(map(str, r['load_average_after']))} |"
            for r in ran
        ),
    ]
    previous = results_md.read_text() if results_md.exists() else None
    text = results_markdown(figures, about, header, link)
    results_md.write_text(with_kept_notes(previous, text))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; write RESULTS.json and RESULTS.md. 1 if any benchmark failed."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--only", help=f"comma-separated benchmarks to run, of {','.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run on small sizes")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (medians)")
    parser.add_argument(
        "--out", type=Path, help=f"results folder (default {RESULTS_DIR.relative_to(_REPO_ROOT)}"
        f"; with --quick {QUICK_DIR.relative_to(_REPO_ROOT)}); RESULTS.md goes beside it",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = list(BENCHMARKS)
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(names) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    elif args.quick:
        names = [name for name in names if name not in SKIPPED_WHEN_QUICK]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    out: Path = (args.out or (QUICK_DIR if args.quick else RESULTS_DIR)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tile_cache = reachable_tile_cache() if "serving" in names and not args.quick else None
    options = Options(out=out, repeats=args.repeats, quick=args.quick, tile_cache_url=tile_cache)
    about = machine()
    if {"assignment", "claims_http"} & set(names):
        ensure_claims_database()
    load_start = _load()
    print(
        f"run_all: {', '.join(names)} into {out}; {about['cpu']}, {about['cpus']} CPUs, "
        f"load {', '.join(map(str, load_start))}",
        flush=True,
    )
    started = time.perf_counter()
    ran = []
    for number, name in enumerate(names, start=1):
        at = _minutes(time.perf_counter() - started)
        print(f"\n=== [{number}/{len(names)}] {name} (run_all at {at})", flush=True)
        result = run_one(name, BENCHMARKS[name](options), out)
        ran.append(result)
        print(
            f"=== {name}: exit {result['exit_code']} in {_minutes(result['elapsed_s'])} "
            f"(run_all at {_minutes(time.perf_counter() - started)})",
            flush=True,
        )
    total_s = time.perf_counter() - started
    results_md = out.parent / "RESULTS.md"
    figures = write_results(
        out, results_md, ran=ran, about=about, total_s=total_s, load_start=load_start,
        quick=args.quick,
    )  # fmt: skip
    print(f"\nwrote {out / 'RESULTS.json'} and {results_md}: {len(figures)} figures in "
          f"{_minutes(total_s)}")  # fmt: skip
    failed = [r["benchmark"] for r in ran if r["exit_code"] != 0]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
