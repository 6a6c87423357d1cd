"""Registering a scanned slide file with its case, shared by the upload route and the folder
import: the file is kept under ``settings.slide_dir``, attached to a slide of the case and a
tiling job is queued, all in one transaction.

Nothing here parses slide content: the checks in the API process are the file name and the
first bytes (the "magic number"); opening the slide happens in a worker process
(:mod:`services.jobs`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from services.jobs import queue_job
from services.settings import Settings
from worklist import lifecycle
from worklist.actor import Actor
from worklist.audit import record_event
from worklist.db import run_in_transaction
from worklist.enums import AuditAction, CaseStatus
from worklist.errors import NotFoundError, ValidationError
from worklist.models import Block, Case, Slide, Specimen

__all__ = [
    "SLIDE_SUFFIXES",
    "SNIFF_BYTES",
    "Registration",
    "SlideLabels",
    "register_slide_file",
    "sniff_slide_kind",
]

SLIDE_SUFFIXES = frozenset(
    {".svs", ".tif", ".tiff", ".ndpi", ".scn", ".bif", ".dcm", ".jpg", ".jpeg", ".png"}
)
"""Single-file slide formats accepted from uploads and scanner folders."""

SNIFF_BYTES = 132
_SPECIMEN = re.compile(r"^[A-Z]{1,2}$")
_BLOCK = re.compile(r"^(?P<specimen>[A-Z]{1,2})\d{1,3}$")
_STAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 &+\-./()]{0,63}$")


def sniff_slide_kind(head: bytes) -> str | None:
    """The container format from a file's first :data:`SNIFF_BYTES` bytes, or None.

    Only magic numbers are compared, so this is safe to run on untrusted files anywhere.
    """
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "bigtiff"
    if head[128:132] == b"DICM":
        return "dicom"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    return None


@dataclass(frozen=True, slots=True)
class SlideLabels:
    """Where a slide belongs in its case: specimen (``A``), block (``A1``) and stain.

    Without a block the file fills the case's first unscanned slide with that stain, or
    becomes a new slide in block ``<specimen>1``.
    """

    specimen: str = "A"
    block: str | None = None
    stain: str = "H&E"

    def __post_init__(self) -> None:
        if not _SPECIMEN.match(self.specimen):
            raise ValidationError(f"specimen label {self.specimen!r} is not like 'A' or 'AB'")
        if self.block is not None:
            match = _BLOCK.match(self.block)
            if match is None:
                raise ValidationError(f"block label {self.block!r} is not like 'A1'")
            if match["specimen"] != self.specimen:
                raise ValidationError(
                    f"block {self.block!r} does not belong to specimen {self.specimen!r}"
                )
        if not _STAIN.match(self.stain):
            raise ValidationError(
                f"stain {self.stain!r} is not a stain name (letters, digits, '&+-./()', "
                "at most 64 characters)"
            )


@dataclass(frozen=True, slots=True)
class Registration:
    """The slide a file was registered as, and its queued tiling job."""

    case_id: int
    accession_number: str
    slide_id: int
    job_id: int


def register_slide_file(
    *,
    engine: Engine,
    settings: Settings,
    actor: Actor,
    case_id: int,
    labels: SlideLabels,
    file_path: Path,
    origin: str,
    also: Callable[[Session, Slide], None] | None = None,
    now: datetime | None = None,
) -> Registration:
    """Attach the stored ``file_path`` to a slide of case ``case_id`` and queue its tiling job.

    ``origin`` ("upload", "import") goes into the audit record; ``also`` runs in the same
    transaction once the slide exists (the import records its file there).
    """

    def work(session: Session) -> Registration:
        moment = now or datetime.now(UTC)
        case = session.execute(
            select(Case).where(Case.id == case_id).with_for_update()
        ).scalar_one_or_none()
        if case is None:
            raise NotFoundError("case", case_id)
        slide = _slide_for(session, case, labels)
        slide.file_path = str(file_path)
        slide.scanned_at = moment
        session.flush()
        job = queue_job(session, slide=slide, settings=settings, now=moment)
        if also is not None:
            also(session, slide)
        all_slides = [s for sp in case.specimens for b in sp.blocks for s in b.slides]
        if case.status is CaseStatus.RECEIVED and all(s.file_path for s in all_slides):
            lifecycle.transition(case, CaseStatus.SCANNED, now=moment)
        case.updated_at = moment
        record_event(
            session,
            actor=actor,
            event_type="slide.scanned",
            action=AuditAction.CREATE,
            case=case,
            slide_id=slide.id,
            detail={"origin": origin, "file": file_path.name, "tiling_job": job.id},
            now=moment,
        )
        return Registration(case.id, case.accession_number, slide.id, job.id)

    return run_in_transaction(engine, work)


def _slide_for(session: Session, case: Case, labels: SlideLabels) -> Slide:
    """The unscanned slide the labels point at, or a new one (with specimen/block if new)."""
    if labels.block is None:
        for specimen in case.specimens:
            if specimen.label != labels.specimen:
                continue
            for block in specimen.blocks:
                for slide in block.slides:
                    if slide.file_path is None and slide.stain == labels.stain:
                        return slide
    found_specimen = next((s for s in case.specimens if s.label == labels.specimen), None)
    specimen = found_specimen or Specimen(label=labels.specimen)
    if found_specimen is None:
        case.specimens.append(specimen)
    block_label = labels.block or f"{labels.specimen}1"
    found_block = next((b for b in specimen.blocks if b.label == block_label), None)
    block = found_block or Block(label=block_label)
    if found_block is None:
        specimen.blocks.append(block)
    for slide in block.slides:
        if slide.file_path is None and slide.stain == labels.stain:
            return slide
    slide = Slide(stain=labels.stain)
    block.slides.append(slide)
    session.flush()
    return slide
