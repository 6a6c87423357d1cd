"""Benchmark: is this working tree slower than an earlier revision? Both in the same run.

Run ``python -m benchmarks.before_after --base REV`` from the repository root. The earlier
revision is checked out as a git worktree under ``--work-dir`` (kept for the next run) and
both trees run from this virtual environment, the tree chosen by ``PYTHONPATH``, so only the
code differs. Rounds alternate which tree goes first, and figures are medians of the rounds:

- tiling: ``coupe tile`` (tile 254, overlap 1, Q75, two workers) on generated Aperio SVS slides
  of ``--sizes``, wall time of the whole command (start-up included), into a fresh folder,
  after one untimed warm-up run per slide;
- serving (``--serving``): ``benchmarks.serving`` as each tree has it, p99 and tiles/s of every
  scenario.

The figure that matters is the ratio head / base (below 1 is faster). Results: ``--out``
``before-after.json`` and ``before-after.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tiling.samples import ensure_synthetic_slide

_REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = "16000x12000,20000x15000"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=_REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def base_tree(rev: str, work_dir: Path) -> Path:
    """A checkout of ``rev`` (a git worktree), made once and reused."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tree = work_dir / f"base-{commit[:12]}"
    if not (tree / "tiling").is_dir():
        work_dir.mkdir(parents=True, exist_ok=True)
        _git("worktree", "add", "--detach", str(tree), commit)
    return tree


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def time_tiling(tree: Path, slide: Path, out_dir: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one ``coupe tile`` of ``slide`` by ``tree``.

    CPU time is the steadier figure on a shared machine: other work delays a run's wall time
    far more than it changes the work the run does.
    """
    shutil.rmtree(out_dir, ignore_errors=True)
    command = [sys.executable, "-c", "from services.cli import main; main()", "tile"]
    command += [str(slide), str(out_dir), "--workers", "2"]
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    subprocess.run(command, env=_env(tree), check=True, capture_output=True, cwd=tree)
    elapsed = time.perf_counter() - started
    cpu_s = _children_cpu_s() - cpu_before
    shutil.rmtree(out_dir, ignore_errors=True)
    return elapsed, cpu_s


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_serving(tree: Path, out_dir: Path) -> dict[str, dict[str, float]]:
    """``benchmarks.serving`` as ``tree`` has it: p99 and tiles/s per (scenario, server)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "benchmarks.serving", "--out", str(out_dir)]
    subprocess.run(command, env=_env(tree), check=True, capture_output=True, cwd=tree)
    report = json.loads((out_dir / "serving.json").read_text())
    return {
        f"{p['scenario']} ({p['server']})": {
            "p99_ms": p["p99_ms"],
            "tiles_per_s": p["tiles_per_s"],
        }
        for p in report["passes"]
    }


def _median_table(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    keys = rounds[0].keys()
    return {
        key: {
            metric: statistics.median(r[key][metric] for r in rounds if key in r)
            for metric in rounds[0][key]
        }
        for key in keys
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; print and write the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the earlier revision (commit, tag)")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="tiling slide sizes WxH,...")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per tree (median)")
    parser.add_argument("--serving", action="store_true", help="also run benchmarks.serving")
    parser.add_argument("--serving-rounds", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path(".coupe/bench-work"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    work_dir = args.work_dir.resolve()
    trees = {"base": base_tree(args.base, work_dir), "head": _REPO_ROOT}
    report: dict[str, Any] = {
        "benchmark": "before-after",
        "base": _git("rev-parse", args.base),
        "head": _git("rev-parse", "HEAD"),
        "head_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "tiling": {},
        "serving": {},
    }
    for size in filter(None, args.sizes.split(",")):  # --sizes "": serving only
        width, height = (int(v) for v in size.lower().split("x"))
        slide = ensure_synthetic_slide("aperio-svs", width, height)
        # One untimed run first: neither tree pays for reading the slide into the page cache.
        time_tiling(trees["head"], slide, work_dir / "before-after-warm-up")
        times: dict[str, list[float]] = {name: [] for name in trees}
        cpu_times: dict[str, list[float]] = {name: [] for name in trees}
        for round_index in range(args.rounds):
            order = list(trees) if round_index % 2 == 0 else list(reversed(trees))
            for name in order:
                out = work_dir / f"before-after-{name}"
                wall_s, cpu_s = time_tiling(trees[name], slide, out)
                times[name].append(wall_s)
                cpu_times[name].append(cpu_s)
        medians = {name: statistics.median(values) for name, values in times.items()}
        cpu_medians = {name: statistics.median(values) for name, values in cpu_times.items()}
        report["tiling"][size] = {
            "runs_s": times,
            "cpu_runs_s": cpu_times,
            "median_s": medians,
            "cpu_median_s": cpu_medians,
            "ratio_head_to_base": medians["head"] / medians["base"],
            "cpu_ratio_head_to_base": cpu_medians["head"] / cpu_medians["base"],
        }
        ratio = medians["head"] / medians["base"]
        print(
            f"tiling {size}: base {medians['base']:.2f} s, "
            f"head {medians['head']:.2f} s ({ratio:.3f}); CPU "
            f"{cpu_medians['base']:.2f} -> {cpu_medians['head']:.2f} s "
            f"({cpu_medians['head'] / cpu_medians['base']:.3f})"
        )
    if args.serving:
        rounds: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
        for round_index in range(args.serving_rounds):
            order = list(trees) if round_index % 2 == 0 else list(reversed(trees))
            for name in order:
                out = work_dir / f"before-after-serving-{name}-{round_index}"
                rounds[name].append(run_serving(trees[name], out))
        medians_by_tree = {name: _median_table(r) for name, r in rounds.items()}
        for scenario, head in medians_by_tree["head"].items():
            base = medians_by_tree["base"].get(scenario)
            if base is None:
                continue
            report["serving"][scenario] = {
                "base": base,
                "head": head,
                "p99_ratio_head_to_base": head["p99_ms"] / base["p99_ms"],
            }
            ratio = head["p99_ms"] / base["p99_ms"]
            print(
                f"serving {scenario}: p99 {base['p99_ms']:.1f} -> "
                f"{head['p99_ms']:.1f} ms ({ratio:.3f})"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "before-after.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "before-after.md").write_text(markdown(report))
    print(f"wrote {args.out / 'before-after.json'} and {args.out / 'before-after.md'}")
    return 0


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table (medians, ratio head/base; below 1 is faster)."""
    lines = [
        f"# Before and after: {report['base'][:12]} -> {report['head'][:12]}"
        + (" (+ uncommitted changes)" if report["head_dirty"] else ""),
        "",
        "| what | base | head | head / base |",
        "|---|---:|---:|---:|",
    ]
    for size, row in report["tiling"].items():
        for label, key in (("wall", "median_s"), ("CPU", "cpu_median_s")):
            if key not in row:
                continue
            base_s, head_s = row[key]["base"], row[key]["head"]
            lines.append(
                f"| tiling {size}, {label} s | {base_s:.2f} | {head_s:.2f} | "
                f"{head_s / base_s:.3f} |"
            )
    for scenario, row in report["serving"].items():
        base_ms, head_ms = row["base"]["p99_ms"], row["head"]["p99_ms"]
        lines.append(
            f"| serving p99 {scenario}, ms | {base_ms:.1f} | {head_ms:.1f} | "
            f"{head_ms / base_ms:.3f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
