"""Benchmark: ``coupe report`` on the demo region with its synthetic history (issue 11).

    python -m benchmarks.capacity_report [--data-dir DIR] [--repeats 3] [--formats json,html,xlsx]

Prepares the demo (``coupe demo --no-serve``: the region, its 65 weeks of signed-out history
and the live week) in ``--data-dir`` unless a prepared demo is there already, then times:

- the history step on its own: :func:`worklist.synthetic_history.generate_history` and
  :func:`~worklist.synthetic_history_insert.insert_history` into a fresh SQLite database (wall and
  CPU seconds: what the step adds to the demo's preparation);
- ``coupe report --period <last full ISO week> --format F --output FILE`` for every format, the
  whole process (interpreter start, imports, the database read, the forecasts, the file),
  median of ``--repeats`` runs; target < 10 s;
- :func:`worklist.capacity.report.capacity_report` in this process (median of the repeats),
  to tell the report's own work from the process around it.

Writes ``benchmarks/results/capacity_report.json`` and ``capacity_report.md``. The machine is
shared: the 1-minute load average before and after each part is recorded with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.assignment import machine

RESULTS = Path(__file__).parent / "results"
TARGET_S = 10.0
FORMATS = ("json", "html", "xlsx")


def last_full_week(today: date) -> str:
    """The ISO week before the one holding ``today``, as ``2026-W48``."""
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _coupe() -> list[str]:
    script = Path(sys.executable).with_name("coupe")
    return [str(script)] if script.exists() else [sys.executable, "-m", "services.cli"]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: Sequence[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process, and its output (it must succeed)."""
    cpu = _children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return wall, _children_cpu_s() - cpu, done.stdout


def prepare_demo(data_dir: Path) -> dict[str, Any]:
    """``coupe demo --no-serve`` in ``data_dir`` (reused when already prepared)."""
    env = {**os.environ, "COUPE_DATA_DIR": str(data_dir)}
    env.pop("COUPE_DATABASE_URL", None)
    reused = (data_dir / "demo.json").exists()
    load_before = _load()
    wall, cpu, _ = _run([*_coupe(), "demo", "--no-serve"], env)
    return {
        "data_dir": str(data_dir),
        "reused": reused,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        **_cases_in(data_dir),
        "load_before_after": [load_before, _load()],
    }


def _cases_in(data_dir: Path) -> dict[str, Any]:
    """What the demo's database holds: open cases, and the signed-out history's span."""
    from sqlalchemy import func, select

    from worklist.db import DEFAULT_DATABASE_FILE, make_engine, read_session
    from worklist.enums import CaseStatus
    from worklist.models import Case

    engine = make_engine(f"sqlite:///{data_dir / DEFAULT_DATABASE_FILE}", pool_size=1)
    signed = Case.status == CaseStatus.SIGNED_OUT
    try:
        with read_session(engine) as session:
            open_cases = session.scalar(select(func.count()).where(~signed))
            history, first, last = session.execute(
                select(func.count(), func.min(Case.received_at), func.max(Case.received_at)).where(
                    signed
                )
            ).one()
    finally:
        engine.dispose()
    return {
        "open_cases": open_cases,
        "signed_out_cases": history,
        "signed_out_received": [first.date().isoformat(), last.date().isoformat()]
        if history
        else None,
    }


def time_history_step(today: date) -> dict[str, Any]:
    """The demo's history step alone, into a fresh SQLite database."""
    from services.commands.demo_worklist import DEMO_DAYS, DEMO_HISTORY_DAYS, DEMO_SEED
    from worklist.actor import Actor
    from worklist.db import default_database_url, make_engine, run_in_transaction
    from worklist.migrate import upgrade_database
    from worklist.region import default_region
    from worklist.seeding import import_region
    from worklist.synthetic_history import generate_history
    from worklist.synthetic_history_insert import insert_history

    region = default_region()
    end = today - timedelta(days=DEMO_DAYS - 1)
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="coupe-history-") as folder:
        url = default_database_url(Path(folder))
        upgrade_database(url)
        engine = make_engine(url, pool_size=1)
        try:
            system = Actor.system("coupe-demo")
            import_region(engine=engine, actor=system, region=region)
            cpu, wall = time.process_time(), time.perf_counter()
            history = generate_history(
                region, today=today, end=end, days=DEMO_HISTORY_DAYS, seed=DEMO_SEED
            )
            generate = (time.perf_counter() - wall, time.process_time() - cpu)
            cpu, wall = time.process_time(), time.perf_counter()
            inserted = run_in_transaction(
                engine, lambda session: insert_history(session, history, actor=system)
            )
            insert = (time.perf_counter() - wall, time.process_time() - cpu)
        finally:
            engine.dispose()
    return {
        "days": DEMO_HISTORY_DAYS,
        "cases": inserted.cases,
        "assignments": inserted.assignments,
        "waits": inserted.waits,
        "generate_wall_s": round(generate[0], 2),
        "generate_cpu_s": round(generate[1], 2),
        "insert_wall_s": round(insert[0], 2),
        "insert_cpu_s": round(insert[1], 2),
        "load_before_after": [load_before, _load()],
    }


