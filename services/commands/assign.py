"""``coupe assign``: preview an assignment round (stored), or apply one; text, JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.commands.actor import command_actor
from services.commands.db import database_url_from_environment
from services.commands.failure import fail
from worklist.engine import (
    AssignmentPlan,
    CaseSnapshot,
    PathologistSnapshot,
    Proposal,
    Rule,
    Snapshot,
)
from worklist.enums import AssignmentKind

if TYPE_CHECKING:
    from services.schemas.rounds import RoundPublic

__all__ = [
    "OutputFormat",
    "PlanSummary",
    "placement",
    "print_plan",
    "print_round",
    "register",
    "round_csv",
    "summarise_plan",
]

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


class OutputFormat(StrEnum):
    """How ``coupe assign`` prints a round."""

    TEXT = "text"
    JSON = "json"
    CSV = "csv"


def assign(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Apply the round (all its proposals); without it the round is only previewed.",
        ),
    ] = False,
    round_id: Annotated[
        int | None,
        typer.Option("--round", help="With --apply: apply this stored (previewed) round."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Preview only (the default); kept for scripts.")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="text (a summary), json or csv.")
    ] = OutputFormat.TEXT,
    details: Annotated[
        bool, typer.Option("--details", help="Text: every proposal with its rule and reason.")
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
    """Preview an assignment round (stored; nothing assigned), or --apply one.

    By default prints a summary per pathologist; --details lists every proposal with its rule
    and reason, --format json|csv the whole round for a script.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from services.schemas.rounds import RoundPublic
    from worklist.db import make_engine
    from worklist.errors import WorklistError
    from worklist.migrate import is_up_to_date
    from worklist.region import default_region, load_region
    from worklist.rounds import apply_round, get_round, plan_round

    if dry_run and apply:
        raise fail("--dry-run and --apply contradict each other")
    if round_id is not None and not apply:
        raise fail("--round needs --apply (GET the preview with `coupe assign` again)")
    moment = _parse_now(now)
    url = database_url_from_environment()
    shown = make_url(url).render_as_string()
    try:
        rules = (load_region(region) if region is not None else default_region()).rules
    except WorklistError as exc:
        raise fail(str(exc)) from exc
    engine = make_engine(url, pool_size=2)
    actor = command_actor("coupe-assign")
    try:
        if not is_up_to_date(engine):
            raise fail(f"the database {shown} is not migrated: run `coupe db upgrade` first")
        if round_id is None:
            round_id, _, _ = plan_round(engine=engine, actor=actor, now=moment, rules=rules)
        if apply:
            view = apply_round(
                engine=engine, actor=actor, round_id=round_id, now=moment, rules=rules
            )
        else:
            view = get_round(engine=engine, actor=actor, round_id=round_id)
    except OperationalError as exc:
        raise fail(f"cannot use the database {shown}: {exc.orig}") from exc
    except WorklistError as exc:
        raise fail(str(exc)) from exc
    finally:
        engine.dispose()
    public = RoundPublic.of(view)
    if output is OutputFormat.JSON:
        typer.echo(public.model_dump_json(indent=2))
    elif output is OutputFormat.CSV:
        typer.echo(round_csv(public), nl=False)
    else:
        print_round(Console(), public, details=details)


def round_csv(public: RoundPublic) -> str:
    """One line per proposal (applied or not), with a header."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in public.proposals:
        writer.writerow(
            [
                public.id,
                p.id,
                p.accession,
                p.kind,
                p.assignee_name,
                p.department_code,
                p.rule,
                p.placement,
                f"{p.minutes:.1f}",
                p.overloaded,
                p.applied,
                p.reason,
            ]
        )
    return buffer.getvalue()


CSV_COLUMNS = (
    "round",
    "proposal",
    "case",
    "kind",
    "pathologist",
    "department",
    "rule",
    "placement",
    "minutes",
    "overloaded",
    "applied",
    "reason",
)


def print_round(console: Console, public: RoundPublic, *, details: bool) -> None:
    """A summary per pathologist who gets work (or details), the unplaced count, what next."""
    applied = public.status == "applied"
    counted = [p for p in public.proposals if p.applied or not applied]
    if details:
        table = Table(title=f"Round {public.id}: {'made' if applied else 'proposed'} assignments")
        for column in ("case", "pathologist", "dept", "placement", "rule", "reason"):
            table.add_column(column, overflow="fold")
        for p in counted:
            kind = "" if p.kind == "primary" else f" ({p.kind})"
            place = p.placement + (" (overloaded)" if p.overloaded else "")
            table.add_row(
                p.accession + kind, p.assignee_name, p.department_code, place, p.rule, p.reason
            )
        console.print(table)
        if public.unplaced:
            left = Table(title="Unplaced")
            for column in ("case", "kind", "why"):
                left.add_column(column, overflow="fold")
            for u in public.unplaced:
                left.add_row(u.accession, u.kind, u.reason)
            console.print(left)
    else:
        table = Table(title=f"Round {public.id}: load per pathologist who gets work")
        for column in ("pathologist", "dept", "proposals", "minutes", "overloaded", "load after"):
            table.add_column(column)
        overloaded = Counter(p.pathologist_code for p in counted if p.overloaded)
        for row in public.load:
            if row.proposals == 0:
                continue
            after = row.relative_load_after
            table.add_row(
                row.name,
                row.department_code,
                str(row.proposals),
                f"{row.proposed_minutes:,.0f}",
                str(overloaded.get(row.pathologist_code, 0)),
                "-" if after is None else f"{after:.0%}",
            )
        if table.row_count:
            console.print(table)
    places = Counter(p.placement for p in counted)
    parts = ", ".join(f"{places.get(p, 0)} {p}" for p in PLACEMENTS)
    line = f"{len(counted)} proposals ({parts}), {len(public.unplaced)} unplaced"
    if applied:
        console.print(f"{line}; round {public.id} applied.")
    else:
        console.print(
            f"{line}; preview only, nothing was changed: apply it with "
            f"`coupe assign --apply --round {public.id}`."
        )


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
