"""The worklist step of ``coupe demo``: a week of the region's cases, one assignment round.

Builds ``DATA_DIR/demo/worklist.sqlite3`` (the default database of the data directory
``DATA_DIR/demo``) from scratch every time (so the demo can be re-run), imports the packaged
six-department region, registers a seeded synthetic week of scanned cases, runs one automatic
assignment round on the Monday morning after, and shows what happened: who is present, what
arrived, where the cases went and why, and that the audit chain verifies.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.commands.assign import summarise_plan
from worklist.actor import Actor
from worklist.audit import verify_audit_chain
from worklist.db import DEFAULT_DATABASE_FILE, make_engine, read_session
from worklist.engine import AssignmentPlan, Snapshot
from worklist.enums import AssignmentKind
from worklist.migrate import upgrade_database
from worklist.operations import intake_cases
from worklist.region import default_region
from worklist.seeding import import_region
from worklist.snapshots import auto_assign, load_snapshot
from worklist.synthetic import case_stream

__all__ = ["DEMO_DATABASE", "DEMO_NOW", "DEMO_WEEK_START", "run_worklist_demo"]

DEMO_DATABASE = Path("demo") / DEFAULT_DATABASE_FILE
"""The demo database, relative to the data directory."""
DEMO_WEEK_START = date(2025, 3, 3)
"""The Monday the demo's week of arrivals begins."""
DEMO_NOW = datetime(2025, 3, 10, 7, 30, tzinfo=UTC)
"""The round runs on the Monday morning after the week (08:30 in the Netherlands)."""
DEMO_SEED = 7
DEMO_CASES_PER_YEAR = 60_000
"""About half the region's volume: the demo's pathologists are its planned staff, not all of it."""


def _reset(database: Path) -> str:
    """Remove the demo database (and SQLite's WAL files) and return its URL."""
    database.parent.mkdir(parents=True, exist_ok=True)
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        path.unlink(missing_ok=True)
    return f"sqlite+pysqlite:///{database.resolve()}"


def run_worklist_demo(console: Console, data_dir: Path) -> None:
    """Run the worklist demo in ``data_dir/demo/worklist.sqlite3`` and print it on ``console``."""
    url = _reset(Path(data_dir) / DEMO_DATABASE)
    region = default_region()
    system = Actor.system("coupe-demo")
    upgrade_database(url)
    engine = make_engine(url, pool_size=2)
    try:
        import_region(engine=engine, actor=system, region=region)
        arrivals = case_stream(
            start=DEMO_WEEK_START, days=7, seed=DEMO_SEED, cases_per_year=DEMO_CASES_PER_YEAR
        )
        intake_cases(engine=engine, actor=system, cases=arrivals, now=DEMO_NOW)
        snapshot = load_snapshot(engine=engine, now=DEMO_NOW, rules=region.rules)
        plan = auto_assign(engine=engine, actor=system, now=DEMO_NOW, snapshot=snapshot)
        with read_session(engine) as session:
            verification = verify_audit_chain(session)
    finally:
        engine.dispose()

    console.rule("Coupe demo: the regional worklist")
    console.print(
        f"{region.name}: {len(arrivals):,} synthetic cases arrived in the week of "
        f"{DEMO_WEEK_START:%d %B %Y} (seed {DEMO_SEED}); one assignment round on "
        f"{DEMO_NOW:%A %d %B} at 08:30."
    )
    console.print(_presence_table(snapshot))
    console.print(_arrivals_table(snapshot))
    _print_round(console, plan, snapshot)
    if verification.ok:
        console.print(
            "Audit chain: [green]intact[/green], "
            f"{verification.records_checked:,} records verified."
        )
    else:
        console.print(
            f"Audit chain: [red]{len(verification.problems)} problem(s)[/red] in "
            f"{verification.records_checked:,} records: {verification.problems[0].message}"
        )
    console.print(f"Database: {Path(data_dir) / DEMO_DATABASE}")


def _presence_table(snapshot: Snapshot) -> Table:
    table = Table(title="Departments and pathologists present today")
    for column in ("department", "pathologists", "present", "capacity today (min)"):
        table.add_column(column, justify="left" if column == "department" else "right")
    departments = sorted({p.department for p in snapshot.pathologists})
    for department in departments:
        staff = [p for p in snapshot.pathologists if p.department == department]
        present = [p for p in staff if p.present]
        capacity = sum(p.capacity_today_minutes for p in present)
        table.add_row(department, str(len(staff)), str(len(present)), f"{capacity:,.0f}")
    return table


def _arrivals_table(snapshot: Snapshot) -> Table:
    """Cases waiting for a primary read, by tumour group (rows) and department (columns)."""
    waiting = [c for c in snapshot.cases if c.primary_pathologist_id is None]
    counts = Counter((c.subspecialty, c.department) for c in waiting)
    departments = sorted({c.department for c in waiting})
    groups = sorted({c.subspecialty for c in waiting})
    table = Table(title="Cases waiting, by tumour group and department")
    table.add_column("tumour group")
    for department in [*departments, "total"]:
        table.add_column(department, justify="right")
    for group in groups:
        row = [counts.get((group, d), 0) for d in departments]
        table.add_row(group, *(str(n) for n in row), str(sum(row)))
    totals = [sum(counts.get((g, d), 0) for g in groups) for d in departments]
    table.add_row("total", *(str(n) for n in totals), str(sum(totals)), style="bold")
    return table


def _print_round(console: Console, plan: AssignmentPlan, snapshot: Snapshot) -> None:
    summary = summarise_plan(plan, snapshot)
    table = Table(title="The round: close by when possible, further away when needed")
    table.add_column("placement")
    table.add_column("cases", justify="right")
    for placement, count in summary.by_placement.items():
        table.add_row(placement, f"{count:,}")
    table.add_row("unplaced", f"{summary.unplaced:,}", style="dim")
    console.print(table)
    console.print(f"{summary.line()}.")
    console.print("Example reasons:")
    seen: set[str] = set()
    examples = []
    for proposal in plan.proposals:
        if proposal.rule.value not in seen:
            seen.add(proposal.rule.value)
            examples.append(f"[{proposal.rule.value}] {proposal.reason}")
    examples += [
        f"[unplaced] {u.reason}" for u in plan.unplaced if u.kind is AssignmentKind.PRIMARY
    ][:1]
    examples += [f"[{p.rule.value}] {p.reason}" for p in plan.proposals[1:]]
    for example in list(dict.fromkeys(examples))[:5]:
        console.print(f"  - {example}", markup=False, highlight=False)
