"""The import queue: scanner files that could not be imported, and why; link or discard them.

Lab managers and administrators only (the queue spans every department's drop folder). The
list names files, not server paths; linking and discarding are audited
(:mod:`services.importer_queue`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from services.deps import ManagerUser, SessionDep, StateDep
from services.importer_queue import discard_queued_file, link_queued_file, queued_files
from services.paging import Ordering, SortKey, read_page
from services.routers.params import Cursor, Limit
from services.schemas.auth import ErrorBody
from services.schemas.common import DEFAULT_PAGE_LIMIT, MAX_ID, Page
from services.schemas.imports import (
    ImportDiscardRequest,
    ImportedFilePublic,
    ImportLinkRequest,
    imported_file_public,
)
from worklist.labels import SlideLabels
from worklist.models import ImportedFile
from worklist.models.imports import QueueStatus

router = APIRouter(
    prefix="/imports",
    tags=["imports"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "For lab managers and administrators."},
    },
)

IMPORTS_NEWEST_FIRST = Ordering("imports", (SortKey(ImportedFile.id, "int", descending=True),))
ImportId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="The queue entry's id.")]
_RESOLVE_RESPONSES: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No such queue entry (or case)."},
    409: {"model": ErrorBody, "description": "Resolved already, or the file is gone."},
}


@router.get("", response_model=Page[ImportedFilePublic])
def list_imports(
    manager: ManagerUser,
    session: SessionDep,
    status: Annotated[
        QueueStatus | Literal["all"],
        Query(
            description="open (default: waiting for a decision), flagged, linked, "
            "discarded, or all."
        ),
    ] = QueueStatus.OPEN,
    limit: Limit = DEFAULT_PAGE_LIMIT,
    cursor: Cursor = None,
) -> Page[ImportedFilePublic]:
    """Files in the import queue with their reason, newest first."""
    del manager
    wanted = None if status == "all" else QueueStatus(status)
    return read_page(
        session,
        queued_files(wanted),
        order=IMPORTS_NEWEST_FIRST,
        limit=limit,
        cursor=cursor,
        item=imported_file_public,
    )


@router.post("/{import_id}/link", response_model=ImportedFilePublic, responses=_RESOLVE_RESPONSES)
async def link_import(
    import_id: ImportId, body: ImportLinkRequest, manager: ManagerUser, state: StateDep
) -> ImportedFilePublic:
    """Register the file as a slide of ``case_id`` (labels: given, else the file name's)."""
    labels = None
    if body.specimen_label or body.block_label or body.stain:
        block = body.block_label.upper() if body.block_label else None
        specimen = body.specimen_label or (block.rstrip("0123456789") if block else "A")
        labels = SlideLabels(specimen.upper(), block, body.stain or "H&E")

    def link() -> ImportedFilePublic:
        row = link_queued_file(
            engine=state.engine,
            settings=state.settings,
            runner=state.jobs,
            actor=manager.actor,
            file_id=import_id,
            case_id=body.case_id,
            labels=labels,
        )
        return imported_file_public(row)

    return await anyio.to_thread.run_sync(link)


@router.post(
    "/{import_id}/discard", response_model=ImportedFilePublic, responses=_RESOLVE_RESPONSES
)
def discard_import(
    import_id: ImportId, body: ImportDiscardRequest, manager: ManagerUser, state: StateDep
) -> ImportedFilePublic:
    """Delete the file from its drop folder; the entry stays, discarded, with the note."""
    row = discard_queued_file(
        engine=state.engine, actor=manager.actor, file_id=import_id, note=body.note
    )
    return imported_file_public(row)
