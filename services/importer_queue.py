"""The import queue: files the folder import refused, linked to a case or discarded by a lab
manager.

Linking a file opens it in a worker (as the import does), stores it and registers it as a
slide of the chosen case, with the labels given (or those of its name); that is the explicit
choice the import would not make itself (another department's folder, a new block). A
discarded file is deleted from the drop folder with its note; its row stays, with who discarded
it and why. Both are audited ("import.link" through the slide's "slide.scanned",
"import.discard").
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.errors import ConflictError, ResourceNotFoundError
from services.importer import ERROR_SIDECAR_SUFFIX
from services.importer_series import folder_main_file, folder_version, store_tree
from services.jobs import JobRunner
from services.quota import check_pyramid_quota
from services.registration import register_slide_file
from services.settings import Settings
from services.storage import slide_storage_path, store_slide_file
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import read_session, run_in_transaction
from worklist.enums import AuditAction
from worklist.labels import SlideLabels
from worklist.models import Case, ImportedFile, ImportOutcome, Slide
from worklist.models.imports import QueueStatus
from worklist.scan_names import parse_scan_name

__all__ = ["discard_queued_file", "link_queued_file", "queued_files"]


def queued_files(status: QueueStatus | None) -> Select[ImportedFile]:
    """The query of the queue's files in ``status`` (None: every file that was ever in it);
    unordered, for the API's pages (newest first)."""
    query = select(ImportedFile).where(ImportedFile.queue_status.is_not(None))
    if status is not None:
        query = query.where(ImportedFile.queue_status == status.value)
    return query


def _open_row(engine: Engine, file_id: int) -> ImportedFile:
    with read_session(engine) as session:
        row = session.get(ImportedFile, file_id)
    if row is None or row.queue_status is None:
        raise ResourceNotFoundError(f"import queue entry {file_id} does not exist")
    if row.queue_status != QueueStatus.OPEN.value:
        raise ConflictError(f"import queue entry {file_id} is {row.queue_status} already")
    return row


def _present(row: ImportedFile) -> Path:
    path = Path(row.source_path)
    if path.is_dir() and folder_main_file(path) is not None:
        if folder_version(path)[0] == row.size_bytes:
            return path
    if not path.is_file() or path.stat().st_size != row.size_bytes:
        raise ConflictError(
            f"the file {path.name!r} is no longer in the drop folder as it was; it is looked "
            "at again by the next scan"
        )
    return path


def link_queued_file(
    *,
    engine: Engine,
    settings: Settings,
    runner: JobRunner,
    actor: Actor,
    file_id: int,
    case_id: int,
    labels: SlideLabels | None,
) -> ImportedFile:
    """Register queue entry ``file_id``'s file as a slide of case ``case_id``."""
    row = _open_row(engine, file_id)
    path = _present(row)
    with read_session(engine) as session:
        case = session.get(Case, case_id)
        if case is None:
            raise ResourceNotFoundError(f"case {case_id} does not exist")
        accession, department_id = case.accession_number, case.department_id
    if labels is None:
        from_name = parse_scan_name(path.name)
        labels = from_name.labels if from_name else SlideLabels("A", None, "H&E")
    main = folder_main_file(path) if path.is_dir() else None  # a DICOM series, a MIRAX slide
    runner.probe(main or path)  # a TilingError answers 422 with the reader's message
    check_pyramid_quota(engine=engine, settings=settings, department_id=department_id)
    target = slide_storage_path(settings, accession, path.name)
    store = store_tree if main is not None else store_slide_file
    store(path, target)

    def record(session: Session, slide: Slide) -> None:
        stored = session.get(ImportedFile, file_id)
        assert stored is not None
        if stored.queue_status != QueueStatus.OPEN.value:
            raise ConflictError(f"import queue entry {file_id} was resolved meanwhile")
        stored.outcome = ImportOutcome.REGISTERED
        stored.queue_status = QueueStatus.LINKED.value
        stored.slide_id = slide.id
        stored.stored_path = str(target)
        stored.accession_number = accession
        stored.resolved_at = datetime.now(UTC)
        stored.resolved_by = actor.user_id
        stored.resolution_note = f"linked to case {accession} by {actor.user_id}"
        session.flush()

    try:
        register_slide_file(
            engine=engine,
            settings=settings,
            actor=actor,
            case_id=case_id,
            labels=labels,
            file_path=target / main.relative_to(path) if main is not None else target,
            origin="import queue",
            also=record,
        )
    except BaseException as exc:
        store(target, path)  # back where the scanner left it
        if isinstance(exc, IntegrityError):
            raise ConflictError(
                f"a file with the same content as {path.name!r} is registered already; "
                "discard this one"
            ) from exc
        raise
    path.with_name(path.name + ERROR_SIDECAR_SUFFIX).unlink(missing_ok=True)
    runner.notify()
    with read_session(engine) as session:
        linked = session.get(ImportedFile, file_id)
        assert linked is not None
        return linked


def discard_queued_file(*, engine: Engine, actor: Actor, file_id: int, note: str) -> ImportedFile:
    """Delete queue entry ``file_id``'s file from the drop folder; the entry stays, discarded."""
    _open_row(engine, file_id)

    def work(session: Session) -> ImportedFile:
        row = session.get(ImportedFile, file_id)
        assert row is not None
        if row.queue_status != QueueStatus.OPEN.value:
            raise ConflictError(f"import queue entry {file_id} was resolved meanwhile")
        row.queue_status = QueueStatus.DISCARDED.value
        row.resolved_at = datetime.now(UTC)
        row.resolved_by = actor.user_id
        row.resolution_note = note
        record_event(
            session,
            actor=actor,
            event_type="import.discard",
            action=AuditAction.DELETE,
            detail={"file": Path(row.source_path).name, "import_id": row.id, "note": note},
        )
        session.flush()
        return row

    row = run_in_transaction(engine, work)
    path = Path(row.source_path)
    if path.is_dir() and folder_main_file(path) is not None:
        shutil.rmtree(path)  # a slide folder: a DICOM series' files, a MIRAX slide's
    else:
        path.unlink(missing_ok=True)
    path.with_name(path.name + ERROR_SIDECAR_SUFFIX).unlink(missing_ok=True)
    return row
