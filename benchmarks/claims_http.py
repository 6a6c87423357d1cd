"""Benchmark: signed-in pathologists racing on ``POST /worklist/claim-next`` over HTTP.

    python -m benchmarks.claims_http [--clients 32] [--cases 2000] [--backends sqlite,postgresql]
        [--rounds 3]

The app runs as ``coupe serve`` runs it here: uvicorn with two server processes
(:data:`benchmarks.serving.SERVER_PROCESSES`) on 127.0.0.1, on a temporary data folder, once on
the default SQLite file and once on PostgreSQL (a schema of ``--postgres``, default as in
:mod:`benchmarks.assignment`, created and dropped). ``--clients`` pathologists, each with an
account, a bearer token from ``/auth/login`` and one keep-alive connection, claim the next case
until none is left; every claim is audited, and each server process seals the audit log
(:class:`worklist.audit.AuditSealer`). After the servers stop, the benchmark checks that every
case went to exactly one pathologist and that the audit chain verifies with nothing left
unsealed. It reports the CPU a claim costs in the servers, in the database (PostgreSQL) and in
the clients, which share the machine. Results: ``claims_http.json`` and ``claims_http.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from benchmarks._serving_passes import percentile
from benchmarks.assignment import claim_pool, default_postgres_url, postgres_cpu_s, postgres_schema
from benchmarks.serving import SERVER_PROCESSES, free_port, machine, running
from services.security import hash_password
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.audit import verify_audit_chain
from worklist.db import default_database_url, make_engine
from worklist.enums import AssignmentKind, Role
from worklist.models import Assignment

_BENCH_DIR = Path(__file__).resolve().parent
_SECRET = "benchmark-secret-key-not-for-production"
_PASSWORD = "claims benchmark password 7"
CLAIM_PATH = "/worklist/claim-next"
TARGETS = {
    "sqlite": {"claims_per_s": 200.0, "p99_ms": 500.0},
    "postgresql": {"claims_per_s": 300.0, "p99_ms": 150.0},
}
"""Issue #8, every claim audited, 32 pathologists, two server processes."""


def prepare(database_url: str, clients: int, cases: int) -> list[str]:
    """The claim pool of :func:`benchmarks.assignment.claim_pool` and an account per claimer;
    returns the user names."""
    claim_pool(database_url, clients, cases)
    engine = make_engine(database_url, pool_size=1)
    password_hash = hash_password(_PASSWORD)  # one hash for all: the same password
    usernames = [f"claimer{i:03d}" for i in range(clients)]
    try:
        for number, username in enumerate(usernames):
            create_user(
                engine=engine,
                actor=Actor.system(),
                user=NewUser(
                    username=username,
                    display_name=f"Claimer {number}",
                    password_hash=password_hash,
                    role=Role.PATHOLOGIST,
                    pathologist_code=f"CLAIM-{number:03d}",
                ),
            )
    finally:
        engine.dispose()
    return usernames


def sign_in_as(port: int, username: str) -> str:
    """A bearer token for ``username``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"username": username, "password": _PASSWORD})
    connection.request("POST", "/auth/login", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    payload = json.loads(answer.read())
    connection.close()
    if answer.status != 200:
        raise RuntimeError(f"sign-in of {username} failed: {answer.status} {payload}")
    token: str = payload["access_token"]
    return token


def race(port: int, tokens: list[str]) -> dict[str, Any]:
    """Every token's client claims the next case until none is left; latencies of the claims."""
    latencies_s: list[list[float]] = [[] for _ in tokens]
    errors: list[str] = []
    start = threading.Barrier(len(tokens) + 1)
    body = json.dumps({"own_subspecialties_only": True})

    def client(index: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}", "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        try:
            while len(errors) < 50:
                started = time.perf_counter()
                connection.request("POST", CLAIM_PATH, body, headers)
                answer = connection.getresponse()
                payload = answer.read()
                if answer.status != 200:
                    errors.append(f"{answer.status} {payload[:200]!r}")
                    continue
                if json.loads(payload)["assignment"] is None:
                    return
                latencies_s[index].append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(tokens))]
    for thread in threads:
        thread.start()
    cpu_started_s = time.process_time()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    flat = sorted(latency for per in latencies_s for latency in per)
    return {
        "claims": len(flat),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wall_s": round(wall_s, 3),
        "claims_per_s": round(len(flat) / wall_s, 1) if wall_s > 0 else 0.0,
        "p50_ms": round(1000 * percentile(flat, 0.50), 2),
        "p90_ms": round(1000 * percentile(flat, 0.90), 2),
        "p99_ms": round(1000 * percentile(flat, 0.99), 2),
        "max_ms": round(1000 * (flat[-1] if flat else 0.0), 2),
        "claims_per_client_min_max": [min(map(len, latencies_s)), max(map(len, latencies_s))],
        "client_cpu_s": time.process_time() - cpu_started_s,
    }


