"""Benchmark: one assignment-engine round over a synthetic region of the six departments.

    python -m benchmarks.assignment [--cases 10000] [--pathologists 200] [--repeats 5]

Builds a seeded synthetic snapshot (10,000 open cases, 200 pathologists), times full proposal
rounds (median of ``--repeats``) and writes ``benchmarks/results/assignment.json`` and
``benchmarks/results/assignment.md``. Target: a round in well under one second.

Two scenarios: ``steady`` (55% of the open cases already have a primary pathologist, the usual
state of the worklist) and ``backlog`` (none has: the worst case, every case is placed or refused
with a reason). The PostgreSQL claim-throughput benchmark belongs in the same result files: add
a function returning a :class:`Section` to ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worklist.engine import plan_assignments
from worklist.engine.synthetic import SyntheticRegion, synthetic_snapshot

RESULTS = Path(__file__).parent / "results"
TARGET_S = 1.0


@dataclass
class Section:
    """One part of the results: JSON data and the markdown that presents it."""

    name: str
    data: dict[str, Any]
    markdown: list[str] = field(default_factory=list)


def machine() -> dict[str, Any]:
    """CPU model, core count, Python: enough to compare runs."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def time_round(region: SyntheticRegion, repeats: int) -> dict[str, Any]:
    """Build the snapshot once, then time ``repeats`` full rounds on it."""
    started = time.perf_counter()
    snapshot = synthetic_snapshot(region)
    build_s = time.perf_counter() - started
    timings_s = []
    plan = plan_assignments(snapshot)  # warm-up; also the plan reported below
    for _ in range(repeats):
        started = time.perf_counter()
        again = plan_assignments(snapshot)
        timings_s.append(time.perf_counter() - started)
        assert again == plan, "the engine must be deterministic"
    needing = sum(1 for c in snapshot.cases if c.primary_pathologist_id is None)
    return {
        "cases": region.cases,
        "pathologists": region.pathologists,
        "cases_needing_a_primary": needing,
        "snapshot_build_s": round(build_s, 4),
        "round_median_s": round(statistics.median(timings_s), 4),
        "round_min_s": round(min(timings_s), 4),
        "round_max_s": round(max(timings_s), 4),
        "repeats": repeats,
        "proposals": len(plan.proposals),
        "unplaced": len(plan.unplaced),
        "proposals_by_rule": dict(sorted(Counter(p.rule.value for p in plan.proposals).items())),
    }


def engine_section(cases: int, pathologists: int, repeats: int) -> Section:
    """The engine's round time in the two scenarios."""
    scenarios = {
        "steady": SyntheticRegion(cases=cases, pathologists=pathologists),
        "backlog": SyntheticRegion(cases=cases, pathologists=pathologists, assigned_share=0.0),
    }
    data = {name: time_round(region, repeats) for name, region in scenarios.items()}
    worst = max(d["round_median_s"] for d in data.values())
    lines = [
        "## Assignment engine: one proposal round",
        "",
        f"Synthetic region (seed {SyntheticRegion().seed}): {cases:,} open cases, "
        f"{pathologists} pathologists in six departments; median of {repeats} rounds. "
        f"Target < {TARGET_S:.0f} s: **{'met' if worst < TARGET_S else 'NOT met'}**.",
        "",
        "| scenario | cases needing a primary | round median (s) | min (s) | max (s) "
        "| proposals | unplaced |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, d in data.items():
        lines.append(
            f"| {name} | {d['cases_needing_a_primary']:,} | {d['round_median_s']:.3f} "
            f"| {d['round_min_s']:.3f} | {d['round_max_s']:.3f} | {d['proposals']:,} "
            f"| {d['unplaced']:,} |"
        )
    lines += ["", "Proposals by rule:", ""]
    for name, d in data.items():
        rules = ", ".join(f"{rule} {n:,}" for rule, n in d["proposals_by_rule"].items())
        lines.append(f"- {name}: {rules}")
    return Section(
        "engine", {"target_s": TARGET_S, "met": worst < TARGET_S, "scenarios": data}, lines
    )


def engine(args: argparse.Namespace) -> Section:
    """The engine section with the command line's sizes."""
    return engine_section(args.cases, args.pathologists, args.repeats)


SECTIONS: list[Callable[[argparse.Namespace], Section]] = [engine]
"""Each builds one section of the results from the parsed command line."""


def write(sections: list[Section], out: Path) -> tuple[Path, Path]:
    """Write the JSON and markdown results (atomically: temporary file, then rename)."""
    out.mkdir(parents=True, exist_ok=True)
    about = machine()
    report = {
        "benchmark": "assignment",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": about,
        **{s.name: s.data for s in sections},
    }
    lines = [
        "# Assignment benchmark",
        "",
        f"Machine: {about['cpu_model']}, {about['cpu_cores']} cores, Python {about['python']}.",
        "",
    ]
    for section in sections:
        lines += [*section.markdown, ""]
    paths = out / "assignment.json", out / "assignment.md"
    texts = json.dumps(report, indent=2) + "\n", "\n".join(lines)
    for path, text in zip(paths, texts, strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Run every section and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--pathologists", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sections = [run(args) for run in SECTIONS]
    for path in write(sections, args.out):
        print(path)
    print("\n".join(sections[0].markdown))


if __name__ == "__main__":
    main()
