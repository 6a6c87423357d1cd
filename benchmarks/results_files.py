"""``RESULTS.json`` and ``RESULTS.md`` from the figures (:mod:`benchmarks.results_summary`),
and the hand-written notes of a markdown file kept when a benchmark rewrites it.

The contract with the Benchmarks page (``services/benchmark_results.py`` reads the JSON):
``generated_at``, ``machine`` (cpu, cpus, memory_gb in 10^9 bytes, python) and ``figures``
(benchmark, figure, unit, better, coupe, baseline, baseline_name, ratio, runs, source); the
other keys are extra detail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from benchmarks.results_summary import Figure


def results_json(
    figures: Sequence[Figure], machine: dict[str, Any], generated_at: str, **extra: Any
) -> dict[str, Any]:
    """``RESULTS.json``'s content."""
    return {"generated_at": generated_at, "machine": machine, **extra,
            "figures": [asdict(f) for f in figures]}  # fmt: skip


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:,.4g} {unit}" if abs(value) < 10_000 else f"{value:,.0f} {unit}"


def results_markdown(
    figures: Sequence[Figure], machine: dict[str, Any], header: Sequence[str], link_prefix: str
) -> str:
    """``RESULTS.md``: ``header`` lines, then one table of every figure."""
    lines = [
        *header,
        "",
        "| benchmark | figure | Coupe | baseline | baseline is | ratio | runs | target | "
        "measured | detail |",
        "|---|---|---:|---:|---|---:|---:|---|---|---|",
    ]
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        target = ""
        if f.target is not None:
            sign = "<" if f.better == "lower" else ">"
            target = f"{sign} {f.target:g}: {'met' if f.met else 'missed'}"
        measured = (f.measured_at or "")[:16].replace("T", " ")
        lines.append(
            f"| {f.benchmark} | {f.figure} | {_value(f.coupe, f.unit)} | "
            f"{_value(f.baseline, f.unit)} | {f.baseline_name or ''} | {ratio} | {f.runs} | "
            f"{target} | {measured} | [{f.source}]({link_prefix}{f.source}) |"
        )
    return "\n".join(lines) + "\n"


def with_kept_notes(previous: str | None, markdown: str) -> str:
    """``markdown``, plus the ``## Notes`` sections of ``previous`` (the file it replaces)
    that it does not have: a benchmark rewrites its markdown on every run, and the notes
    written by hand under it (profiles, what each change did) would be lost with it."""
    if not previous:
        return markdown
    headings = set(markdown.splitlines())
    kept = [
        block
        for block in _sections(previous)
        if block[0].startswith("## Notes") and block[0] not in headings
    ]
    if not kept:
        return markdown
    return markdown.rstrip("\n") + "\n\n" + "\n".join(line for b in kept for line in b) + "\n"


def _sections(text: str) -> Iterator[list[str]]:
    block: list[str] | None = None
    for line in text.rstrip("\n").splitlines():
        if line.startswith("## ") or line.startswith("# "):
            if block:
                yield block
            block = [line]
        elif block is not None:
            block.append(line)
    if block:
        yield block
