"""The serving benchmark's report: medians per setup and scenario, the targets, the markdown.

Split from :mod:`benchmarks.serving` (which measures); ``TARGETS``, ``summarize`` and
``markdown`` are imported from there too.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmarks._profile import profile_markdown

TARGETS = {
    "prebuilt_p99_ms": 20.0,
    "prebuilt_tiles_per_s": 2000.0,
    "rendered_uncached_p99_ms": 100.0,
}
"""Issue 13's targets at 20 clients: pre-built p99 < 20 ms and > 2,000 tiles/s, on the fly
uncached p99 < 100 ms."""


_MEDIAN_KEYS = (
    "p50_ms", "p90_ms", "p99_ms", "max_ms", "tiles_per_s",
    "server_cpu_ms_per_tile", "proxy_cpu_ms_per_tile", "client_cpu_ms_per_tile",
)  # fmt: skip


def summarize(passes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per setup and scenario, the median of each figure over the repeats."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for one in passes:
        groups.setdefault((one["setup"], one["scenario"], one["server"]), []).append(one)
    rows = []
    for (setup, scenario, server), items in groups.items():
        row: dict[str, Any] = {"setup": setup, "scenario": scenario, "server": server}
        row["runs"] = len(items)
        row["errors"] = sum(item["errors"] for item in items)
        for key in _MEDIAN_KEYS:
            values = [item[key] for item in items if item.get(key) is not None]
            row[key] = round(statistics.median(values), 3) if values else None
        rows.append(row)
    return rows


def targets_met(summary: Sequence[dict[str, Any]], setup: str) -> dict[str, bool]:
    """Which of :data:`TARGETS` ``setup`` met (its medians)."""
    rows = {row["scenario"]: row for row in summary if row["setup"] == setup}
    prebuilt, uncached = rows["pre-built, first request"], rows["on the fly, uncached"]
    return {
        "prebuilt_p99_ms": prebuilt["p99_ms"] < TARGETS["prebuilt_p99_ms"],
        "prebuilt_tiles_per_s": prebuilt["tiles_per_s"] > TARGETS["prebuilt_tiles_per_s"],
        "rendered_uncached_p99_ms": uncached["p99_ms"] < TARGETS["rendered_uncached_p99_ms"],
    }


def _cell(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown: the medians per setup, the targets, the profile."""
    slide, info, met = report["slide"], report["machine"], report["met_by_setup"]
    lines = [
        f"# Tile serving benchmark ({str(report['date'])[:10]})",
        "",
        f"Slide {slide['width_px']}x{slide['height_px']} (generated Aperio SVS), tile 254, "
        f"overlap 1, JPEG Q75; {report['clients']} concurrent keep-alive clients (threads of "
        "one Python process, `http.client`) on loopback, up to "
        f"{report['requests_per_pass']} distinct tiles per pass from the three highest levels "
        "(the low-level passes take every tile below them). The app verifies a bearer token "
        "and the user's access to the slide (both in the database) on every tile; the "
        "baseline (OpenSlide's DeepZoomGenerator behind http.server) checks nothing. Setups: "
        "`direct` is one uvicorn with N worker processes on one port (as `coupe serve "
        "--workers N`); `caddy` is N single-process uvicorns behind Caddy "
        "(`benchmarks/_proxy.py`: `reverse_proxy`, least connections, keep-alive both "
        "sides). Every server starts afresh in each repeat; figures are medians over "
        f"{report['repeats']} repeat(s). CPU ms per tile: user + system time of the API "
        "processes, of Caddy and of the client threads during the pass, divided by its tiles: "
        "client, proxy and servers share the machine's cores.",
        "",
        "| scenario | server | setup | runs | p50 ms | p90 ms | p99 ms | tiles/s "
        "| API CPU ms/tile | proxy CPU ms/tile | client CPU ms/tile |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["summary"]:
        lines.append(
            f"| {row['scenario']} | {row['server']} | {row['setup']} | {row['runs']} | "
            + " | ".join(
                _cell(row[key])
                for key in (
                    "p50_ms",
                    "p90_ms",
                    "p99_ms",
                    "tiles_per_s",
                    "server_cpu_ms_per_tile",
                    "proxy_cpu_ms_per_tile",
                    "client_cpu_ms_per_tile",
                )
            )
            + " |"
        )
    lines += [
        "",
        f"Targets (issue 13): pre-built p99 < {TARGETS['prebuilt_p99_ms']:g} ms and > "
        f"{TARGETS['prebuilt_tiles_per_s']:,.0f} tiles/s; on the fly uncached p99 < "
        f"{TARGETS['rendered_uncached_p99_ms']:g} ms.",
        "",
    ]
    for setup, verdicts in met.items():
        words = ", ".join(f"{key} {'met' if ok else 'missed'}" for key, ok in verdicts.items())
        lines.append(f"- {setup}: {words}")
    profile = report.get("profile")
    if profile:
        lines += ["", *profile_markdown(profile)]
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    lines += [
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} "
        f"logical CPUs, {info['ram_gb']} GB RAM, Python {info['python']}; "
        f"load average at the end {load}.",
        "",
    ]
    return "\n".join(lines)
