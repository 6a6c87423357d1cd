"""``coupe audit verify`` and ``coupe audit export``: the NEN 7513 log from the command line.

``verify`` seals what is waiting, then checks the whole hash chain: exit 0 when intact, else
one line per problem and exit 1. ``export`` writes what a patient may ask for: who looked at
their data, when, where and why, as CSV; the export itself is recorded (``audit.export``)
before any line is written. A user's mistake (a folder for a file, an unmigrated database) is
one line and exit 2, never a traceback.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from services.commands.actor import command_actor
from services.commands.db import database_url_from_environment
from services.commands.failure import fail
from services.schemas.audit import AuditRecord

USAGE_ERROR_EXIT = 2
"""A user's mistake: one line, this code (as ``coupe tile``'s)."""
BROKEN_CHAIN_EXIT = 1
"""``verify`` found the log tampered with (or damaged)."""
INTERRUPTED_EXIT = 130
"""Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""

EXPORT_COLUMNS = (
    "when",
    "who",
    "on_behalf_of",
    "role",
    "department",
    "what",
    "action",
    "case",
    "outcome",
    "why",
    "break_glass",
)
"""The export's header: time (UTC), account, the person a platform component acted for, role,
department code, event type, action code, accession number, outcome, purpose of use, and
whether it was an emergency (break-the-glass) access."""

# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    """What ``coupe audit export`` writes."""

    CSV = "csv"


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to ``app``."""
    audit_app = typer.Typer(help="The NEN 7513 audit log: verify it, export it.")
    audit_app.command("verify")(verify)
    audit_app.command("export")(export)
    app.add_typer(audit_app, name="audit", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    return fail(message, code=USAGE_ERROR_EXIT)


@contextmanager
def _audit_database() -> Iterator[Engine]:
    """The migrated database of ``COUPE_DATABASE_URL`` / ``COUPE_DATA_DIR``; errors as one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from worklist.db import make_engine
    from worklist.errors import WorklistError
    from worklist.migrate import is_up_to_date

    url = database_url_from_environment()
    shown = make_url(url).render_as_string()
    try:
        engine = make_engine(url, pool_size=1)
    except ValueError as exc:
        raise _fail(f"cannot use the database {shown}: {exc}") from exc
    try:
        if not is_up_to_date(engine):
            raise _fail(f"the database {shown} is not migrated: run `coupe db upgrade` first")
        yield engine
    except OperationalError as exc:
        raise _fail(f"cannot use the database {shown}: {exc.orig}") from exc
    except WorklistError as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()


def verify() -> None:
    """Seal the records waiting for the chain, then check every record: exit 0 when the log is
    intact, else one line per problem (edited, deleted, reordered records) and exit 1."""
    from worklist.audit import seal_pending, verify_audit_chain
    from worklist.db import read_session

    # The sealer warns of a record that fails its hash; the problem lines below say it.
    logging.getLogger("worklist.audit").addHandler(logging.NullHandler())
    logging.getLogger("worklist.audit").propagate = False
    try:
        with _audit_database() as engine:
            seal_pending(engine)
            with read_session(engine) as session:
                result = verify_audit_chain(session)
    except KeyboardInterrupt:
        raise _interrupted() from None
    if result.ok:
        waiting = f" ({result.unsealed} not sealed yet)" if result.unsealed else ""
        typer.echo(f"audit log intact: {result.records_checked} records checked{waiting}")
        return
    for problem in result.problems:
        typer.echo(f"{problem.kind}: {problem.message}")
    Console(stderr=True).print(
        f"audit log broken: {len(result.problems)} problems in "
        f"{result.records_checked} records checked",
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(code=BROKEN_CHAIN_EXIT)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def export_rows(records: Iterable[AuditRecord]) -> Iterator[list[str]]:
    """The CSV lines of ``records`` under :data:`EXPORT_COLUMNS`, header first."""
    yield list(EXPORT_COLUMNS)
    for record in records:
        case = record.accession_number or (str(record.case_id) if record.case_id else "")
        yield [
            _cell(value)
            for value in (
                record.occurred_at.isoformat(timespec="seconds"),
                record.user,
                record.on_behalf_of,
                record.role,
                record.site,
                record.event_type,
                record.action.value,
                case,
                record.outcome.value,
                record.purpose_of_use,
                "yes" if record.break_glass else "no",
            )
        ]


def _check_output(output: Path) -> None:
    """Refuse, before anything is read or recorded, a file that cannot be written."""
    if output.is_dir():
        raise _fail(f"{output} is a folder; name a file to write the export to")
    if not output.parent.is_dir():
        raise _fail(f"cannot write {output}: the folder {output.parent} does not exist")
    if not os.access(output.parent, os.W_OK) or (
        output.exists() and not os.access(output, os.W_OK)
    ):
        raise _fail(f"cannot write {output}: permission denied")


def _write_private(output: Path, text: str) -> None:
    """Write ``text`` to ``output`` whole or not at all, readable by its owner only: it holds a
    patient's data."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "w", newline="", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _fail(f"cannot write {output}: {exc.strerror}") from exc


def _interrupted() -> typer.Exit:
    Console(stderr=True).print("interrupted; run the same command again", soft_wrap=True)
    return typer.Exit(code=INTERRUPTED_EXIT)


def export(
    patient: Annotated[
        str, typer.Option("--patient", help="The patient's pseudonym, as the log records it.")
    ],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", help="The file format.")
    ] = ExportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Every record of one patient's data, oldest first: when, who (and for whom), role,
    department, what, case, outcome, why, break-the-glass. The export is itself audited."""
    from services.audit_queries import (
        EXPORT_EVENT,
        REVIEW_PURPOSE,
        AuditFilter,
        audit_events,
        record_reading,
    )
    from worklist.db import read_session

    if not patient or len(patient) > 64 or not patient.isprintable():
        raise _fail("--patient: give the pseudonym (1-64 printable characters)")
    if output is not None:
        _check_output(output)
    where = AuditFilter(patient_pseudonym=patient)
    try:
        with _audit_database() as engine:
            with read_session(engine) as session:
                records = list(audit_events(session, where=where))
            # Recorded before a line is written: if it cannot be, nothing leaves.
            record_reading(
                engine,
                actor=command_actor("coupe-audit", purpose=REVIEW_PURPOSE),
                event_type=EXPORT_EVENT,
                detail={
                    "filters": where.as_detail(),
                    "format": export_format.value,
                    "records": len(records),
                    "to": "file" if output is not None else "stdout",
                },
            )
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerows(export_rows(records))
        if output is None:
            typer.echo(buffer.getvalue(), nl=False)
            return
        _write_private(output, buffer.getvalue())
    except KeyboardInterrupt:
        raise _interrupted() from None
    Console(stderr=True).print(
        f"{len(records)} records of patient {patient} written to {output}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
