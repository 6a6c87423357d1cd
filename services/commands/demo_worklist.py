"""The worklist step of ``coupe demo``: a week of the region's cases up to today, and the round.

Into the data directory's default database (made fresh by the caller) it imports the packaged
six-department region and the 65 weeks before the week as signed-out history (what the
capacity reports look back on: :mod:`worklist.synthetic_history`), takes in a seeded synthetic
week of scanned cases whose last day is today, each case's slides pointing at the demo's
real-tissue slide files (:mod:`services.commands.demo_slides`), and runs the automatic
assignment round now. On a weekend nobody is rostered, so Friday morning's round comes first,
as it would have in the region. Then it shows what happened: who is present, what arrived,
where the cases went and why, and that the audit chain verifies.

Only the date changes the demo: the cases, their slides and the round are the same for a seed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from services.commands.assign import summarise_plan
from services.commands.demo_slides import DemoTissue, with_demo_slides
from worklist.actor import Actor
from worklist.audit import verify_audit_chain
from worklist.db import read_session
from worklist.engine import AssignmentPlan, Snapshot
from worklist.enums import AssignmentKind
from worklist.operations.intake import CaseIntake, intake_cases
from worklist.region import default_region
from worklist.seeding import import_region
from worklist.snapshots import auto_assign, load_snapshot
from worklist.synthetic import case_stream
from worklist.synthetic_history_insert import seed_history

__all__ = ["DEMO_SEED", "WorklistDemo", "demo_rounds", "run_worklist_demo"]

DEMO_SEED = 7
DEMO_DAYS = 7
"""The demo's arrivals: the seven days that end today."""
DEMO_CASES_PER_YEAR = 60_000
"""About half the region's volume: the demo's pathologists are its planned staff, not all of it."""
DEMO_HISTORY_DAYS = 455
"""The signed-out history before the week: 65 weeks, as the forecast fits a trend from 60 on
(:data:`worklist.capacity.forecast.TREND_MIN_DAYS`) and yearly seasonality from 52."""
MORNING_ROUND_UTC = time(7, 30)
"""A weekday's round (08:30 in the Netherlands), for the one before a weekend's demo."""
_FRIDAY = 4


@dataclass(frozen=True)
class WorklistDemo:
    """What the worklist step made: the last round and its snapshot (who was present)."""

    now: datetime
    snapshot: Snapshot
    plan: AssignmentPlan
    cases: int


def demo_rounds(now: datetime) -> tuple[datetime, ...]:
    """When the demo's assignment rounds run: now, after Friday morning's on a weekend."""
    today = now.date()
    if today.weekday() <= _FRIDAY:
        return (now,)
    friday = today - timedelta(days=today.weekday() - _FRIDAY)
    return (datetime.combine(friday, MORNING_ROUND_UTC, tzinfo=UTC), now)


def _arrivals(now: datetime, tissues: Sequence[DemoTissue]) -> list[CaseIntake]:
    """The seeded week ending today; today's cases that would arrive after now arrive by now."""
    start: date = now.date() - timedelta(days=DEMO_DAYS - 1)
    stream = case_stream(
        start=start, days=DEMO_DAYS, seed=DEMO_SEED, cases_per_year=DEMO_CASES_PER_YEAR
    )
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    latest = max(midnight, now - timedelta(minutes=1))
    arrived = [
        replace(case, received_at=min(case.received_at, latest)) if case.received_at else case
        for case in stream
    ]
    return with_demo_slides(arrived, tissues, seed=DEMO_SEED)


def run_worklist_demo(
    console: Console, *, engine: Engine, now: datetime, tissues: Sequence[DemoTissue]
) -> WorklistDemo:
    """Fill ``engine``'s empty database with the region, the week and the round(s) at ``now``,
    and tell the story on ``console``."""
    region = default_region()
    system = Actor.system("coupe-demo")
    import_region(engine=engine, actor=system, region=region)
    week_start = now.date() - timedelta(days=DEMO_DAYS - 1)
    # The year before the week, all signed out: what the capacity reports look back on.
    history = seed_history(
        engine,
        region,
        today=now.date(),
        end=week_start,
        days=DEMO_HISTORY_DAYS,
        seed=DEMO_SEED,
        actor=system,
    )
    arrivals = _arrivals(now, tissues)
    taken = 0
    plan: AssignmentPlan | None = None
    snapshot: Snapshot | None = None
    for moment in demo_rounds(now):
        batch = [c for c in arrivals[taken:] if c.received_at is None or c.received_at <= moment]
        intake_cases(engine=engine, actor=system, cases=batch, now=moment)
        taken += len(batch)
        snapshot = load_snapshot(engine=engine, now=moment, rules=region.rules)
        plan = auto_assign(engine=engine, actor=system, now=moment, snapshot=snapshot)
    assert plan is not None and snapshot is not None
    with read_session(engine) as session:
        verification = verify_audit_chain(session)

    console.print(
        f"{region.name}: {len(arrivals):,} synthetic cases arrived from "
        f"{week_start:%A %d %B} to today, {now:%A %d %B %Y} (seed {DEMO_SEED}); "
        f"the assignment round ran at {now:%H:%M} UTC."
    )
    console.print(
        f"Before that week, a year of history: {history.cases:,} cases signed out "
        f"({history.waits:,} of them waited on a molecular test or an external consult)."
    )
    if len(demo_rounds(now)) > 1:
        console.print("Nobody is rostered at weekends: Friday morning's round ran first.")
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
    return WorklistDemo(now=now, snapshot=snapshot, plan=plan, cases=len(arrivals))


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
