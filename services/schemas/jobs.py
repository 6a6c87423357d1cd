"""Request and response bodies of the tiling job and slide upload routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from worklist.enums import JobStatus, PyramidStatus


class JobPublic(BaseModel):
    """A tiling job: building one slide's Deep Zoom pyramid."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    slide_id: int | None
    status: JobStatus
    tiles_done: int
    tiles_total: int
    progress: float = Field(ge=0.0, le=1.0, description="Fraction of the tiles built.")
    error: str | None = Field(description="Why a failed job failed.")
    attempts: int = Field(description="How often the job was started (restarts included).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None


class SlideUploadPublic(BaseModel):
    """A slide registered by an upload, and its queued tiling job."""

    case_id: int
    accession_number: str
    slide_id: int
    stain: str
    specimen_label: str
    block_label: str
    file_name: str
    size_bytes: int
    pyramid_status: PyramidStatus
    job: JobPublic
