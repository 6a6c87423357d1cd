"""Benchmark: Deep Zoom tiling of one Aperio SVS by Coupe, OpenSlide, libvips and the codec floor.

Run ``python -m benchmarks.tiling`` (``--quick`` for a smoke run on 4000x3000). Every contender
runs in its own subprocess on the same generated slide (``ensure_synthetic_slide``) with tile
254, overlap 1, JPEG quality 75 and two workers; we measure wall time and the peak of the summed
RSS of the contender's whole process tree, sampled every 50 ms. Each output is checked against
the tile count of OpenSlide's ``DeepZoomGenerator``. Results: ``tiling-<date>.json`` (every raw
timing) and ``tiling.md`` (medians) in ``--out``.

Every run writes into a folder of its own, and all of them are deleted only at the end
(``--work-dir`` needs room for them: about 3 GB with the 50000x40000 slide). ext4 skips, reading
each, the inodes freed in the last minutes when it creates a file: a run that creates its
thousands of tile files right after the previous run deleted as many pays about a second more
kernel time, every tile-writing contender alike, which buried the differences measured here
(16000x12000: Coupe 1.65 s and vips 1.9 s into fresh folders, 3.0 s and 3.3 s after a
deletion). For the same reason a benchmark started within minutes of another's end measures
its first runs slow.

Summed RSS counts pages shared between a parent and its forked workers once per process, so it
overstates the pool contenders somewhat; it is what the operating system must be able to back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tiling.samples import ensure_synthetic_slide

TILE_SIZE_PX = 254
OVERLAP_PX = 1
QUALITY = 75
WORKERS = 2
SAMPLE_INTERVAL_S = 0.05
DEFAULT_SIZES = "20000x15000,50000x40000"
QUICK_SIZE = "4000x3000"
CONTENDERS = ("coupe", "openslide-deepzoom", "vips-dzsave", "vips-dzsave-suffix", "codec-floor")
# The speed ratio is against vips in its direct JPEG mode (its fastest); see
# _vips_dzsave_baseline.py for why the suffix mode is slower and only a labelled extra row.
REFERENCE = "vips-dzsave"
# Rough cost per output tile on two cores, for warning before a long run.
_ESTIMATED_S_PER_TILE = {
    "coupe": 0.001,
    "openslide-deepzoom": 0.005,
    "vips-dzsave": 0.0008,
    "vips-dzsave-suffix": 0.0013,
    "codec-floor": 0.0006,
}
_LONG_RUN_S = 600.0
_BENCH_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _BENCH_DIR.parent


@dataclass
class Run:
    """One timed run of one contender."""

    wall_s: float
    peak_rss_mb: float
    tiles: int
    ok: bool
    error: str | None = None
    stdout: str = ""
    # Other work on the machine skews timings; the 1-minute load average says how much.
    load_avg_1m_before: float = 0.0
    # User + system CPU seconds of the whole process tree: steadier than wall time under load.
    cpu_s: float = 0.0


@dataclass
class Result:
    """All runs of one contender on one slide, and their medians."""

    contender: str
    slide: str
    width_px: int
    height_px: int
    expected_tiles: int
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    slide_path: str = ""

    @property
    def ok_runs(self) -> list[Run]:
        return [run for run in self.runs if run.ok]

    @property
    def error(self) -> str | None:
        failed = [run.error for run in self.runs if not run.ok]
        return failed[0] if failed else None

    @property
    def median_s(self) -> float | None:
        runs = self.ok_runs
        return statistics.median(run.wall_s for run in runs) if runs else None

    @property
    def median_cpu_s(self) -> float | None:
        runs = self.ok_runs
        return statistics.median(run.cpu_s for run in runs) if runs else None

    @property
    def peak_rss_mb(self) -> float | None:
        runs = self.ok_runs
        return max(run.peak_rss_mb for run in runs) if runs else None

    def as_json(self) -> dict[str, object]:
        median = self.median_s
        return {
            **{k: v for k, v in asdict(self).items() if k != "runs"},
            "runs": [asdict(run) for run in self.runs],
            "median_s": median,
            "tiles_per_s": self.expected_tiles / median if median else None,
            "median_cpu_s": self.median_cpu_s,
            "peak_rss_mb": self.peak_rss_mb,
            "error": self.error,
        }


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"20000x15000,50000x40000"`` -> ``[(20000, 15000), (50000, 40000)]``."""
    sizes = []
    for item in text.split(","):
        width, _, height = item.strip().lower().partition("x")
        sizes.append((int(width), int(height)))
    return sizes


