"""``coupe report``: the capacity report of a period as HTML, CSV, XLSX or JSON."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from services.commands.db import database_url_from_environment
from services.commands.failure import fail
from services.reporting.files import ReportFormat

__all__ = ["register", "report", "summary_line"]

STDOUT = "-"


def register(app: typer.Typer) -> None:
    """Add ``coupe report`` to ``app``."""
    app.command("report")(report)


def _parse_today(value: str | None) -> date:
    if value is None:
        from datetime import UTC, datetime

        from worklist.snapshots import REGION_TIMEZONE

        return datetime.now(UTC).astimezone(REGION_TIMEZONE).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"--today {value!r} is not a day like 2026-12-02") from None


def _check_writable(output: Path) -> None:
    """Refuse a path the file cannot be written to before spending seconds on the report."""
    folder = output.parent
    if output.is_dir():
        raise fail(f"--output {str(output)!r} is a folder: name a file")
    if not folder.is_dir():
        raise fail(f"cannot write {str(output)!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise fail(f"cannot write {str(output)!r}: permission denied")


def _figure(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if unit == "%":
        return f"{value:.0%}"
    return f"{value:,.0f}{unit}" if abs(value) >= 10 else f"{value:,.1f}{unit}"


def summary_line(report: Mapping[str, Any]) -> str:
    """One line of the region's figures: ``2026-W47, region: demand 41,453 min (norm 53,413),
    supply 54,372 min, utilisation 75% (norm 85%), 195 overdue, shortfall ahead -13.6 FTE``."""
    region = report["region"]
    demand, supply = region["demand_minutes"], region["supply_minutes"]
    used, shortfall = region["utilisation"], region["shortfall_fte"]
    norm_used = f" (norm {_figure(used['norm'], '%')})" if used["norm"] is not None else ""
    ahead = shortfall["forecast"]
    return (
        f"{report['period']['label']}, {region['name']}: "
        f"demand {_figure(demand['realisation'])} min (norm {_figure(demand['norm'])}), "
        f"supply {_figure(supply['realisation'])} min, "
        f"utilisation {_figure(used['realisation'], '%')}{norm_used}, "
        f"{_figure(region['overdue_cases']['realisation'])} overdue, "
        f"shortfall over the next 12 weeks "
        f"{'-' if ahead is None else f'{ahead:+.1f} FTE'}"
    )


def report(
    period: Annotated[
        str,
        typer.Option(help="An ISO week (2026-W47), a month (2026-11) or a quarter (2026-Q4)."),
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="The file to write; - for standard output.")
    ],
    output_format: Annotated[
        ReportFormat,
        typer.Option("--format", help="html (charts, tables, summary), csv, xlsx or json."),
    ] = ReportFormat.HTML,
    department: Annotated[
        str | None, typer.Option(help="Only this department's cases and staff (its code).")
    ] = None,
    tumour_group: Annotated[
        str | None, typer.Option(help="Only this tumour group's cases (e.g. lung).")
    ] = None,
    today: Annotated[
        str | None,
        typer.Option(help="Report as of this day (default: today in the region, YYYY-MM-DD)."),
    ] = None,
    norm: Annotated[
        Path | None,
        typer.Option(
            envvar="COUPE_CAPACITY_NORM_FILE",
            help="The norm (budgeted FTE, targets) as TOML; default: the packaged one.",
        ),
    ] = None,
) -> None:
    """Write the capacity report of a period: realisation, norm and forecast of demand,
    supply, utilisation, backlog and turnaround for the region, its departments and tumour
    groups, with a written summary of where the shortfall is."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    from services.reporting.files import render_report
    from worklist.capacity.norm import load_norm
    from worklist.capacity.periods import parse_period
    from worklist.capacity.report import capacity_report
    from worklist.db import make_engine
    from worklist.errors import WorklistError
    from worklist.migrate import is_up_to_date

    to_stdout = output == STDOUT
    if to_stdout and not output_format.is_text:
        raise fail(f"--format {output_format} is binary: give --output a file name")
    target = None if to_stdout else Path(output)
    if target is not None:
        _check_writable(target)
    day = _parse_today(today)
    try:
        chosen = parse_period(period)
        chosen_norm = load_norm(norm)
    except WorklistError as exc:
        raise fail(str(exc)) from exc
    url = database_url_from_environment()
    shown = make_url(url).render_as_string()
    engine = make_engine(url, pool_size=2)
    try:
        if not is_up_to_date(engine):
            raise fail(f"the database {shown} is not migrated: run `coupe db upgrade` first")
        with Session(engine) as session:
            made = capacity_report(
                session,
                chosen,
                today=day,
                department=department,
                tumour_group=tumour_group,
                norm=chosen_norm,
            )
    except OperationalError as exc:
        raise fail(f"cannot use the database {shown}: {exc.orig}") from exc
    except WorklistError as exc:
        raise fail(str(exc)) from exc
    except OverflowError:
        # A period near year 1 or 9999: its history or forecast weeks fall off the calendar.
        raise fail(f"period {period!r} is too far from today to report on") from None
    finally:
        engine.dispose()
    content = render_report(made, output_format)
    errors = Console(stderr=True, highlight=False)
    if target is None:
        typer.echo(content.decode("utf-8"), nl=False)
        errors.print(summary_line(made), markup=False, soft_wrap=True)
        return
    try:
        target.write_bytes(content)
    except OSError as exc:
        raise fail(f"cannot write {output!r}: {exc.strerror or exc}") from exc
    Console(highlight=False).print(
        f"wrote {target} ({output_format}, {len(content):,} bytes)\n{summary_line(made)}",
        markup=False,
        soft_wrap=True,
    )
