"""Benchmark: one assignment-engine round over a synthetic region of the six departments.

    python -m benchmarks.assignment [--cases 10000] [--pathologists 200] [--repeats 5]
    python -m benchmarks.assignment --sections rounds   # only the stored rounds (issue 10)

Builds a seeded synthetic snapshot (10,000 open cases, 200 pathologists), times full proposal
rounds (median of ``--repeats``) and writes ``benchmarks/results/assignment.json`` and
``benchmarks/results/assignment.md``. Target: a round in well under one second.

Two scenarios: ``steady`` (55% of the open cases already have a primary pathologist, the usual
state of the worklist) and ``backlog`` (none has: the worst case, every case is placed or refused
with a reason).

The rounds section (issue 10): a stored preview (``worklist.rounds.plan_round``: snapshot read
from a seeded SQLite database of ``--cases`` scanned cases and ``--pathologists``, the round,
its proposals stored), reading it back and applying it; then the engine's round at
``--large-cases`` (100,000) and ``--large-pathologists`` (1,000). Targets: 1 s and 5 s.

The claim section: ``--claim-clients`` (32) threads, each its own connection, drain a pool of
``--claim-cases`` (2,000) unassigned cases with ``claim_next`` on PostgreSQL (``--postgres``,
default ``$COUPE_BENCH_DATABASE_URL``, else database ``coupe_bench_claims`` on the local
server: ``createdb -h 127.0.0.1 -U postgres coupe_bench_claims``), in a schema the benchmark
creates and drops, once per ``--claim-processes`` entry (the threads spread over that many
client processes; default 1 then 2), while another process seals the audit log. Each run
reports the CPU a claim costs in the clients and in the database. Without a reachable server
the section says so and the rest still runs. Each section is a function returning a
:class:`Section`, in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from benchmarks._machine import cpu_model
from worklist.actor import Actor
from worklist.audit import AuditSealer, seal_pending, verify_audit_chain
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
    model = cpu_model()
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


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/coupe_bench_claims"
CLAIM_TARGETS = {"claims_per_s": 500.0, "p99_ms": 100.0}
"""Issue #8: with every claim audited, 32 clients on PostgreSQL."""


def default_postgres_url() -> str:
    """Where the claim benchmarks find PostgreSQL (a database they may create schemas in)."""
    return os.environ.get("COUPE_BENCH_DATABASE_URL") or LOCAL_POSTGRES


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the server at ``url`` for one run, dropped after it; yields a URL
    whose connections use it. Raises :class:`OperationalError` when the server is unreachable."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schema = f"coupe_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def postgres_cpu_s(url: str) -> float:
    """CPU seconds used so far by the local server's backends for ``url``'s database (0 when
    the server is not on this machine): how much of a claim's cost is the database's."""
    database = make_url(url).database
    total = 0.0
    for process in psutil.process_iter(["cmdline", "cpu_times"]):
        command = " ".join(process.info["cmdline"] or [])
        times = process.info["cpu_times"]
        if command.startswith("postgres:") and f" {database} " in command and times:
            total += times.user + times.system
    return total


def claim_pool(url: str, clients: int, cases: int) -> list[int]:
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
        seal_pending(engine)
        with engine.begin() as connection:  # fresh statistics, as autovacuum would gather
            connection.execute(text("ANALYZE"))
        return claimers
    finally:
        engine.dispose()


_CLIENT_TIMEOUT_S = 600


def _client_process(url: str, claimers: list[int], start: Any, measured: Any, out: Any) -> None:
    """One client process: a thread per claimer, each draining the pool with ``claim_next``."""
    engine = make_engine(url, pool_size=len(claimers))
    try:
        for connection in [engine.connect() for _ in claimers]:  # open before the clock
            connection.close()
        go = threading.Barrier(len(claimers) + 1)
        latencies_s: list[list[float]] = [[] for _ in claimers]
        errors: list[str] = []

        def drain(index: int) -> None:
            actor = Actor(user_id=f"claimer-{claimers[index]}", role=Role.PATHOLOGIST, site="BENCH")
            go.wait()
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
            except Exception as exc:  # reported by the parent
                errors.append(repr(exc))

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(claimers))]
        for thread in threads:
            thread.start()
        start.wait(timeout=_CLIENT_TIMEOUT_S)
        cpu_started_s = time.process_time()
        go.wait()
        for thread in threads:
            thread.join()
        out.put(
            {
                "latencies_s": latencies_s,
                "cpu_s": time.process_time() - cpu_started_s,
                "errors": errors,
            }
        )
        measured.wait(
            timeout=_CLIENT_TIMEOUT_S
        )  # keep the connections (and their backends' CPU counters) until then
    finally:
        engine.dispose()


