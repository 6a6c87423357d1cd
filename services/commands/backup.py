"""``coupe backup DIR`` and ``coupe restore DIR``: the installation to a folder and back.

Both read the installation from ``COUPE_DATA_DIR`` / ``COUPE_DATABASE_URL``, as ``coupe serve``
does. A user's mistake (a folder that is not empty, a damaged backup, a missing ``pg_dump``) is
one line and exit 2, never a traceback; a restore whose final check finds a difference says
each one and exits 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from services.commands.actor import command_actor
from services.commands.failure import fail

if TYPE_CHECKING:
    from services.settings import Settings

USAGE_ERROR_EXIT = 2
"""A user's mistake: one line, this code (as ``coupe tile``'s)."""
CHECK_FAILED_EXIT = 1
"""The restored installation does not match its manifest."""
INTERRUPTED_EXIT = 130
"""Ctrl-C, as shells report a process ended by SIGINT (128 + 2)."""
LINE_EVERY_FILES = 1000
"""Without a terminal (a log, a cron job), one progress line per this many files."""
_LINE_EVERY_S = 10.0


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to ``app``."""
    app.command("backup", short_help="Back up the database, slide files and pyramids.")(backup)
    app.command("restore", short_help="Restore a backup into an empty installation.")(restore)


def _settings() -> Settings:
    from pydantic import ValidationError

    from services.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"COUPE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise fail(problems, code=USAGE_ERROR_EXIT) from exc


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """What goes wrong on the way, as one line: a backup's own errors, the database, the disk."""
    from sqlalchemy.exc import DBAPIError

    from services.backup_manifest import BackupError
    from worklist.errors import WorklistError

    try:
        yield
    except (BackupError, WorklistError) as exc:
        raise fail(str(exc), code=USAGE_ERROR_EXIT) from exc
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())  # psycopg's messages run over several lines
        raise fail(f"cannot use the database: {reason}", code=USAGE_ERROR_EXIT) from exc
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        raise fail(f"{exc.strerror or exc}{where}", code=USAGE_ERROR_EXIT) from exc
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted", soft_wrap=True)
        raise typer.Exit(code=INTERRUPTED_EXIT) from None


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A bar on a terminal; elsewhere a line per :data:`LINE_EVERY_FILES` files (or 10 s)."""
    if console.is_terminal:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def update_bar(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{stage} files", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            yield update_bar
        return
    last = {"files": 0, "at": time.monotonic()}

    def print_line(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if (
            done == total
            or done - last["files"] >= LINE_EVERY_FILES
            or (now - last["at"] >= _LINE_EVERY_S)
        ):
            console.print(f"{stage} files: {done:,} of {total:,}", soft_wrap=True, markup=False)
            last.update(files=done, at=now)

    yield print_line


def _size(size_bytes: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} bytes"


def backup(
    folder: Annotated[Path, typer.Argument(help="A new or empty folder for the backup.")],
) -> None:
    """Back up the database (a consistent copy, taken while the service runs), the slide files,
    the published pyramids and the secret key into FOLDER (0700), with a manifest of every
    file's size and SHA-256."""
    from services.backup import make_backup

    settings = _settings()
    console = Console(stderr=True)
    with _one_line_errors(), _progress(console) as progress:
        result = make_backup(
            settings=settings,
            folder=folder,
            actor=command_actor("coupe-backup"),
            progress=progress,
        )
    manifest = result.manifest
    facts = manifest.database
    out = Console(highlight=False)
    out.print(
        f"backup in {result.folder}: {facts.cases:,} cases, {facts.slides:,} slides, "
        f"{len(manifest.files):,} files ({_size(manifest.total_bytes)}), {facts.backend} "
        f"database at revision {facts.schema_revision}, audit chain at record "
        f"{facts.audit_chain_seq:,}; {result.elapsed_s:.1f} s",
        soft_wrap=True,
        markup=False,
    )
    for left_out in manifest.left_out:
        out.print(f"left out {left_out.path}: {left_out.reason}", soft_wrap=True, markup=False)
    for warning in result.warnings:
        console.print(f"warning: {warning}", soft_wrap=True, markup=False)


def restore(
    folder: Annotated[Path, typer.Argument(help="A folder `coupe backup` made.")],
) -> None:
    """Restore the backup in FOLDER into an empty data directory and an empty database
    (COUPE_DATA_DIR, COUPE_DATABASE_URL): every file is checked against the manifest first,
    the schema is brought to this Coupe's newest, and the audit chain and counts are checked
    at the end."""
    from services.backup_restore import restore_backup

    settings = _settings()
    console = Console(stderr=True)
    with _one_line_errors(), _progress(console) as progress:
        result = restore_backup(
            settings=settings,
            folder=folder,
            actor=command_actor("coupe-restore"),
            progress=progress,
        )
    facts = result.manifest.database
    out = Console(highlight=False)
    out.print(
        f"restored the backup of {result.manifest.made_at} into {settings.data_dir.resolve()}: "
        f"{facts.cases:,} cases, {facts.slides:,} slides, {len(result.manifest.files):,} "
        f"files; schema at revision {result.schema_revision}; {result.elapsed_s:.1f} s",
        soft_wrap=True,
        markup=False,
    )
    for problem in result.problems:
        console.print(f"check failed: {problem}", soft_wrap=True, markup=False)
    if result.problems:
        raise typer.Exit(code=CHECK_FAILED_EXIT)
    out.print(
        f"audit log intact: {result.audit.records_checked:,} records checked; cases and "
        "slides as the manifest says",
        soft_wrap=True,
        markup=False,
    )
