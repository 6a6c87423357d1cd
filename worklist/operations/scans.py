"""A scan lands: the file is attached to its slide, the case may become "scanned", and the
slide's pyramid build is queued, all in one transaction.

The slide is found from its labels (:class:`~worklist.labels.SlideLabels`): without a block,
the case's first unscanned slide of that specimen and stain; otherwise the first unscanned
slide of that stain in the block. When there is none, a new slide is made (with its specimen
and block, if they are new too). A case still "received" becomes "scanned" once every one of
its slides has an image.

Where the file is kept and where its pyramid goes are the caller's (a service's storage);
this module only records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from worklist import lifecycle
from worklist.actor import Actor
from worklist.enums import AuditAction
from worklist.labels import SlideLabels
from worklist.models import Block, Case, Slide, Specimen
from worklist.operations._audited import Recorder, run_audited
from worklist.operations._common import lock_case
from worklist.operations.jobs import PyramidLocator, queue_job

__all__ = ["ScanRegistration", "register_scan"]


@dataclass(frozen=True, slots=True)
class ScanRegistration:
    """The slide a file was registered as, and its queued tiling job."""

    case_id: int
    accession_number: str
    slide_id: int
    job_id: int


def register_scan(
    *,
    engine: Engine,
    actor: Actor,
    case_id: int,
    labels: SlideLabels,
    file_path: Path,
    origin: str,
    locate_pyramid: PyramidLocator,
    also: Callable[[Session, Slide], None] | None = None,
    now: datetime | None = None,
) -> ScanRegistration:
    """Attach the stored ``file_path`` to a slide of case ``case_id`` and queue its tiling job.

    ``origin`` ("upload", "import") goes into the audit record ("slide.scanned"); ``also``
    runs in the same transaction once the slide exists (the import records its file there).
    """

    def work(session: Session, audit: Recorder) -> ScanRegistration:
        moment = audit.moment
        case = lock_case(session, case_id)
        slide = _slide_for(session, case, labels)
        slide.file_path = str(file_path)
        slide.scanned_at = moment
        session.flush()
        job = queue_job(session=session, slide=slide, locate_pyramid=locate_pyramid, now=moment)
        if also is not None:
            also(session, slide)
        lifecycle.mark_scanned_when_complete(case, now=moment)
        case.updated_at = moment
        audit.record(
            case=case,
            slide_id=slide.id,
            detail={"origin": origin, "file": file_path.name, "tiling_job": job.id},
        )
        return ScanRegistration(case.id, case.accession_number, slide.id, job.id)

    return run_audited(
        engine, actor, "slide.scanned", work, action=AuditAction.CREATE, case_id=case_id, now=now
    )


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