def claim_throughput(url: str, clients: int, cases: int, processes: int = 1) -> dict[str, Any]:
    """``clients`` threads in ``processes`` client processes drain ``cases`` unassigned cases
    with ``claim_next`` while this process seals the audit log; time it and count CPU."""
    claimers = claim_pool(url, clients, cases)
    context = multiprocessing.get_context("spawn")
    start, measured = context.Barrier(processes + 1), context.Barrier(processes + 1)
    out = context.Queue()
    children = [
        context.Process(
            target=_client_process, args=(url, claimers[i::processes], start, measured, out)
        )
        for i in range(processes)
    ]
    engine = make_engine(url, pool_size=2)
    sealer = AuditSealer(engine)
    try:
        for child in children:
            child.start()
        load_before = os.getloadavg()
        sealer.start()
        start.wait(timeout=_CLIENT_TIMEOUT_S)
        database_cpu_started_s = postgres_cpu_s(url)
        started = time.perf_counter()
        reports = [out.get(timeout=_CLIENT_TIMEOUT_S) for _ in children]
        wall_s = time.perf_counter() - started
        database_cpu_s = postgres_cpu_s(url) - database_cpu_started_s
        measured.wait(timeout=_CLIENT_TIMEOUT_S)
        for child in children:
            child.join(timeout=_CLIENT_TIMEOUT_S)
        sealer.close()
        load_after = os.getloadavg()
        errors = [error for report in reports for error in report["errors"]]
        if errors:
            raise RuntimeError(f"{len(errors)} clients failed, the first with {errors[0]}")
        with Session(engine) as session:
            active = select(Assignment.case_id).where(
                Assignment.active, Assignment.kind == AssignmentKind.PRIMARY
            )
            claimed = session.scalar(select(func.count()).select_from(active.subquery()))
            distinct = session.scalar(
                select(func.count(func.distinct(Assignment.case_id))).where(
                    Assignment.active, Assignment.kind == AssignmentKind.PRIMARY
                )
            )
            chain = verify_audit_chain(session)
            version = session.execute(text("SHOW server_version")).scalar_one()
    finally:
        for child in children:
            if child.is_alive():  # a client that failed to report: no hang, no orphan
                child.terminate()
        sealer.close()
        engine.dispose()
    per_client = [per for report in reports for per in report["latencies_s"]]
    flat = [latency for per in per_client for latency in per]
    client_cpu_s = sum(report["cpu_s"] for report in reports)
    return {
        "server": f"PostgreSQL {version}",
        "clients": clients,
        "client_processes": processes,
        "cases": cases,
        "claims": len(flat),
        "double_assignments": (claimed or 0) - (distinct or 0),
        "unclaimed": cases - (distinct or 0),
        "wall_s": round(wall_s, 3),
        "claims_per_s": round(len(flat) / wall_s, 1),
        "latency_p50_ms": round(_percentile(flat, 0.50) * 1000, 2),
        "latency_p99_ms": round(_percentile(flat, 0.99) * 1000, 2),
        "latency_max_ms": round(max(flat) * 1000, 2),
        "claims_per_client_min_max": [min(map(len, per_client)), max(map(len, per_client))],
        "client_cpu_ms_per_claim": round(1000 * client_cpu_s / len(flat), 2),
        "postgres_cpu_ms_per_claim": round(1000 * database_cpu_s / len(flat), 2),
        "audit_records_checked": chain.records_checked,
        "audit_chain_ok": chain.ok and chain.unsealed == 0,
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
    }


