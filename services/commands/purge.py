"""``coupe slides purge-withdrawn``: delete the files of slides withdrawn past their retention.

Which slides are due is the worklist's rule (:func:`worklist.operations.withdrawal.
purge_candidates`: withdrawn at or before now minus ``COUPE_WITHDRAWN_SLIDE_RETENTION_DAYS``);
where their files are is the data directory's layout (:mod:`services.storage`). Per slide,
the purge is recorded first (``slide.purge``, naming what goes), then the slide file and the
pyramid are deleted, so nothing leaves unrecorded; a run interrupted between the two finishes
the deletion the next time, without a second record. A slide file outside the slide folder,
or one another slide still names, is left where it is and said so.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import ValidationError as SettingsError
from rich.console import Console
from sqlalchemy import Engine

from services.commands.actor import command_actor
from services.settings import Settings
from services.storage import pyramid_paths, resolve_slide_file
from worklist.operations.withdrawal import (
    PurgeCandidate,
    SlideWithdrawalError,
    purge_candidates,
    record_purge,
)

__all__ = ["PurgeSetupError", "purge_withdrawn_slides"]


class PurgeSetupError(Exception):
    """The purge cannot start (a setting, the database): one line for the operator."""


@dataclass(frozen=True, slots=True)
class _SlideFiles:
    """What the purge of one slide deletes, and what it leaves and why."""

    delete: tuple[Path, ...]
    names: tuple[str, ...]  # as the audit record names them: no server paths
    kept: tuple[str, ...]
    size_bytes: int


def purge_withdrawn_slides(
    console: Console,
    *,
    dry_run: bool,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> int:
    """List, then (unless ``dry_run``) purge every withdrawn slide past the retention period;
    the number of slides whose files could not all be deleted."""
    settings = settings or _settings()
    retention = timedelta(days=settings.withdrawn_slide_retention_days)
    with _database(settings) as engine:
        candidates = purge_candidates(engine=engine, retention=retention, now=now)
        failures = purged = 0
        freed_bytes = 0
        for candidate in candidates:
            files = _files_of(settings, candidate)
            if candidate.purged_at is not None and not files.delete:
                continue  # purged before, nothing left
            console.print(_line(candidate, files, dry_run=dry_run), soft_wrap=True, markup=False)
            if dry_run:
                continue
            if candidate.purged_at is None:
                try:
                    record_purge(
                        engine=engine,
                        actor=command_actor("coupe-purge"),
                        slide_id=candidate.slide_id,
                        retention=retention,
                        files=list(files.names),
                        now=now,
                    )
                except SlideWithdrawalError as exc:  # restored meanwhile: leave it
                    console.print(f"  skipped: {exc}", soft_wrap=True, markup=False)
                    continue
            problems = _delete(files.delete)
            for problem in problems:
                console.print(f"  could not delete {problem}", soft_wrap=True, markup=False)
            failures += bool(problems)
            purged += 1
            freed_bytes += files.size_bytes
    verb = "would purge" if dry_run else "purged"
    due = sum(1 for c in candidates if c.purged_at is None)
    console.print(
        f"{verb} {due if dry_run else purged} withdrawn slides (retention "
        f"{retention.days} days); {_size(freed_bytes)} freed",
        soft_wrap=True,
        markup=False,
    )
    return failures


def _settings() -> Settings:
    try:
        return Settings()
    except SettingsError as exc:
        problems = "; ".join(
            f"COUPE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise PurgeSetupError(problems) from exc


@contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """The migrated database of ``settings``; what goes wrong on the way is one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from worklist.db import make_engine
    from worklist.migrate import is_up_to_date

    url = settings.resolved_database_url
    shown = make_url(url).render_as_string()
    try:
        engine = make_engine(url, pool_size=1)
    except ValueError as exc:
        raise PurgeSetupError(f"cannot use the database {shown}: {exc}") from exc
    try:
        if not is_up_to_date(engine):
            raise PurgeSetupError(
                f"the database {shown} is not migrated: run `coupe db upgrade` first"
            )
        yield engine
    except OperationalError as exc:
        raise PurgeSetupError(f"cannot use the database {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _files_of(settings: Settings, candidate: PurgeCandidate) -> _SlideFiles:
    delete: list[Path] = []
    names: list[str] = []
    kept: list[str] = []
    slide_dir = settings.slide_dir.resolve()
    slide_file = resolve_slide_file(settings, candidate.file_path)
    if slide_file is not None and slide_file.exists():
        inside = slide_file.resolve().is_relative_to(slide_dir)
        shown = str(slide_file.resolve().relative_to(slide_dir)) if inside else slide_file.name
        if not inside:
            kept.append(f"{shown} (outside the slide folder)")
        elif candidate.file_shared:
            kept.append(f"{shown} (another slide names it)")
        else:
            delete.append(slide_file)
            names.append(f"slides/{shown}")
    pyramid = pyramid_paths(settings, candidate.slide_id).directory
    if pyramid.exists():
        delete.append(pyramid)
        names.append(f"pyramids/{candidate.slide_id}")
    return _SlideFiles(tuple(delete), tuple(names), tuple(kept), sum(map(_size_of, delete)))


def _size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _delete(paths: tuple[Path, ...]) -> list[str]:
    """Delete each file or folder; what could not be deleted, by name, and why."""
    problems: list[str] = []
    for path in paths:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            problems.append(f"{path.name}: {exc.strerror or exc}")
    return problems


def _line(candidate: PurgeCandidate, files: _SlideFiles, *, dry_run: bool) -> str:
    what = ", ".join(files.names) or "no files left"
    kept = f"; kept: {', '.join(files.kept)}" if files.kept else ""
    if candidate.purged_at is not None:
        state = "finishing its purge"
    else:
        state = "would delete" if dry_run else "deleting"
    return (
        f"slide {candidate.slide_id} (case {candidate.case_id}, withdrawn "
        f"{candidate.withdrawn_at.date().isoformat()}): {state} {what} "
        f"({_size(files.size_bytes)}){kept}"
    )


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:,.1f} MB"