def server_cpu_s(port: int) -> float:
    """CPU seconds used so far by the server listening on ``port`` and its worker processes."""
    total = 0.0
    for process in psutil.process_iter(["cmdline"]):
        if f"--port {port}" not in " ".join(process.info["cmdline"] or []):
            continue
        with contextlib.suppress(psutil.Error):
            for member in (process, *process.children(recursive=True)):
                times = member.cpu_times()
                total += times.user + times.system
    return total


def outcome(database_url: str, cases: int) -> dict[str, Any]:
    """After the servers stopped: were all cases claimed once, is the audit chain whole?"""
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine) as session:
            active = (Assignment.active, Assignment.kind == AssignmentKind.PRIMARY)
            claimed = session.scalar(select(func.count()).where(*active)) or 0
            distinct = (
                session.scalar(select(func.count(func.distinct(Assignment.case_id))).where(*active))
                or 0
            )
            chain = verify_audit_chain(session)
    finally:
        engine.dispose()
    return {
        "double_assignments": claimed - distinct,
        "unclaimed": cases - distinct,
        "audit_records_checked": chain.records_checked,
        "audit_unsealed": chain.unsealed,
        "audit_chain_ok": chain.ok and chain.unsealed == 0,
    }


def server_command(port: int) -> list[str]:
    """``coupe serve``'s multi-process form (without its per-request access log)."""
    return [
        sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", "--workers", str(SERVER_PROCESSES),
    ]  # fmt: skip


@contextlib.contextmanager
def database_for(backend: str, data_dir: Path, postgres_url: str) -> Iterator[str]:
    """The database URL of one run: the data folder's SQLite file, or a fresh schema."""
    if backend == "sqlite":
        yield default_database_url(data_dir)
    else:
        with postgres_schema(postgres_url) as scoped:
            yield scoped


def run_backend(backend: str, *, clients: int, cases: int, postgres_url: str) -> dict[str, Any]:
    """One run on ``backend``: prepare, serve, sign everyone in, race, stop, check."""
    with (
        tempfile.TemporaryDirectory(prefix="coupe-claims-") as tmp,
        database_for(backend, Path(tmp) / "data", postgres_url) as database_url,
    ):
        data_dir = Path(tmp) / "data"
        usernames = prepare(database_url, clients, cases)
        port = free_port()
        env = {
            **os.environ,
            "COUPE_DATA_DIR": str(data_dir),
            "COUPE_SECRET_KEY": _SECRET,
            "COUPE_DATABASE_URL": database_url,
            "COUPE_RUN_BACKGROUND_WORKERS": "false",
        }
        load_before = os.getloadavg()[0]
        with running(server_command(port), port, "/health", env):
            tokens = [sign_in_as(port, username) for username in usernames]
            server_started_s = server_cpu_s(port)
            database_started_s = postgres_cpu_s(database_url) if backend != "sqlite" else 0.0
            result = race(port, tokens)
            server_s = server_cpu_s(port) - server_started_s
            database_s = (
                postgres_cpu_s(database_url) - database_started_s if backend != "sqlite" else 0.0
            )
        load_after = os.getloadavg()[0]
        result.update(outcome(database_url, cases))
    claims = max(result["claims"], 1)
    client_s = result.pop("client_cpu_s")
    target = TARGETS[backend]
    return {
        "backend": backend,
        "clients": clients,
        "cases": cases,
        **result,
        "server_cpu_ms_per_claim": round(1000 * server_s / claims, 2),
        "postgres_cpu_ms_per_claim": round(1000 * database_s / claims, 2),
        "client_cpu_ms_per_claim": round(1000 * client_s / claims, 2),
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "target": target,
        "met": met(result, target),
    }


def met(result: dict[str, Any], target: dict[str, float]) -> bool:
    """Whether a run reached its target: the rate, the p99, no errors, every case once."""
    return bool(
        result["claims_per_s"] >= target["claims_per_s"]
        and result["p99_ms"] < target["p99_ms"]
        and result["errors"] == 0
        and result["unclaimed"] == 0
        and result["double_assignments"] == 0
    )


