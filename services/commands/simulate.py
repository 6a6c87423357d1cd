"""``coupe simulate``: the region under routing policies, compared (what sharing buys)."""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.commands.db import database_url_from_environment
from services.commands.failure import fail

if TYPE_CHECKING:
    from worklist.region import Region
    from worklist.simulation.arrivals import Arrival

__all__ = [
    "DEFAULT_CASES_PER_YEAR",
    "DEFAULT_START",
    "SimulationFormat",
    "register",
    "simulation_html",
]

DEFAULT_START = date(2025, 3, 3)
"""The synthetic stream's first day: a Monday in the packaged region's year of absences."""
DEFAULT_CASES_PER_YEAR = 60_000.0
"""The demo's volume (services.commands.demo_worklist.DEMO_CASES_PER_YEAR)."""

_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # key in a policy's result, column heading, format
    ("name", "policy", "s"),
    ("tat_p50_days", "TAT P50 (days)", ".2f"),
    ("tat_p90_days", "TAT P90 (days)", ".2f"),
    ("pct_within_target", "% within target", ".1f"),
    ("unreported", "not reported", ",d"),
    ("utilisation", "utilisation", ".1%"),
    ("balance_gini", "balance (Gini)", ".3f"),
    ("moved_cases", "cases moved", ",d"),
    ("moved_second_reads", "second reads elsewhere", ",d"),
    ("travel_km_cases", "km (cases)", ",.0f"),
    ("travel_km_second_reads", "km (second reads)", ",.0f"),
)


class SimulationFormat(StrEnum):
    """What ``coupe simulate`` writes."""

    JSON = "json"
    HTML = "html"


class Source(StrEnum):
    """Where the arrivals come from."""

    SYNTHETIC = "synthetic"
    HISTORY = "history"


def register(app: typer.Typer) -> None:
    """Add ``coupe simulate`` to ``app``."""
    app.command("simulate")(simulate)


def simulate(
    output: Annotated[Path, typer.Option("--output", help="File to write the comparison to.")],
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policies: local, regional, wide-escalation, "
            "early-escalation, no-continuity."
        ),
    ] = "local,regional",
    weeks: Annotated[int, typer.Option(help="Weeks of arrivals (1-104).")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic stream.")] = 1,
    source: Annotated[
        Source,
        typer.Option(help="synthetic (the seeded stream) or history (the database's cases)."),
    ] = Source.SYNTHETIC,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day of arrivals, ISO date (default: 2025-03-03 for synthetic; for "
            "history the Monday --weeks weeks before this week's)."
        ),
    ] = None,
    cases_per_year: Annotated[
        float, typer.Option(help="Synthetic: the region's volume per year.")
    ] = DEFAULT_CASES_PER_YEAR,
    region: Annotated[
        Path | None,
        typer.Option(help="Region file: departments, rosters, rules (default: the packaged one)."),
    ] = None,
    output_format: Annotated[
        SimulationFormat, typer.Option("--format", help="json (the results) or html (a page).")
    ] = SimulationFormat.JSON,
) -> None:
    """Simulate the region under routing policies on the same arrivals and rosters.

    The assignment engine decides every assignment; a policy only restricts what it sees
    (``local``: each department alone) or varies one of its rules. Writes TAT P50/P90, % within
    target, utilisation, balance, cases moved and the travel they mean, per policy.
    """
    from worklist.errors import WorklistError
    from worklist.region import default_region, load_region
    from worklist.simulation.model import simulate_policies
    from worklist.simulation.policies import parse_policies
    from worklist.simulation.results import compare

    if not 1 <= weeks <= 104:
        raise fail(f"--weeks must lie in 1..104, got {weeks}")
    if cases_per_year <= 0:
        raise fail(f"--cases-per-year must be positive, got {cases_per_year:g}")
    if not output.parent.is_dir():
        raise fail(f"cannot write {output}: the folder {output.parent} does not exist")
    try:
        chosen = parse_policies(policies)
        the_region = load_region(region) if region is not None else default_region()
        first_day = _start(start, source, weeks)
        arrivals = _arrivals(source, first_day, weeks, seed, cases_per_year, the_region)
        runs = simulate_policies(the_region, arrivals, chosen, start=first_day, weeks=weeks)
        result = compare(
            runs,
            the_region,
            source=source.value,
            seed=seed if source is Source.SYNTHETIC else None,
        )
    except WorklistError as exc:
        raise fail(str(exc)) from exc
    text = (
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        if output_format is SimulationFormat.JSON
        else simulation_html(result)
    )
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from exc
    _print_table(Console(), result)
    typer.echo(f"wrote {output} ({output_format.value})")


