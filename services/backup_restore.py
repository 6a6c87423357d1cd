"""Restoring a backup (:mod:`services.backup`) into an empty installation.

A restore goes into an empty data directory and an empty database only, and checks every
file of the backup against the manifest before it writes anything. It then brings the
schema to this Coupe's newest revision (an older backup restores into a newer Coupe), moves
the paths the database holds from the old data directory to the new one, records itself in
the audit log, and checks the result: the audit chain verifies and reaches the manifest's
chain head, and the cases and slides are as many as the manifest says.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from services.backup_database import (
    check_empty_database,
    check_tools,
    database_backend,
    database_facts,
    relocate_paths,
    restore_database,
    shown_url,
    sqlite_file,
)
from services.backup_manifest import (
    DATA_FOLDER,
    BackupError,
    BackupManifest,
    PrivateFolders,
    ProgressCallback,
    safe_relative,
    verify_files,
)
from services.settings import Settings
from services.storage import PRIVATE_FILE_MODE, make_private_dir
from worklist.actor import Actor
from worklist.audit import ChainVerification

__all__ = ["RESTORE_EVENT", "RestoreResult", "restore_backup"]

RESTORE_EVENT = "backup.restore"
_IGNORED_IN_EMPTY_DIR = frozenset({"lost+found"})  # the root of a freshly made file system


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore and its check: ``problems`` is empty when everything matched."""

    manifest: BackupManifest
    schema_revision: str
    relocated_paths: int
    audit: ChainVerification
    problems: tuple[str, ...]
    elapsed_s: float


def _database_files(url: str, data_dir: Path) -> frozenset[str]:
    """The names of the SQLite database's files when it lives in ``data_dir`` itself."""
    if database_backend(url) != "sqlite" or sqlite_file(url).parent != data_dir:
        return frozenset()
    name = sqlite_file(url).name
    return frozenset({name, f"{name}-wal", f"{name}-shm", f"{name}-journal"})


def _check_empty_data_dir(data_dir: Path, url: str) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"the data directory {data_dir} is a file")
    if not data_dir.is_dir():
        return
    allowed = _IGNORED_IN_EMPTY_DIR | _database_files(url, data_dir)
    # Folders without a file count as empty: a container image makes /data's mount points
    # (pyramids/, import/, slides/) before any volume is mounted there.
    found = sorted(
        child.name
        for child in data_dir.iterdir()
        if child.name not in allowed and _holds_a_file(child)
    )
    if found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise BackupError(
            f"the data directory {data_dir} is not empty ({shown}): a backup restores into "
            "an empty data directory only (COUPE_DATA_DIR)"
        )


def _holds_a_file(path: Path) -> bool:
    """Whether ``path`` is a file, or a folder with a file somewhere below it."""
    if not path.is_dir() or path.is_symlink():
        return True
    return any(not below.is_dir() for below in path.rglob("*"))


def _check_backend(manifest: BackupManifest, url: str) -> None:
    backend = database_backend(url)
    if manifest.database.backend != backend:
        raise BackupError(
            f"the backup holds a {manifest.database.backend} database and COUPE_DATABASE_URL "
            f"names {backend} ({shown_url(url)}): restore it into {manifest.database.backend}"
        )


def _data_files(manifest: BackupManifest) -> Iterator[tuple[str, Path]]:
    """(path in the backup, path in the data directory) of every data file."""
    for entry in manifest.files:
        relative = safe_relative(entry.path)
        if relative.parts[0] == DATA_FOLDER:
            yield entry.path, Path(*relative.parts[1:])


def _restore_files(
    folder: Path, data_dir: Path, manifest: BackupManifest, progress: ProgressCallback | None
) -> None:
    files = list(_data_files(manifest))
    folders = PrivateFolders(data_dir)
    for done, (in_backup, in_data_dir) in enumerate(files, start=1):
        target = data_dir / in_data_dir
        folders.parent_of(target)
        shutil.copyfile(folder / in_backup, target)
        os.chmod(target, PRIVATE_FILE_MODE)
        if progress is not None:
            progress("restoring", done, len(files))


