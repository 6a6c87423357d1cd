"""Benchmark: one assignment-engine round over a synthetic region of the six departments.

    python -m benchmarks.assignment [--cases 10000] [--pathologists 200] [--repeats 5]

Builds a seeded synthetic snapshot (10,000 open cases, 200 pathologists), times full proposal
rounds (median of ``--repeats``) and writes ``benchmarks/results/assignment.json`` and
``benchmarks/results/assignment.md``. Target: a round in well under one second.

Two scenarios: ``steady`` (55% of the open cases already have a primary pathologist, the usual
state of the worklist) and ``backlog`` (none has: the worst case, every case is placed or refused
with a reason).

The claim section: ``--claim-clients`` (32) threads, each its own connection, drain a pool of
``--claim-cases`` (2,000) unassigned cases with ``claim_next`` on PostgreSQL (``--postgres``,
default ``$COUPE_BENCH_DATABASE_URL``, else ``$COUPE_TEST_DATABASE_URL``, else the local server),
in a schema the benchmark creates and drops. Without a reachable server the section says so and
the rest still runs. Each section is a function returning a :class:`Section`, in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from worklist.actor import Actor
from worklist.db import make_engine
from worklist.engine import plan_assignments
from worklist.engine.synthetic import SyntheticRegion, synthetic_snapshot
from worklist.enums import AssignmentKind, Priority, Role
from worklist.migrate import upgrade_database
from worklist.models import Assignment, Department, Pathologist, PathologistSubspecialty
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    claim_next,
    intake_cases,
)

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


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def default_postgres_url() -> str:
    """Where the claim benchmark finds PostgreSQL (a server it may create a schema on)."""
    return (
        os.environ.get("COUPE_BENCH_DATABASE_URL")
        or os.environ.get("COUPE_TEST_DATABASE_URL")
        or LOCAL_POSTGRES
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _claim_pool(url: str, clients: int, cases: int) -> list[int]:
    """Migrate, add one department, ``clients`` claimers and ``cases`` scanned cases."""
    upgrade_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        with Session(engine) as session, session.begin():
            department = Department(code="BENCH", name="Benchmark", city="-")
            people = [
                Pathologist(
                    code=f"CLAIM-{i:03d}",
                    name=f"claimer {i}",
                    department=department,
                    fte=1.0,
                    max_open_minutes=1_000_000,
                    subspecialties=[PathologistSubspecialty(subspecialty="gastro-intestinal")],
                )
                for i in range(clients)
            ]
            session.add_all(people)
            session.flush()
            claimers = [p.id for p in people]
        priorities = (Priority.URGENT, Priority.CANCER_PATHWAY, Priority.ROUTINE, Priority.ROUTINE)
        material = (SpecimenIntake("A", blocks=(BlockIntake("A1", (SlideIntake("H&E", "a"),)),)),)
        received = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
        requests = [
            CaseIntake(
                department="BENCH",
                patient_pseudonym=f"PSN-{i:06d}",
                tumour_group="gastro-intestinal",
                category=1 + i % 6,
                priority=priorities[i % len(priorities)],
                received_at=received,
                specimens=material,
            )
            for i in range(cases)
        ]
        for start in range(0, cases, 500):
            intake_cases(engine=engine, actor=Actor.system(), cases=requests[start : start + 500])
        return claimers
    finally:
        engine.dispose()


def claim_throughput(url: str, clients: int, cases: int) -> dict[str, Any]:
    """``clients`` threads drain ``cases`` unassigned cases with ``claim_next``; time it."""
    claimers = _claim_pool(url, clients, cases)
    engine = make_engine(url, pool_size=clients)
    try:
        warm = [engine.connect() for _ in range(clients)]  # connections open before the clock
        for connection in warm:
            connection.close()
        barrier = threading.Barrier(clients + 1)
        latencies_s: list[list[float]] = [[] for _ in range(clients)]
        errors: list[BaseException] = []

        def drain(index: int) -> None:
            actor = Actor(user_id=f"claimer-{index}", role=Role.PATHOLOGIST, site="BENCH")
            barrier.wait()
            try:
                while True:
                    started = time.perf_counter()
                    receipt = claim_next(
                        engine=engine,
                        actor=actor,
                        pathologist_id=claimers[index],
                        own_subspecialties_only=False,
                    )
                    if receipt is None:
                        return
                    latencies_s[index].append(time.perf_counter() - started)
            except BaseException as exc:  # reported after the run
                errors.append(exc)

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        wall_s = time.perf_counter() - started
        if errors:
            raise errors[0]
        with Session(engine) as session:
            primaries = select(Assignment.case_id).where(
                Assignment.active, Assignment.kind == AssignmentKind.PRIMARY
            )
            claimed = session.scalar(select(func.count()).select_from(primaries.subquery()))
            distinct = session.scalar(
                select(func.count(func.distinct(Assignment.case_id))).where(
                    Assignment.active, Assignment.kind == AssignmentKind.PRIMARY
                )
            )
            version = session.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    flat = [latency for per_client in latencies_s for latency in per_client]
    return {
        "server": f"PostgreSQL {version}",
        "clients": clients,
        "cases": cases,
        "claims": len(flat),
        "double_assignments": (claimed or 0) - (distinct or 0),
        "unclaimed": cases - (distinct or 0),
        "wall_s": round(wall_s, 3),
        "claims_per_s": round(len(flat) / wall_s, 1),
        "latency_p50_ms": round(_percentile(flat, 0.50) * 1000, 2),
        "latency_p99_ms": round(_percentile(flat, 0.99) * 1000, 2),
        "latency_max_ms": round(max(flat) * 1000, 2),
        "claims_per_client_min_max": [min(map(len, latencies_s)), max(map(len, latencies_s))],
    }


def claims_section(url: str, clients: int, cases: int) -> Section:
    """Claim throughput on PostgreSQL, in a schema created for the run and dropped after it."""
    title = f"## Claim throughput on PostgreSQL: {clients} concurrent clients"
    shown = make_url(url).render_as_string()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"coupe_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        note = f"Skipped: PostgreSQL at {shown} is unreachable ({type(exc.orig).__name__})."
        return Section("claims", {"skipped": note}, [title, "", note])
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        data = claim_throughput(scoped.render_as_string(hide_password=False), clients, cases)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    lines = [
        title,
        "",
        f"{data['server']}, a fresh schema; {clients} threads, each with its own connection, "
        f"drain {cases:,} unassigned cases with `claim_next` (`FOR UPDATE SKIP LOCKED`, one "
        "transaction per claim, with its audit record).",
        "",
        "| claims | wall (s) | claims/s | p50 (ms) | p99 (ms) | max (ms) | double assignments |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {data['claims']:,} | {data['wall_s']:.2f} | {data['claims_per_s']:,.0f} "
        f"| {data['latency_p50_ms']:.1f} | {data['latency_p99_ms']:.1f} "
        f"| {data['latency_max_ms']:.1f} | {data['double_assignments']} |",
        "",
        "Every claim also appends to the audit hash chain, whose head row is locked until commit: "
        "claims serialise on that lock, so this is the chain's throughput as much as the queue's.",
    ]
    return Section("claims", data, lines)


def claims(args: argparse.Namespace) -> Section:
    """The claim section with the command line's sizes and server."""
    return claims_section(args.postgres, args.claim_clients, args.claim_cases)


SECTIONS: list[Callable[[argparse.Namespace], Section]] = [engine, claims]
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
    for path, content in zip(paths, texts, strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content)
        tmp.replace(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Run every section and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--pathologists", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--claim-clients", type=int, default=32)
    parser.add_argument("--claim-cases", type=int, default=2_000)
    parser.add_argument("--postgres", default=default_postgres_url(), help="PostgreSQL URL")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sections = [run(args) for run in SECTIONS]
    for path in write(sections, args.out):
        print(path)
    for section in sections:
        print("\n".join(section.markdown), end="\n\n")


if __name__ == "__main__":
    main()
