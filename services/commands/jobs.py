"""``coupe jobs``: list the tiling jobs and retry failed ones, without the server.

``coupe jobs list [--status failed] [--limit N]`` prints one line per job (newest first):
id, state, slide, progress, attempts and a failed job's error. ``coupe jobs retry ID...``
queues failed jobs again (audited as the operator who ran it); the server's job runner builds
them. A job that is not failed, or does not exist: one line, exit 2.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from worklist.enums import JobStatus

USAGE_ERROR_EXIT = 2
"""A user's mistake (an unknown job, one not failed): one line, this code."""


def register(app: typer.Typer) -> None:
    """Add ``coupe jobs list`` and ``coupe jobs retry`` to ``app``."""
    jobs_app = typer.Typer(help="Tiling jobs: list them, retry failed ones.")
    jobs_app.command("list")(list_jobs)
    jobs_app.command("retry")(retry_jobs)
    app.add_typer(jobs_app, name="jobs", no_args_is_help=True)


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
    return typer.Exit(code=USAGE_ERROR_EXIT)


def list_jobs(
    status: Annotated[
        JobStatus | None, typer.Option("--status", help="Only jobs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
) -> None:
    """The newest tiling jobs, one line each."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from services.commands.db import database_url_from_environment
    from services.errors import without_server_paths
    from worklist.db import make_engine, read_session
    from worklist.models import TilingJob

    console = Console(highlight=False)
    engine = make_engine(database_url_from_environment(), pool_size=1)
    try:
        with read_session(engine) as session:
            query = select(TilingJob).order_by(TilingJob.id.desc()).limit(limit)
            if status is not None:
                query = query.where(TilingJob.status == status)
            jobs = list(session.scalars(query))
    except SQLAlchemyError as exc:
        raise _fail(console, f"cannot read the jobs: {exc.args[0]}") from exc
    finally:
        engine.dispose()
    if not jobs:
        console.print("no tiling jobs" + (f" {status.value}" if status else ""))
    for job in jobs:
        done = f"{job.tiles_done}/{job.tiles_total}" if job.tiles_total else "-"
        error = f"  {without_server_paths(job.error)}" if job.error else ""
        console.print(
            Text(
                f"{job.id:>6}  {job.status.value:<8}  slide {job.slide_id}  tiles {done}  "
                f"attempts {job.attempts}{error}"
            ),
            soft_wrap=True,
        )


def retry_jobs(
    job_ids: Annotated[list[int], typer.Argument(help="The failed jobs' ids.", min=1)],
) -> None:
    """Queue failed tiling jobs again."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.commands.actor import command_actor
    from services.commands.db import database_url_from_environment
    from worklist.db import make_engine
    from worklist.errors import WorklistError
    from worklist.operations.jobs import retry_job

    console = Console(highlight=False)
    engine = make_engine(database_url_from_environment(), pool_size=1)
    actor = command_actor("coupe-jobs")
    try:
        for job_id in job_ids:
            try:
                job = retry_job(engine=engine, actor=actor, job_id=job_id)
            except (WorklistError, LookupError) as exc:
                raise _fail(console, f"job {job_id}: {exc}") from exc
            except SQLAlchemyError as exc:
                raise _fail(console, f"cannot retry job {job_id}: {exc.args[0]}") from exc
            console.print(f"job {job.id} queued again ({job.status.value})")
    finally:
        engine.dispose()