def expected_tile_count(slide: Path) -> int:
    """Tiles in the slide's Deep Zoom pyramid, as OpenSlide's DeepZoomGenerator counts them."""
    import openslide
    from openslide.deepzoom import DeepZoomGenerator

    with openslide.OpenSlide(slide) as opened:
        return int(DeepZoomGenerator(opened, TILE_SIZE_PX, OVERLAP_PX).tile_count)


def count_dzi_tiles(out_dir: Path) -> int:
    """JPEG tiles under every ``*_files`` folder of ``out_dir``."""
    return sum(
        1
        for files_dir in out_dir.glob("*_files")
        for path in files_dir.rglob("*")
        if path.suffix in {".jpeg", ".jpg"}
    )


def _tree_rss_bytes(process: psutil.Process) -> int:
    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_measured(
    command: Sequence[str], *, env: dict[str, str], timeout_s: float
) -> tuple[float, float, float, subprocess.CompletedProcess[str]]:
    """Run ``command``; return (wall s, peak summed RSS MB of its process tree, CPU s of the
    tree (user + system, from the children's resource usage), result)."""
    peak = 0
    done = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=_REPO_ROOT,
        start_new_session=True,
    )
    watched = psutil.Process(proc.pid)

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_bytes(watched))
            done.wait(SAMPLE_INTERVAL_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        stdout, stderr = proc.communicate()
        stderr += f"\ntimed out after {timeout_s:.0f} s"
        proc.returncode = -9
    wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done.set()
    sampler.join()
    result = subprocess.CompletedProcess(list(command), proc.returncode, stdout, stderr)
    return wall_s, peak / 2**20, cpu_s, result


def _coupe_executable() -> str:
    local = Path(sys.executable).parent / "coupe"
    return str(local) if local.exists() else "coupe"


def contender_command(name: str, slide: Path, out_dir: Path, expected_tiles: int) -> list[str]:
    """The command line that runs contender ``name`` on ``slide`` into ``out_dir``."""
    python = sys.executable
    common = ["--tile-size", str(TILE_SIZE_PX), "--overlap", str(OVERLAP_PX)]
    if name == "coupe":
        return [
            _coupe_executable(), "tile", str(slide), str(out_dir),
            *common, "--quality", str(QUALITY), "--workers", str(WORKERS),
        ]  # fmt: skip
    if name == "openslide-deepzoom":
        script = _BENCH_DIR / "_deepzoom_tile_baseline.py"
        return [
            python, str(script), str(slide), str(out_dir),
            *common, "--quality", str(QUALITY), "--workers", str(WORKERS),
        ]  # fmt: skip
    if name in {"vips-dzsave", "vips-dzsave-suffix"}:
        script = _BENCH_DIR / "_vips_dzsave_baseline.py"
        mode = "suffix" if name.endswith("-suffix") else "direct"
        return [
            python, str(script), str(slide), str(out_dir),
            *common, "--quality", str(QUALITY), "--mode", mode,
        ]  # fmt: skip
    if name == "codec-floor":
        script = _BENCH_DIR / "_codec_floor.py"
        return [
            python, str(script), str(slide), "--encode-tiles", str(expected_tiles),
            "--tile-px", str(TILE_SIZE_PX + 2 * OVERLAP_PX), "--quality", str(QUALITY),
            "--threads", str(WORKERS),
        ]  # fmt: skip
    raise ValueError(f"unknown contender {name!r}; known: {', '.join(CONTENDERS)}")


def _contender_env() -> dict[str, str]:
    env = dict(os.environ)
    env["VIPS_CONCURRENCY"] = str(WORKERS)  # libvips: as many threads as the others' workers
    # An installed Coupe runs from compiled bytecode; a shell that forbids writing it would make
    # every run of the Python contenders recompile their modules, which no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _tiles_written(name: str, out_dir: Path, stdout: str) -> int:
    if name != "codec-floor":
        return count_dzi_tiles(out_dir)
    lines = stdout.strip().splitlines()
    return int(json.loads(lines[-1])["encoded"]) if lines else 0


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def run_contender_once(
    result: Result,
    *,
    work_dir: Path,
    timeout_s: float,
    log: Callable[[str], None],
    label: str,
) -> None:
    """Time one run of ``result.contender`` into a fresh folder under ``work_dir``, kept until
    the slide's rounds are done (:func:`clear_outputs`)."""
    name = result.contender
    slide = Path(result.slide_path)
    out_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir=work_dir))
    command = contender_command(name, slide, out_dir, result.expected_tiles)
    result.command = command
    load_before = os.getloadavg()[0]
    try:
        wall_s, peak_mb, cpu_s, completed = run_measured(
            command, env=_contender_env(), timeout_s=timeout_s
        )
    except OSError as exc:
        result.runs.append(Run(0.0, 0.0, 0, ok=False, error=f"cannot run: {exc}"))
        log(f"  {name}: cannot run: {exc}")
        return
    tiles = _tiles_written(name, out_dir, completed.stdout) if not completed.returncode else 0
    error = None
    if completed.returncode:
        error = f"exit {completed.returncode}: {_tail(completed.stderr)}"
    elif tiles != result.expected_tiles:
        error = f"wrote {tiles} tiles, the DZI geometry has {result.expected_tiles}"
    result.runs.append(
        Run(
            wall_s,
            peak_mb,
            tiles,
            error is None,
            error,
            completed.stdout.strip(),
            load_before,
            cpu_s=cpu_s,
        )
    )
    log(
        f"  {name} {label}: {wall_s:.2f} s (CPU {cpu_s:.2f} s), peak {peak_mb:.0f} MB, "
        f"{tiles} tiles, load {load_before:.1f}" + (f" -- ERROR {error}" if error else "")
    )