def claims_section(url: str, clients: int, cases: int, processes: Sequence[int]) -> Section:
    """Claim throughput on PostgreSQL, each run in a schema created for it and dropped after."""
    title = f"## Claim throughput on PostgreSQL: {clients} concurrent clients"
    runs = []
    for count in processes:
        try:
            with postgres_schema(url) as scoped:
                runs.append(claim_throughput(scoped, clients, cases, count))
        except OperationalError as exc:
            shown = make_url(url).render_as_string()
            note = f"Skipped: PostgreSQL at {shown} is unreachable ({type(exc.orig).__name__})."
            return Section("claims", {"skipped": note}, [title, "", note])
    first = runs[0]
    met = first["claims_per_s"] >= CLAIM_TARGETS["claims_per_s"] and (
        first["latency_p99_ms"] < CLAIM_TARGETS["p99_ms"]
    )
    lines = [
        title,
        "",
        f"{first['server']}, a fresh schema per run; {clients} threads, each with its own "
        f"connection, drain {cases:,} unassigned cases with `claim_next` (`FOR UPDATE SKIP "
        "LOCKED`, one transaction per claim with its audit record, appended without a lock) "
        "while another process seals the audit log; the chain is verified after each run. "
        f"Target (first row): {CLAIM_TARGETS['claims_per_s']:.0f} claims/s at p99 < "
        f"{CLAIM_TARGETS['p99_ms']:.0f} ms: **{'met' if met else 'NOT met'}**.",
        "",
        "| client processes | claims | wall (s) | claims/s | p50 (ms) | p99 (ms) | max (ms) "
        "| client CPU ms/claim | PostgreSQL CPU ms/claim | double assignments | chain "
        "| load (1 min) before, after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for d in runs:
        lines.append(
            f"| {d['client_processes']} | {d['claims']:,} | {d['wall_s']:.2f} "
            f"| {d['claims_per_s']:,.0f} | {d['latency_p50_ms']:.1f} | {d['latency_p99_ms']:.1f} "
            f"| {d['latency_max_ms']:.1f} | {d['client_cpu_ms_per_claim']:.2f} "
            f"| {d['postgres_cpu_ms_per_claim']:.2f} | {d['double_assignments']} "
            f"| {'verified' if d['audit_chain_ok'] else 'BROKEN'} "
            f"| {d['load_average_before_after'][0]}, {d['load_average_before_after'][1]} |"
        )
    lines += [
        "",
        "CPU per claim: the client processes' own (Python: SQLAlchemy, psycopg, the audit "
        "record's hash) and the database backends' for this database, from the process "
        "table. On a machine of `cpu_cores` cores, claims/s can reach at most cores x 1000 / "
        "(client + PostgreSQL CPU ms per claim), and one client process at most 1000 / client "
        "CPU ms per claim (its threads share one interpreter lock).",
    ]
    return Section("claims", {"targets": CLAIM_TARGETS, "met": met, "runs": runs}, lines)


def claims(args: argparse.Namespace) -> Section:
    """The claim section with the command line's sizes and server."""
    return claims_section(args.postgres, args.claim_clients, args.claim_cases, args.processes)


ROUND_TARGETS_S = {"preview": 1.0, "large_round": 5.0}
"""Issue #10: a stored preview of 10,000 open cases / 200 pathologists in under a second, an
engine round at 100,000 / 1,000 in under five."""
_TUMOUR_GROUPS = (
    "gastro-intestinal",
    "dermatopathology",
    "gynaecopathology",
    "lung",
    "breast",
    "urology",
)


def round_database(url: str, cases: int, pathologists: int) -> None:
    """Migrate; six departments, ``pathologists`` pathologists (two tumour groups each, FTE
    0.8-1.0) and ``cases`` scanned, unassigned cases received this week."""
    upgrade_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        with Session(engine) as session, session.begin():
            departments = [
                Department(code=f"D{d}", name=f"Department {d}", city="-") for d in range(6)
            ]
            session.add_all(
                Pathologist(
                    code=f"P-{i:04d}",
                    name=f"dr. P{i:04d}",
                    department=departments[i % 6],
                    fte=1.0 if i % 3 else 0.8,
                    max_open_minutes=2_000,
                    subspecialties=[
                        PathologistSubspecialty(subspecialty=_TUMOUR_GROUPS[(i + k) % 6])
                        for k in (0, 1)
                    ],
                )
                for i in range(pathologists)
            )
        priorities = (Priority.URGENT, Priority.CANCER_PATHWAY, Priority.ROUTINE, Priority.ROUTINE)
        material = (SpecimenIntake("A", blocks=(BlockIntake("A1", (SlideIntake("H&E", "a"),)),)),)
        received = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
        requests = [
            CaseIntake(
                department=f"D{i % 6}",
                patient_pseudonym=f"PSN-{i:06d}",
                tumour_group=_TUMOUR_GROUPS[(i // 6) % 6],
                category=1 + i % 6,
                priority=priorities[i % len(priorities)],
                received_at=received,
                specimens=material,
            )
            for i in range(cases)
        ]
        for start in range(0, cases, 1_000):
            intake_cases(
                engine=engine,
                actor=Actor.system(),
                cases=requests[start : start + 1_000],
                now=received,
            )
    finally:
        engine.dispose()


def time_stored_round(url: str, repeats: int) -> dict[str, Any]:
    """Time a stored preview (snapshot from the database, engine, proposals stored; median of
    ``repeats``, a preview changes no assignment), reading it back, and applying the last one
    (one transaction, an audit record per assignment)."""
    from worklist.rounds import apply_round, get_round, plan_round

    manager = Actor(user_id="bench-manager", role=Role.LAB_MANAGER)
    now = datetime(2025, 3, 12, 8, 0, tzinfo=UTC)  # a Wednesday morning
    engine = make_engine(url, pool_size=2)
    try:
        previews_s = []
        for _ in range(max(1, repeats)):
            started = time.perf_counter()
            round_id, plan, snapshot = plan_round(engine=engine, actor=manager, now=now)
            previews_s.append(time.perf_counter() - started)
        preview_s = statistics.median(previews_s)
        started = time.perf_counter()
        get_round(engine=engine, actor=manager, round_id=round_id)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        view = apply_round(engine=engine, actor=manager, round_id=round_id, now=now)
        apply_s = time.perf_counter() - started
    finally:
        engine.dispose()
    return {
        "cases_in_snapshot": len(snapshot.cases),
        "pathologists": len(snapshot.pathologists),
        "proposals": len(plan.proposals),
        "unplaced": len(plan.unplaced),
        "applied": sum(1 for p in view.proposals if p.applied),
        "preview_s": round(preview_s, 3),
        "preview_min_s": round(min(previews_s), 3),
        "preview_max_s": round(max(previews_s), 3),
        "preview_repeats": len(previews_s),
        "read_back_s": round(read_s, 3),
        "apply_s": round(apply_s, 3),
    }


def rounds_section(
    cases: int, pathologists: int, large: tuple[int, int], workdir: Path, repeats: int = 5
) -> Section:
    """A stored preview + apply on a real (SQLite) database, and the engine at ``large``."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"rounds-{uuid.uuid4().hex[:8]}.sqlite3"
    url = f"sqlite:///{path}"
    try:
        started = time.perf_counter()
        round_database(url, cases, pathologists)
        seed_s = time.perf_counter() - started
        stored = {**time_stored_round(url, repeats), "seed_s": round(seed_s, 1)}
    finally:
        for leftover in workdir.glob(path.name + "*"):
            leftover.unlink()
    large_cases, large_people = large
    big = {
        name: time_round(
            SyntheticRegion(cases=large_cases, pathologists=large_people, assigned_share=share), 1
        )
        for name, share in (("steady", 0.55), ("backlog", 0.0))
    }
    preview_met = stored["preview_s"] < ROUND_TARGETS_S["preview"]
    large_worst = max(d["round_median_s"] for d in big.values())
    large_met = large_worst < ROUND_TARGETS_S["large_round"]
    lines = [
        "## Assignment rounds: stored preview, apply, and a round at 100,000 cases",
        "",
        f"A SQLite database with {cases:,} scanned, unassigned cases in six departments and "
        f"{pathologists} pathologists (seeded in {stored['seed_s']} s, not timed). "
        f"Preview (`worklist.rounds.plan_round`: the snapshot read from the database, the "
        "engine's round, the round and its proposals and unplaced cases stored, one audit "
        f"record; median of {stored['preview_repeats']}, min {stored['preview_min_s']:.3f} s, "
        f"max {stored['preview_max_s']:.3f} s) target < {ROUND_TARGETS_S['preview']:.0f} s: "
        f"**{'met' if preview_met else 'NOT met'}**.",
        "",
        "| cases in snapshot | pathologists | proposals | unplaced | preview (s) "
        "| read back (s) | apply all of the last (s) | applied |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {stored['cases_in_snapshot']:,} | {stored['pathologists']} | "
        f"{stored['proposals']:,} | {stored['unplaced']:,} | {stored['preview_s']:.3f} | "
        f"{stored['read_back_s']:.3f} | {stored['apply_s']:.3f} | {stored['applied']:,} |",
        "",
        f"The engine's round on a synthetic region of {large_cases:,} open cases and "
        f"{large_people:,} pathologists (one round each; the snapshot's construction not "
        f"included) target < {ROUND_TARGETS_S['large_round']:.0f} s: "
        f"**{'met' if large_met else 'NOT met'}**.",
        "",
        "| scenario | cases needing a primary | round (s) | snapshot built in (s) "
        "| proposals | unplaced |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, d in big.items():
        lines.append(
            f"| {name} | {d['cases_needing_a_primary']:,} | {d['round_median_s']:.3f} "
            f"| {d['snapshot_build_s']:.3f} | {d['proposals']:,} | {d['unplaced']:,} |"
        )
    data = {
        "targets_s": ROUND_TARGETS_S,
        "preview_met": preview_met,
        "large_round_met": large_met,
        "stored": stored,
        "large": big,
    }
    return Section("rounds", data, lines)


def rounds(args: argparse.Namespace) -> Section:
    """The rounds section with the command line's sizes."""
    return rounds_section(
        args.cases,
        args.pathologists,
        (args.large_cases, args.large_pathologists),
        args.workdir,
        args.repeats,
    )


SECTIONS: dict[str, Callable[[argparse.Namespace], Section]] = {
    "engine": engine,
    "claims": claims,
    "rounds": rounds,
}
"""Each builds one section of the results from the parsed command line (``--sections``)."""


def _kept_markdown(path: Path, rerun: set[str]) -> list[str]:
    """The previous results' markdown sections (``## ...``) whose heading no section rerun
    writes: running one section keeps the others' figures."""
    if not path.exists():
        return []
    blocks: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    kept = [b for b in blocks if b[0] not in rerun]
    return [line for block in kept for line in block]


def write(sections: list[Section], out: Path) -> tuple[Path, Path]:
    """Write the JSON and markdown results (atomically: temporary file, then rename)."""
    out.mkdir(parents=True, exist_ok=True)
    about = machine()
    previous_json = out / "assignment.json"
    previous = json.loads(previous_json.read_text()) if previous_json.exists() else {}
    report = {
        **previous,
        "benchmark": "assignment",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": about,
        **{s.name: s.data for s in sections},
    }
    headings = {s.markdown[0] for s in sections if s.markdown}
    kept = _kept_markdown(out / "assignment.md", headings)
    lines = [
        "# Assignment benchmark",
        "",
        f"Machine: {about['cpu_model']}, {about['cpu_cores']} cores, Python {about['python']}.",
        "",
    ]
    for section in sections:
        lines += [*section.markdown, ""]
    if kept:
        lines += [*kept]
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
    parser.add_argument(
        "--claim-processes",
        dest="processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="client processes to spread the claim clients over, one run each (1,2)",
    )
    parser.add_argument("--postgres", default=default_postgres_url(), help="PostgreSQL URL")
    parser.add_argument("--large-cases", type=int, default=100_000)
    parser.add_argument("--large-pathologists", type=int, default=1_000)
    parser.add_argument(
        "--workdir", type=Path, default=Path("/tmp"), help="where the rounds' database lives"
    )
    parser.add_argument(
        "--sections",
        type=lambda text: text.split(","),
        default=list(SECTIONS),
        help=f"which sections to run ({','.join(SECTIONS)}); the others' results are kept",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; known: {', '.join(SECTIONS)}")
    sections = [SECTIONS[name](args) for name in args.sections]
    for path in write(sections, args.out):
        print(path)
    for section in sections:
        print("\n".join(section.markdown), end="\n\n")


if __name__ == "__main__":
    main()