def _median_of(repeats: int, once: Callable[[], tuple[float, float]]) -> dict[str, Any]:
    runs = [once() for _ in range(repeats)]
    walls = [wall for wall, _ in runs]
    return {
        "median_s": round(statistics.median(walls), 2),
        "min_s": round(min(walls), 2),
        "max_s": round(max(walls), 2),
        "median_cpu_s": round(statistics.median(cpu for _, cpu in runs), 2),
        "runs": len(runs),
    }


def time_command(
    data_dir: Path, period: str, fmt: str, repeats: int, *, blas_threads: int | None = None
) -> dict[str, Any]:
    """``coupe report`` as a user runs it, the whole process, median of ``repeats``; with
    ``blas_threads``, OpenBLAS limited to that many threads (``OPENBLAS_NUM_THREADS``)."""
    env = {**os.environ, "COUPE_DATA_DIR": str(data_dir)}
    env.pop("COUPE_DATABASE_URL", None)
    if blas_threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    output = data_dir / f"benchmark-report.{fmt}"
    command = [*_coupe(), "report", "--period", period, "--format", fmt, "--output", str(output)]
    load_before = _load()

    def once() -> tuple[float, float]:
        output.unlink(missing_ok=True)
        wall, cpu, _ = _run(command, env)
        if not output.exists() or output.stat().st_size == 0:
            raise SystemExit(f"{' '.join(command)} wrote no {output}")
        return wall, cpu

    timing = _median_of(repeats, once)
    return {
        "format": fmt,
        "blas_threads": blas_threads,
        **timing,
        "bytes": output.stat().st_size,
        "met": timing["median_s"] < TARGET_S,
        "cpu_met": timing["median_cpu_s"] < TARGET_S,
        "load_before_after": [load_before, _load()],
    }


def time_function(data_dir: Path, period: str, today: date, repeats: int) -> dict[str, Any]:
    """:func:`capacity_report` in this process (imports and the first fit already warm)."""
    from worklist.capacity.periods import parse_period
    from worklist.capacity.report import capacity_report
    from worklist.db import DEFAULT_DATABASE_FILE, make_engine, read_session

    engine = make_engine(f"sqlite:///{data_dir / DEFAULT_DATABASE_FILE}", pool_size=1)
    parsed = parse_period(period)
    summary: list[str] = []

    def once() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        with read_session(engine) as session:
            report = capacity_report(session, parsed, today=today)
        summary[:] = [str(line) for line in report.get("summary", [])]
        return time.perf_counter() - wall, time.process_time() - cpu

    try:
        once()  # imports statsmodels and warms the caches: a command does this once too
        timing = _median_of(repeats, once)
    finally:
        engine.dispose()
    return {**timing, "summary": summary}


