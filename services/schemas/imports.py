"""Request and response bodies of the import queue (``/imports``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from services.schemas.common import MAX_ID, RequestBody
from worklist.models import ImportedFile, ImportOutcome
from worklist.models.imports import ImportProblem, QueueStatus


class ImportedFilePublic(BaseModel):
    """A file of a scanner drop folder in the import queue, and why it is there."""

    id: int
    file_name: str = Field(description="The file's name in the drop folder (no server path).")
    folder: str = Field(description="The drop folder it was found in (a department's code).")
    size_bytes: int
    outcome: ImportOutcome
    problem: ImportProblem | None = Field(description="Why it is in the queue.")
    reason: str = Field(description="The reason, in words, for the lab manager.")
    status: QueueStatus
    accession_number: str | None
    slide_id: int | None
    seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None


def imported_file_public(row: ImportedFile) -> ImportedFilePublic:
    """The response body of queue entry ``row``."""
    return ImportedFilePublic(
        id=row.id,
        file_name=Path(row.source_path).name,
        folder=row.department_code,
        size_bytes=row.size_bytes,
        outcome=row.outcome,
        problem=ImportProblem(row.problem) if row.problem else None,
        reason=row.reason,
        status=QueueStatus(row.queue_status or QueueStatus.OPEN.value),
        accession_number=row.accession_number,
        slide_id=row.slide_id,
        seen_at=row.seen_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_note=row.resolution_note,
    )


class ImportLinkRequest(RequestBody):
    """Register a queued file as a slide of this case (labels default to the file name's)."""

    case_id: int = Field(ge=1, le=MAX_ID)
    specimen_label: str | None = Field(default=None, min_length=1, max_length=8)
    block_label: str | None = Field(default=None, min_length=1, max_length=8)
    stain: str | None = Field(default=None, min_length=1, max_length=32)


class ImportDiscardRequest(RequestBody):
    """Discard a queued file: it is deleted from the drop folder; the note says why."""

    note: str = Field(min_length=1, max_length=500)