def _start(value: str | None, source: Source, weeks: int) -> date:
    if value is not None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise fail(f"--start {value!r} is not an ISO date like 2025-03-03") from None
    if source is Source.SYNTHETIC:
        return DEFAULT_START
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday(), weeks=weeks)


def _arrivals(
    source: Source, first_day: date, weeks: int, seed: int, cases_per_year: float, region: Region
) -> list[Arrival]:
    from worklist.simulation.arrivals import recorded_arrivals, synthetic_arrivals

    if source is Source.SYNTHETIC:
        return synthetic_arrivals(
            start=first_day,
            weeks=weeks,
            seed=seed,
            cases_per_year=cases_per_year,
            departments=[d.code for d in region.departments],
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from worklist.db import make_engine, read_session
    from worklist.migrate import is_up_to_date

    url = database_url_from_environment()
    shown = make_url(url).render_as_string()
    engine = make_engine(url, pool_size=2)
    try:
        if not is_up_to_date(engine):
            raise fail(f"the database {shown} is not migrated: run `coupe db upgrade` first")
        with read_session(engine) as session:
            arrivals = recorded_arrivals(session, start=first_day, weeks=weeks)
    except OperationalError as exc:
        raise fail(f"cannot use the database {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()
    if not arrivals:
        raise fail(
            f"the database {shown} has no cases received in the {weeks} weeks from {first_day}"
        )
    known = {d.code for d in region.departments}
    return [a for a in arrivals if a.department in known]


def _cell(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def _print_table(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"{result['region']}: {result.get('cases', 0):,} cases")
    for _, heading, _ in _COLUMNS:
        table.add_column(heading, justify="left" if heading == "policy" else "right")
    for policy in result["policies"]:
        table.add_row(*(_cell(policy[key], spec) for key, _, spec in _COLUMNS))
    console.print(table)


def simulation_html(result: dict[str, Any]) -> str:
    """A self-contained page with the comparison table (every text escaped)."""
    e = html.escape
    head = "".join(f"<th scope='col'>{e(heading)}</th>" for _, heading, _ in _COLUMNS)
    rows = []
    for policy in result["policies"]:
        cells = [f"<th scope='row'>{e(policy['name'])}</th>"]
        cells += [f"<td>{e(_cell(policy[key], spec))}</td>" for key, _, spec in _COLUMNS[1:]]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    described = "".join(
        f"<li><strong>{e(p['name'])}</strong>: {e(p['description'])}</li>"
        for p in result["policies"]
    )
    departments = _departments_html(result)
    title = f"What sharing buys: {result['region']}"
    facts = (
        f"{result.get('cases', 0):,} cases ({result['source']}"
        + (f", seed {result['seed']}" if result.get("seed") is not None else "")
        + f") over {result.get('weeks', 0)} weeks from {result.get('start', '')}, "
        f"{result.get('pathologists', 0)} pathologists; the work went on "
        f"{result.get('drain_days', 0)} days after the last arrival."
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #bbb; padding: 0.3rem 0.6rem; text-align: right; }}
th[scope=row], thead th:first-child {{ text-align: left; }}
thead th {{ background: #eef; }}
</style></head>
<body>
<h1>{e(title)}</h1>
<p>{e(facts)}</p>
<table aria-label="Policies compared"><thead><tr>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<ul>{described}</ul>
{departments}
<p>Turnaround over the cases reported by the end; "% within target" counts a case never
reported as late. Utilisation: signed-out workload minutes over supply, in the weeks of arrivals.
Travel: one-way road km between the two departments' cities for each read done elsewhere.</p>
</body></html>
"""


def _departments_html(result: dict[str, Any]) -> str:
    e = html.escape
    policies = result["policies"]
    if not policies:
        return ""
    codes = [d["code"] for d in policies[0]["departments"]]
    head = "<th scope='col'>department</th>" + "".join(
        f"<th scope='col'>{e(p['name'])}: utilisation / P90 / % within</th>" for p in policies
    )
    rows = []
    for index, code in enumerate(codes):
        cells = [f"<th scope='row'>{e(code)}</th>"]
        for p in policies:
            d = p["departments"][index]
            text = (
                f"{_cell(d['utilisation'], '.1%')} / {_cell(d['tat_p90_days'], '.2f')} / "
                f"{_cell(d['pct_within_target'], '.1f')}"
            )
            cells.append(f"<td>{e(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        "<h2>Per department</h2><table aria-label='Per department'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
