"""Backing up a Coupe installation: the database, then the files it refers to.

A backup is taken database first, files after: the database copy is one moment
(:mod:`services.backup_database`), and the files it refers to are copied after it, so every
slide and pyramid the copy knows of is there unless it was deleted meanwhile (said in the
manifest). Files that appear after the moment (a slide uploaded during the backup) are
harmless extras. A pyramid without its published ``slide.dzi`` is being built: it is left
out, and the restored service builds it again from its queued job. Before the copy the
backup is recorded in the audit log (it holds every patient's data) and the waiting records
are sealed, so the copy's chain head covers its own making.

Restoring is :mod:`services.backup_restore`; both are ``coupe backup`` / ``coupe restore``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from services.backup_database import (
    check_tools,
    database_backend,
    database_error,
    shown_url,
    snapshot_database,
    sqlite_file,
)
from services.backup_manifest import (
    DATA_FOLDER,
    BackupError,
    BackupManifest,
    FileEntry,
    LeftOut,
    PrivateFolders,
    ProgressCallback,
    copy_hashed,
    hash_file,
    walk_files,
)
from services.backup_restore import RESTORE_EVENT, RestoreResult, restore_backup
from services.settings import Settings
from services.storage import (
    make_private_dir,
    pyramid_paths,
    resolve_slide_file,
)
from worklist.actor import Actor

__all__ = [
    "BACKUP_EVENT",
    "RESTORE_EVENT",
    "BackupResult",
    "ProgressCallback",
    "RestoreResult",
    "make_backup",
    "restore_backup",
]

BACKUP_EVENT = "backup.create"
SECRET_KEY_FILE = "secret_key"
"""The key ``Settings.resolved_secret_key`` keeps in the data dir without COUPE_SECRET_KEY."""


@dataclass(frozen=True)
class BackupResult:
    """A finished backup: its manifest, where it is, how long it took."""

    folder: Path
    manifest: BackupManifest
    elapsed_s: float
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Group:
    """Files copied together or not at all (a pyramid is whole or left out)."""

    label: str
    files: tuple[tuple[Path, str], ...]  # (source, path in the backup)
    # A pyramid's descriptor, as it was before the copy: a rebuild publishing meanwhile
    # replaces it (a new file), so a changed one means old and new tiles may be mixed.
    witness: Path | None = None
    witness_stamp: tuple[int, int] | None = None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


def _engine(url: str) -> Engine:
    from worklist.db import make_engine

    return make_engine(url, pool_size=1)


def _check_backup_folder(folder: Path, data_dir: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder} is a file; name a new or empty folder for the backup")
    if folder.is_dir() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty; name a new or empty folder for the backup")
    if folder == data_dir or data_dir in folder.parents:
        raise BackupError(
            f"{folder} is inside the data directory {data_dir}: a backup there is lost with it"
        )
    if not data_dir.is_dir():
        raise BackupError(f"there is no data directory at {data_dir} (COUPE_DATA_DIR)")


def _record_backup(url: str, actor: Actor, folder: Path) -> list[str]:
    """Record the backup in the audit log and seal what waits; skipped, with a warning, for
    a database at an older revision, whose audit table this Coupe does not write."""
    from worklist.audit import record_event, seal_pending
    from worklist.db import run_in_transaction
    from worklist.enums import AuditAction
    from worklist.migrate import is_up_to_date

    if database_backend(url) == "sqlite" and not sqlite_file(url).is_file():
        raise BackupError(f"there is no database at {sqlite_file(url)}: nothing to back up")
    engine = _engine(url)
    try:
        if not is_up_to_date(engine):
            return [
                f"the database {shown_url(url)} is not at this Coupe's newest schema: the "
                "backup is not recorded in its audit log (run `coupe db upgrade` to have it)"
            ]
        run_in_transaction(
            engine,
            lambda session: record_event(
                session,
                actor=actor,
                event_type=BACKUP_EVENT,
                action=AuditAction.READ,
                detail={"folder": str(folder)},
            ),
        )
        seal_pending(engine)
        return []
    except DBAPIError as exc:
        raise database_error(url, exc) from exc
    finally:
        engine.dispose()


def _plan(settings: Settings, slide_ids: frozenset[int]) -> tuple[list[_Group], list[LeftOut]]:
    """What to copy, in groups, and what is left out and why."""
    data_dir = settings.data_dir.resolve()
    groups: list[_Group] = []
    left_out: list[LeftOut] = []

    def in_backup(path: Path) -> str:
        return f"{DATA_FOLDER}/{path.relative_to(data_dir).as_posix()}"

    key = data_dir / SECRET_KEY_FILE
    if key.is_file():
        groups.append(_Group("the secret key", ((key, in_backup(key)),)))
    for path in walk_files(settings.slide_dir):
        groups.append(_Group(in_backup(path), ((path, in_backup(path)),)))
    pyramids = settings.pyramid_dir
    for folder in sorted(pyramids.iterdir() if pyramids.is_dir() else (), key=lambda p: p.name):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        label = in_backup(folder)
        if not folder.name.isdigit() or int(folder.name) not in slide_ids:
            left_out.append(LeftOut(label, "no slide of this id in the database copy"))
            continue
        dzi = pyramid_paths(settings, int(folder.name)).dzi
        stamp = _stamp(dzi)  # before the listing: a publish after it shows as a new stamp
        if stamp is None:
            left_out.append(LeftOut(label, f"being built: no published {dzi.name} yet"))
        else:
            files = tuple((path, in_backup(path)) for path in walk_files(folder))
            groups.append(_Group(label, files, dzi, stamp))
    if next(walk_files(settings.import_dir), None) is not None:
        left_out.append(
            LeftOut(
                in_backup(settings.import_dir),
                "scanner drop folders: files not imported yet stay with the scanner",
            )
        )
    return groups, left_out


def _copy_groups(
    groups: Sequence[_Group], folder: Path, progress: ProgressCallback | None
) -> tuple[list[FileEntry], list[LeftOut]]:
    total = sum(len(group.files) for group in groups)
    entries: list[FileEntry] = []
    left_out: list[LeftOut] = []
    folders = PrivateFolders(folder)
    done = 0
    for group in groups:
        copied: list[FileEntry] = []
        try:
            for source, relative in group.files:
                folders.parent_of(folder / relative)
                size_bytes, sha256 = copy_hashed(source, folder / relative)
                copied.append(FileEntry(relative, size_bytes, sha256))
            if group.witness is not None and _stamp(group.witness) != group.witness_stamp:
                raise FileNotFoundError(group.witness)
        except FileNotFoundError:
            # Deleted (a purge) or replaced (a rebuild) while the backup ran.
            for entry in copied:
                (folder / entry.path).unlink(missing_ok=True)
            left_out.append(LeftOut(group.label, "deleted or rebuilt during the backup"))
        else:
            entries.extend(copied)
        done += len(group.files)
        if progress is not None:
            progress("copying", done, total)
    return entries, left_out


def _outside(settings: Settings, slide_files: Iterable[str]) -> tuple[str, ...]:
    """The slide files the database names outside the data dir (a relative name is inside:
    it is relative to the slide folder)."""
    data_dir = settings.data_dir.resolve()
    outside = []
    for name in slide_files:
        path = resolve_slide_file(settings, name)
        if path is not None and data_dir not in path.parents:
            outside.append(name)
    return tuple(sorted(outside))


def make_backup(
    *,
    settings: Settings,
    folder: Path,
    actor: Actor,
    progress: ProgressCallback | None = None,
) -> BackupResult:
    """Back up the installation of ``settings`` into ``folder`` (new or empty; made 0700).

    Raises BackupError for a folder that is not empty, a missing database or tool; a backup
    that fails half-way removes what it wrote.
    """
    started = time.perf_counter()
    folder = folder.absolute()
    data_dir = settings.data_dir.resolve()
    _check_backup_folder(folder.resolve(), data_dir)
    url = settings.resolved_database_url
    check_tools(url, restoring=False)
    made = not folder.exists()
    make_private_dir(folder)
    try:
        warnings = _record_backup(url, actor, folder)
        make_private_dir(folder / "database")
        snapshot = snapshot_database(url, folder / "database")
        database_file = snapshot.facts.file
        database_entry = FileEntry(database_file, *hash_file(folder / database_file))
        groups, left_out = _plan(settings, snapshot.slide_ids)
        entries, vanished = _copy_groups(groups, folder, progress)
        outside = _outside(settings, snapshot.slide_files)
        if outside:
            warnings.append(
                f"{len(outside)} slide files the database names are outside the data "
                f"directory and not in the backup (listed in the manifest), e.g. {outside[0]}"
            )
        manifest = BackupManifest(
            coupe_version=version("coupe"),
            made_at=datetime.now(UTC).isoformat(timespec="seconds"),
            data_dir=str(data_dir),
            database=snapshot.facts,
            files=(database_entry, *entries),
            left_out=(*left_out, *vanished),
            outside_data_dir=outside,
        )
        manifest.write(folder)
    except BaseException:
        _empty(folder)
        if made:
            folder.rmdir()
        raise
    return BackupResult(folder, manifest, time.perf_counter() - started, tuple(warnings))


def _empty(folder: Path) -> None:
    """Remove what a failed backup wrote into ``folder`` (it was empty before)."""
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