def median_run(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median rate (a real run, so its figures agree with each other),
    with how many rounds there were and the spread of their rates and p99s."""
    ordered = sorted(rounds, key=lambda run: run["claims_per_s"])
    middle = dict(ordered[len(ordered) // 2])
    p99s = [run["p99_ms"] for run in rounds]
    middle["rounds"] = len(rounds)
    middle["claims_per_s_range"] = [ordered[0]["claims_per_s"], ordered[-1]["claims_per_s"]]
    middle["p99_ms_range"] = [min(p99s), max(p99s)]
    return middle


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table."""
    info = report["machine"]
    lines = [
        f"# Claims over HTTP ({str(report['date'])[:10]})",
        "",
        f"`coupe serve` with {SERVER_PROCESSES} server processes; {report['clients']} signed-in "
        f"pathologists (bearer tokens, one keep-alive connection each, on loopback) race on "
        f"`POST {CLAIM_PATH}` until {report['cases']:,} scanned cases are taken. Every claim "
        "is audited; each server process seals the audit log, and the chain is verified after "
        "the servers stop. Clients, servers and PostgreSQL share the machine. Each row is "
        "the round with the median rate of its database; the rounds alternate between the "
        "databases, so a change in the machine's load hits both.",
        "",
        "| database | claims | errors | wall s | claims/s | p50 ms | p99 ms | max ms "
        "| server CPU ms/claim | PostgreSQL CPU ms/claim | client CPU ms/claim "
        "| double assignments | audit chain | target | load before, after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for run in report["runs"]:
        target = run["target"]
        lines.append(
            f"| {run['backend']} | {run['claims']:,} | {run['errors']} | {run['wall_s']:.2f} "
            f"| {run['claims_per_s']:.0f} | {run['p50_ms']:.1f} | {run['p99_ms']:.1f} "
            f"| {run['max_ms']:.1f} | {run['server_cpu_ms_per_claim']:.2f} "
            f"| {run['postgres_cpu_ms_per_claim']:.2f} | {run['client_cpu_ms_per_claim']:.2f} "
            f"| {run['double_assignments']} "
            f"| {'verified' if run['audit_chain_ok'] else 'NOT verified'} "
            f"| >= {target['claims_per_s']:.0f}/s at p99 < {target['p99_ms']:.0f} ms: "
            f"{'met' if run['met'] else 'missed'} "
            f"| {run['load_average_before_after'][0]}, {run['load_average_before_after'][1]} |"
        )
    lines.append("")
    for run in report["runs"]:
        rates, p99s = run.get("claims_per_s_range"), run.get("p99_ms_range")
        if rates and p99s:
            lines.append(
                f"- {run['backend']}, {run['rounds']} rounds: {rates[0]:.0f}-{rates[1]:.0f} "
                f"claims/s, p99 {p99s[0]:.0f}-{p99s[1]:.0f} ms"
            )
    lines += [
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} "
        f"logical CPUs, {info['ram_gb']} GB RAM, Python {info['python']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on each backend and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--postgres", default=default_postgres_url(), help="PostgreSQL URL")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 clients, 40 cases")
    parser.add_argument("--out", type=Path, default=_BENCH_DIR / "results")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per database (the median is reported)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    clients, cases = (4, 40) if args.quick else (args.clients, args.cases)
    rounds = 1 if args.quick else args.rounds
    backends = args.backends.split(",")
    every: dict[str, list[dict[str, Any]]] = {backend: [] for backend in backends}
    for number in range(1, rounds + 1):
        for backend in backends:
            run = run_backend(backend, clients=clients, cases=cases, postgres_url=args.postgres)
            run["round"] = number
            every[backend].append(run)
            print(
                f"{backend:10} round {number}/{rounds} {run['claims']:5d} claims "
                f"{run['errors']:3d} errors {run['claims_per_s']:7.1f} claims/s  "
                f"p50 {run['p50_ms']:7.1f} ms  p99 {run['p99_ms']:7.1f} ms",
                flush=True,
            )
    runs = [median_run(every[backend]) for backend in backends]
    report = {
        "benchmark": "claims_http",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "server_processes": SERVER_PROCESSES,
        "clients": clients,
        "cases": cases,
        "runs": runs,
        "rounds": [run for backend in backends for run in every[backend]],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "claims_http.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "claims_http.md").write_text(markdown(report))
    print(f"wrote {args.out / 'claims_http.json'} and {args.out / 'claims_http.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