def _read_proc(path: str, key: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def environment() -> dict[str, object]:
    """Versions of what is measured and the machine it runs on."""
    import imagecodecs
    import numpy
    import openslide
    import pyvips
    import tifffile

    mem_kb = _read_proc("/proc/meminfo", "MemTotal")
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "tifffile": tifffile.__version__,
        "imagecodecs": imagecodecs.__version__,
        "openslide_python": openslide.__version__,
        "openslide": openslide.__library_version__,
        "pyvips": pyvips.__version__,
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "machine": {
            "cpu_model": _read_proc("/proc/cpuinfo", "model name") or platform.processor(),
            "logical_cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)),
            "ram_gb": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
            "platform": platform.platform(),
        },
    }


def render_markdown(results: Sequence[Result], env: dict[str, object], date: str) -> str:
    """The results as a markdown table of medians, with the machine underneath."""
    vips = {r.slide: r.median_s for r in results if r.contender == REFERENCE}
    lines = [
        f"# Deep Zoom tiling benchmark ({date})",
        "",
        f"Tile {TILE_SIZE_PX}, overlap {OVERLAP_PX}, JPEG Q{QUALITY}, {WORKERS} workers. "
        "Wall time includes interpreter start-up; peak MB is the summed RSS of the "
        "process tree. Load averages per run are in the JSON: other work on the machine "
        "inflates every timing.",
        "",
        "Speed vs vips is against `vips-dzsave`, libvips in its direct JPEG mode (no `suffix`, "
        "its fastest); `vips-dzsave-suffix` is the slower per-tile `suffix='.jpeg'` save path, "
        "shown for comparison only.",
        "",
        "| contender | slide | tiles | median s | tiles/s | speed vs vips | CPU s | peak MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        median = r.median_s
        if median is None:
            lines.append(
                f"| {r.contender} | {r.width_px}x{r.height_px} | {r.expected_tiles} | "
                f"error: {(r.error or '').replace('|', '/')} | | | | |"
            )
            continue
        vips_s = vips.get(r.slide)
        # Speed relative to vips dzsave in direct mode: above 1.00 is faster than libvips.
        ratio = f"{vips_s / median:.2f}x" if vips_s else "n/a"
        lines.append(
            f"| {r.contender} | {r.width_px}x{r.height_px} | {r.expected_tiles} | "
            f"{median:.2f} | {r.expected_tiles / median:.0f} | {ratio} | "
            f"{r.median_cpu_s or 0.0:.2f} | {r.peak_rss_mb:.0f} |"
        )
    machine = env["machine"]
    assert isinstance(machine, dict)
    lines += [
        "",
        f"Machine: {machine['cpu_model']}, {machine['usable_cores']} usable of "
        f"{machine['logical_cores']} logical cores, {machine['ram_gb']} GB RAM.  ",
        f"libvips {env['libvips']}, OpenSlide {env['openslide']} "
        f"(openslide-python {env['openslide_python']}), Python {env['python']}, "
        f"numpy {env['numpy']}, imagecodecs {env['imagecodecs']}.",
        "",
    ]
    return "\n".join(lines)


def _warn_if_long(
    sizes: Sequence[tuple[int, int]], contenders: Sequence[str], repeats: int
) -> None:
    # ~ (w * h / 254^2) * 4/3 tiles for a full pyramid
    estimate_s = sum(
        (w * h / TILE_SIZE_PX**2) * 4 / 3 * _ESTIMATED_S_PER_TILE[name] * repeats
        for w, h in sizes
        for name in contenders
    )
    if estimate_s > _LONG_RUN_S:
        print(
            f"warning: this run may take about {estimate_s / 60:.0f} minutes "
            "(use --repeats 1, --contenders or --quick for less)",
            file=sys.stderr,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m benchmarks.tiling``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tiling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", help=f"slide sizes, default {DEFAULT_SIZES}")
    parser.add_argument("--repeats", type=int, default=3, help="runs per contender (median)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run on {QUICK_SIZE}")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    parser.add_argument("--cache-dir", type=Path, help="where generated slides are cached")
    parser.add_argument("--timeout", type=float, default=1800.0, help="per-run limit, seconds")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(".coupe/bench-work"),
        help="where contenders write their pyramids (all kept until the benchmark ends); on "
        "this machine /tmp creates files 20x slower than the repository's disk, which would "
        "swamp the differences being measured",
    )
    args = parser.parse_args(argv)
    work_dir: Path = args.work_dir
    work_dir.mkdir(parents=True, exist_ok=True)

    sizes = parse_sizes(args.sizes or (QUICK_SIZE if args.quick else DEFAULT_SIZES))
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; known: {', '.join(CONTENDERS)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    _warn_if_long(sizes, contenders, args.repeats)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: list[Result] = []
    slides: dict[str, dict[str, object]] = {}
    # Every run's output stays until the end (see the module docstring), under one folder.
    run_dir = Path(tempfile.mkdtemp(prefix="tiling-", dir=work_dir))
    try:
        for width_px, height_px in sizes:
            started = time.perf_counter()
            slide = ensure_synthetic_slide("aperio-svs", width_px, height_px, args.cache_dir)
            expected = expected_tile_count(slide)
            slides[slide.name] = {
                "path": str(slide),
                "bytes": slide.stat().st_size,
                "ready_s": round(time.perf_counter() - started, 3),
                "expected_tiles": expected,
            }
            log(f"{slide.name}: {expected} Deep Zoom tiles")
            round_results = [
                Result(name, slide.name, width_px, height_px, expected, [], slide_path=str(slide))
                for name in contenders
            ]
            # Round-robin, not all runs of one contender in a row: a change in the machine's
            # load then hits every contender alike, and the ratios stay fair. Each round
            # starts with the next contender, so none always runs first after the slide's
            # generation or a previous benchmark's deletions.
            for repeat in range(args.repeats):
                first = repeat % len(round_results)
                for result in round_results[first:] + round_results[:first]:
                    if result.error is not None:
                        continue
                    run_contender_once(
                        result,
                        work_dir=run_dir,
                        timeout_s=args.timeout,
                        log=log,
                        label=f"run {repeat + 1}/{args.repeats}",
                    )
            results.extend(round_results)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)

    env = environment()
    now = dt.datetime.now(dt.UTC)
    date = now.strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "tiling",
        "started_utc": now.isoformat(timespec="seconds"),
        "settings": {
            "tile_size_px": TILE_SIZE_PX,
            "overlap_px": OVERLAP_PX,
            "quality": QUALITY,
            "workers": WORKERS,
            "repeats": args.repeats,
            "rss_sample_interval_s": SAMPLE_INTERVAL_S,
            "vips_dzsave_options": "tiffload(access='sequential').dzsave(tile_size=254, "
            "overlap=1, Q=75, depth='onepixel', keep='none'), VIPS_CONCURRENCY=2; "
            "vips-dzsave-suffix adds suffix='.jpeg'",
        },
        "environment": env,
        "slides": slides,
        "results": [r.as_json() for r in results],
    }
    json_path = args.out / f"tiling-{date}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path = args.out / "tiling.md"
    md_path.write_text(render_markdown(results, env, date))
    log(f"wrote {json_path} and {md_path}")
    print(md_path.read_text())
    return 0 if all(r.error is None for r in results if r.contender != "coupe") else 1


if __name__ == "__main__":
    raise SystemExit(main())