def _markdown(data: dict[str, Any]) -> str:
    box = data["machine"]
    lines = [
        "# Capacity report benchmark",
        "",
        f"Machine: {box['cpu_model']}, {box['cpu_cores']} cores (shared with other work: the "
        f"1-minute load average is given with each part), Python {box['python']}. "
        f"Measured {data['measured_at']}, today {data['today']}, period {data['period']} "
        "(the last full ISO week).",
        "",
        "## The demo and its history",
        "",
    ]
    demo = data["demo"]
    span = demo["signed_out_received"] or ["-", "-"]
    lines.append(
        f"`coupe demo --no-serve` ({'reused' if demo['reused'] else 'prepared'} in "
        f"{demo['wall_s']} s wall, {demo['cpu_s']} s CPU; load {demo['load_before_after']}): "
        f"{demo['open_cases']:,} open cases (the live week) and {demo['signed_out_cases']:,} "
        f"signed-out cases received {span[0]} to {span[1]} (the history)."
    )
    step = data.get("history")
    if step:
        lines += [
            "",
            f"The history step alone ({step['days']} days: {step['cases']:,} cases, "
            f"{step['assignments']:,} assignments, {step['waits']:,} waits, a report each; "
            f"load {step['load_before_after']}):",
            "",
            "| part | wall (s) | CPU (s) |",
            "|---|---:|---:|",
            f"| generate | {step['generate_wall_s']} | {step['generate_cpu_s']} |",
            f"| bulk insert (SQLite, one transaction) | {step['insert_wall_s']} | "
            f"{step['insert_cpu_s']} |",
        ]
    lines += ["", f"## `coupe report --period {data['period']}`: target < {TARGET_S:g} s", ""]
    commands = data.get("commands") or []
    if commands:
        lines += [
            "The whole process (start, imports, database read, forecasts, the file), "
            f"median of {commands[0]['runs']} runs.",
            "",
            "| format | OpenBLAS threads | median (s) | min (s) | max (s) | CPU median (s) | "
            "file (bytes) | target (wall) | CPU < target | load before, after |",
            "|---|---|---:|---:|---:|---:|---:|---|---|---|",
        ]
        for row in commands:
            lines.append(
                f"| {row['format']} | {row['blas_threads'] or 'default'} | {row['median_s']} | "
                f"{row['min_s']} | {row['max_s']} | {row['median_cpu_s']} | {row['bytes']:,} | "
                f"{'**met**' if row['met'] else '**NOT met**'} | "
                f"{'yes' if row['cpu_met'] else 'no'} | {row['load_before_after']} |"
            )
        lines += [
            "",
            "On a loaded machine the wall time is the CPU time stretched by the load; the CPU "
            "time is what the report costs on an idle core. The forecasts' small GLM fits run "
            "faster with one OpenBLAS thread (the last row): its threads compete for the cores.",
        ]
    else:
        lines.append(f"`coupe report` was not available: {data.get('command_missing', '')}")
    function = data.get("function")
    if function:
        lines += [
            "",
            f"`worklist.capacity.report.capacity_report` in one warm process: median "
            f"{function['median_s']} s (min {function['min_s']}, max {function['max_s']}, CPU "
            f"{function['median_cpu_s']} s, {function['runs']} runs).",
            "",
            "The report's summary on the demo:",
            "",
            *(f"- {line}" for line in function["summary"]),
        ]
    lines.append("")
    return "\n".join(lines)


def _has_report_command() -> str | None:
    done = subprocess.run([*_coupe(), "report", "--help"], capture_output=True, text=True)
    return None if done.returncode == 0 and "--period" in done.stdout else done.stderr[-300:]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data-dir", type=Path, help="the demo's folder (default: a temporary one)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--skip-history", action="store_true", help="do not time the step alone")
    parser.add_argument(
        "--skip-function", action="store_true", help="do not time capacity_report in-process"
    )
    args = parser.parse_args(argv)
    folder = None if args.data_dir else tempfile.TemporaryDirectory(prefix="coupe-demo-bench-")
    data_dir = args.data_dir or Path(folder.name if folder else ".")
    today = datetime.now(UTC).date()
    period = last_full_week(today)
    data: dict[str, Any] = {
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "today": today.isoformat(),
        "period": period,
        "target_s": TARGET_S,
    }
    try:
        data["demo"] = prepare_demo(data_dir)
        if not args.skip_history:
            data["history"] = time_history_step(today)
        missing = _has_report_command()
        if missing is None:
            data["commands"] = [
                time_command(data_dir, period, fmt, args.repeats) for fmt in args.formats.split(",")
            ]
            data["commands"].append(
                time_command(data_dir, period, "json", args.repeats, blas_threads=1)
            )
        else:
            data["command_missing"] = missing
        if not args.skip_function:
            data["function"] = time_function(data_dir, period, today, args.repeats)
    finally:
        if folder is not None:
            folder.cleanup()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "capacity_report.json").write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "capacity_report.md").write_text(_markdown(data))
    print(_markdown(data))


if __name__ == "__main__":
    main()
