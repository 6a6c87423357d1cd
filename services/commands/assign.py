"""``coupe assign``: one automatic assignment round, printed with the reason for every proposal."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.commands.actor import command_actor
from services.commands.db import database_url_from_environment
from worklist.engine import (
    AssignmentPlan,
    CaseSnapshot,
    PathologistSnapshot,
    Proposal,
    Rule,
    Snapshot,
)
from worklist.enums import AssignmentKind

__all__ = ["PlanSummary", "placement", "print_plan", "register", "summarise_plan"]

PLACEMENTS = ("local", "regional", "escalation", "second read")
"""How a proposal places a case: close by, further away, escalated, or a mandatory second read."""


def register(app: typer.Typer) -> None:
    """Add ``coupe assign`` to ``app``."""
    app.command("assign")(assign)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """A round in numbers: proposals by placement, and what was left unplaced."""

    by_placement: dict[str, int]
    unplaced: int

    @property
    def proposals(self) -> int:
        """All proposals."""
        return sum(self.by_placement.values())

    def line(self) -> str:
        """``"12 proposals (8 local, 2 regional, 1 escalation, 1 second read), 3 unplaced"``."""
        parts = ", ".join(f"{self.by_placement[p]} {p}" for p in PLACEMENTS)
        return f"{self.proposals} proposals ({parts}), {self.unplaced} unplaced"


def placement(proposal: Proposal, case: CaseSnapshot, person: PathologistSnapshot) -> str:
    """How ``proposal`` places ``case`` with ``person``: ``local`` when a primary read stays at
    the case's own department, ``regional`` when it goes further away; escalations and second
    reads counted apart."""
    if proposal.rule is Rule.ESCALATION:
        return "escalation"
    if proposal.kind is not AssignmentKind.PRIMARY:
        return "second read"
    return "local" if person.department == case.department else "regional"


def summarise_plan(plan: AssignmentPlan, snapshot: Snapshot) -> PlanSummary:
    """Count ``plan``'s proposals by placement (see :func:`placement`)."""
    cases = {c.case_id: c for c in snapshot.cases}
    people = {p.pathologist_id: p for p in snapshot.pathologists}
    counts = Counter(
        placement(p, cases[p.case_id], people[p.pathologist_id]) for p in plan.proposals
    )
    return PlanSummary({p: counts.get(p, 0) for p in PLACEMENTS}, len(plan.unplaced))


def _parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO time like 2025-03-12T09:00") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def assign(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the proposals; change nothing.")
    ] = False,
    now: Annotated[
        str | None,
        typer.Option(help="Plan as of this ISO time (default: now; a time without zone is UTC)."),
    ] = None,
    region: Annotated[
        Path | None,
        typer.Option(help="Region file whose rules apply (default: the packaged region)."),
    ] = None,
) -> None:
    """Run one automatic assignment round: every proposal with its rule and reason."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from worklist.db import make_engine
    from worklist.errors import WorklistError
    from worklist.migrate import is_up_to_date
    from worklist.region import default_region, load_region
    from worklist.snapshots import auto_assign, load_snapshot

    moment = _parse_now(now)
    url = database_url_from_environment()
    shown = make_url(url).render_as_string()
    try:
        rules = (load_region(region) if region is not None else default_region()).rules
    except WorklistError as exc:
        raise _fail(str(exc)) from exc
    engine = make_engine(url, pool_size=2)
    try:
        if not is_up_to_date(engine):
            raise _fail(f"the database {shown} is not migrated: run `coupe db upgrade` first")
        snapshot = load_snapshot(engine=engine, now=moment, rules=rules)
        plan = auto_assign(
            engine=engine,
            actor=command_actor("coupe-assign"),
            now=moment,
            dry_run=dry_run,
            snapshot=snapshot,
        )
    except OperationalError as exc:
        raise _fail(f"cannot use the database {shown}: {exc.orig}") from exc
    except WorklistError as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
    print_plan(Console(), plan, snapshot, dry_run=dry_run)


def _due(moment: datetime) -> str:
    from worklist.snapshots import REGION_TIMEZONE

    return moment.astimezone(REGION_TIMEZONE).strftime("%a %d %b %H:%M")


def print_plan(
    console: Console, plan: AssignmentPlan, snapshot: Snapshot, *, dry_run: bool
) -> None:
    """The proposals, the unplaced cases with why, and a summary line."""
    from worklist.snapshots import REGION_TIMEZONE

    cases = {c.case_id: c for c in snapshot.cases}
    people = {p.pathologist_id: p for p in snapshot.pathologists}
    when = snapshot.now.astimezone(REGION_TIMEZONE).strftime("%Y-%m-%d %H:%M %Z")
    title = f"{'Proposed' if dry_run else 'Made'} assignments as of {when}"
    table = Table(title=title, show_lines=False)
    for column in ("case", "priority", "due", "pathologist", "dept", "rule", "reason"):
        table.add_column(column, overflow="fold")
    for proposal in plan.proposals:
        case, person = cases[proposal.case_id], people[proposal.pathologist_id]
        kind = "" if proposal.kind is AssignmentKind.PRIMARY else f" ({proposal.kind.value})"
        table.add_row(
            case.accession + kind,
            case.priority.value,
            _due(case.due_at),
            person.name,
            person.department,
            proposal.rule.value,
            proposal.reason,
        )
    if plan.proposals:
        console.print(table)
    if plan.unplaced:
        left = Table(title="Unplaced")
        for column in ("case", "priority", "due", "kind", "why"):
            left.add_column(column, overflow="fold")
        for item in plan.unplaced:
            case = cases[item.case_id]
            left.add_row(
                case.accession, case.priority.value, _due(case.due_at), item.kind.value, item.reason
            )
        console.print(left)
    summary = summarise_plan(plan, snapshot).line()
    verdict = "dry run: nothing was changed" if dry_run else "applied"
    console.print(f"{summary}; {verdict}.")
