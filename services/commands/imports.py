"""``coupe import``: scan the scanner drop folders once or continuously, without the server.

Uses the service's settings (``COUPE_DATA_DIR``, ``COUPE_DATABASE_URL``, ...): files dropped in
``<data>/import/<DEPT>/`` are checked in a worker process and registered as the server would;
their tiling jobs are queued for the server's job runner (``coupe jobs`` lists them). A file
refused goes to the import queue (``GET /imports``, the "Import queue" page). One line per file;
exit 0, or 2 for a usage error (one line, no traceback).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

USAGE_ERROR_EXIT = 2
"""A user's mistake (no database, an unmigrated one): one line, this code."""
INTERRUPTED_EXIT = 130


def register(app: typer.Typer) -> None:
    """Add ``coupe import`` to ``app``."""
    app.command("import")(import_files)


def import_files(
    once: Annotated[
        bool, typer.Option("--once", help="Scan once and exit (default: every poll interval).")
    ] = False,
    settle_s: Annotated[
        float | None,
        typer.Option(
            "--settle-s",
            min=0.0,
            help="Seconds a file must be left alone before it is taken (default: the poll).",
        ),
    ] = None,
) -> None:
    """Import the slides in the scanner drop folders (one line per file)."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.app import prepare_storage
    from services.importer import FolderImporter
    from services.jobs import JobRunner
    from services.settings import Settings
    from worklist.db import make_engine

    console = Console(highlight=False)
    try:
        settings = Settings()
        prepare_storage(settings)
        engine = make_engine(settings.resolved_database_url)
    except (OSError, ValueError, SQLAlchemyError) as exc:
        console.print(Text.assemble(("error:", "red"), f" {exc}"), soft_wrap=True)
        raise typer.Exit(USAGE_ERROR_EXIT) from exc
    runner = JobRunner(engine=engine, settings=settings)
    importer = FolderImporter(engine=engine, settings=settings, runner=runner, settle_s=settle_s)
    try:
        while True:
            try:
                results = importer.scan_once()
            except SQLAlchemyError as exc:
                console.print(
                    Text.assemble(("error:", "red"), f" the database: {exc.args[0]}"),
                    soft_wrap=True,
                )
                raise typer.Exit(USAGE_ERROR_EXIT) from exc
            for result in results:
                problem = f" [{result.problem.value}]" if result.problem else ""
                console.print(
                    Text(f"{result.outcome.value}{problem}: {result.path.name}: {result.reason}"),
                    soft_wrap=True,
                )
            if once:
                if not results:
                    console.print("nothing new in the drop folders")
                return
            time.sleep(settings.import_poll_s)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED_EXIT) from None
    finally:
        runner.close()
        engine.dispose()