def _check_restored(
    engine: Engine, manifest: BackupManifest
) -> tuple[ChainVerification, list[str]]:
    """The audit chain verifies and holds the manifest's head; the counts match."""
    from worklist.audit import verify_audit_chain
    from worklist.db import read_session
    from worklist.models import AuditEvent

    expected = manifest.database
    problems: list[str] = []
    with read_session(engine) as session:
        audit = verify_audit_chain(session)
        problems.extend(f"audit log {p.kind}: {p.message}" for p in audit.problems)
        if expected.audit_chain_seq:
            record_hash = session.scalar(
                select(AuditEvent.record_hash).where(
                    AuditEvent.chain_seq == expected.audit_chain_seq
                )
            )
            if record_hash != expected.audit_chain_hash:
                problems.append(
                    f"the audit chain does not reach the backup's head (position "
                    f"{expected.audit_chain_seq}, {expected.audit_chain_hash[:12]}...)"
                )
    with engine.connect() as connection:
        found = database_facts(connection)
    for what, want, have in (
        ("cases", expected.cases, found.cases),
        ("slides", expected.slides, found.slides),
    ):
        if want != have:
            problems.append(f"{have} {what} restored, the manifest says {want}")
    # The restore's own record comes on top of the backup's.
    if found.audit_records != expected.audit_records + 1:
        problems.append(
            f"{found.audit_records} audit records restored, the manifest says "
            f"{expected.audit_records} (and one for the restore)"
        )
    return audit, problems


def restore_backup(
    *,
    settings: Settings,
    folder: Path,
    actor: Actor,
    progress: ProgressCallback | None = None,
) -> RestoreResult:
    """Restore the backup in ``folder`` into the empty data directory and database of
    ``settings``, migrate it to this Coupe's schema and check it.

    Raises BackupError, before anything is written, for a target that is not empty, a
    backup file missing or damaged, or a database of the other kind.
    """
    from worklist.audit import record_event
    from worklist.db import make_engine, run_in_transaction
    from worklist.enums import AuditAction
    from worklist.migrate import upgrade_engine

    started = time.perf_counter()
    folder = folder.absolute()
    manifest = BackupManifest.read(folder)
    data_dir = settings.data_dir.resolve()
    url = settings.resolved_database_url
    _check_backend(manifest, url)
    check_tools(url, restoring=True)
    _check_empty_data_dir(data_dir, url)
    check_empty_database(url)
    verify_files(
        folder,
        manifest.files,
        None
        if progress is None
        else lambda files, _: progress("verifying", files, len(manifest.files)),
    )
    try:
        make_private_dir(data_dir)
        restore_database(url, folder / safe_relative(manifest.database.file))
        _restore_files(folder, data_dir, manifest, progress)
    except (OSError, BackupError) as exc:
        reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
        raise BackupError(
            f"the restore stopped half-way ({reason}); empty the data directory {data_dir} "
            "and the database, then run it again"
        ) from exc
    engine = make_engine(url, pool_size=1)
    try:
        upgrade_engine(engine)
        relocated = relocate_paths(engine, manifest.data_dir, str(data_dir))
        run_in_transaction(
            engine,
            lambda session: record_event(
                session,
                actor=actor,
                event_type=RESTORE_EVENT,
                action=AuditAction.CREATE,
                detail={
                    "folder": str(folder),
                    "made_at": manifest.made_at,
                    "from_data_dir": manifest.data_dir,
                    "schema_revision": manifest.database.schema_revision,
                    "relocated_paths": relocated,
                },
            ),
        )
        with engine.connect() as connection:
            revision = database_facts(connection).schema_revision or ""
        audit, problems = _check_restored(engine, manifest)
    finally:
        engine.dispose()
    return RestoreResult(
        manifest, revision, relocated, audit, tuple(problems), time.perf_counter() - started
    )
