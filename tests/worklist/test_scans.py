"""A scan landing: attached to the slide its labels name, the case scanned, its tiling queued."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.worklist.conftest import MANAGER, NOW, Factory
from worklist.enums import CaseStatus, JobStatus, PyramidStatus
from worklist.errors import NotFoundError
from worklist.labels import SlideLabels
from worklist.models import AuditEvent, Block, Case, Slide, Specimen, TilingJob
from worklist.operations import PyramidTarget, ScanRegistration, register_scan


def locate(slide_id: int) -> PyramidTarget:
    return PyramidTarget(output_dir=f"/pyramids/{slide_id}", name="slide")


def scan(
    engine: Engine, case_id: int, labels: SlideLabels, name: str = "x.svs"
) -> ScanRegistration:
    return register_scan(
        engine=engine,
        actor=MANAGER,
        case_id=case_id,
        labels=labels,
        file_path=Path("/slides") / name,
        origin="upload",
        locate_pyramid=locate,
        now=NOW,
    )


def slides(engine: Engine, case_id: int) -> list[tuple[str, str, str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(Specimen.label, Block.label, Slide.stain, Slide.file_path)
            .join(Block, Slide.block_id == Block.id)
            .join(Specimen, Block.specimen_id == Specimen.id)
            .where(Specimen.case_id == case_id)
            .order_by(Slide.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_scan_fills_the_unscanned_slide_and_the_case_becomes_scanned(
    engine: Engine, factory: Factory
) -> None:
    [case_id] = factory.cases(scanned=False)
    registration = scan(engine, case_id, SlideLabels())
    assert slides(engine, case_id) == [("A", "A1", "H&E", "/slides/x.svs")]
    with Session(engine) as session:
        case = session.get_one(Case, case_id)
        assert case.status is CaseStatus.SCANNED
        slide = session.get_one(Slide, registration.slide_id)
        assert slide.pyramid_status is PyramidStatus.QUEUED and slide.scanned_at is not None
        job = session.get_one(TilingJob, registration.job_id)
        assert (job.status, job.source_path) == (JobStatus.QUEUED, "/slides/x.svs")
        assert (job.output_dir, job.pyramid_name) == (f"/pyramids/{slide.id}", "slide")
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "slide.scanned")
        ).one()
        assert event.slide_id == slide.id and event.case_id == case_id
        assert '"origin":"upload"' in event.detail and '"file":"x.svs"' in event.detail


def test_other_stains_and_blocks_become_new_slides(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases(scanned=False)
    scan(engine, case_id, SlideLabels(stain="CD20"), "cd20.svs")
    scan(engine, case_id, SlideLabels(specimen="B", block="B2"), "b2.svs")
    assert slides(engine, case_id) == [
        ("A", "A1", "H&E", None),
        ("A", "A1", "CD20", "/slides/cd20.svs"),
        ("B", "B2", "H&E", "/slides/b2.svs"),
    ]
    with Session(engine) as session:  # one slide still waits for its scan
        assert session.get_one(Case, case_id).status is CaseStatus.RECEIVED


def test_what_also_adds_is_in_the_same_transaction(engine: Engine, factory: Factory) -> None:
    [case_id] = factory.cases(scanned=False)

    def fail(session: Session, slide: Slide) -> None:
        raise RuntimeError("the import's own record failed")

    with pytest.raises(RuntimeError):
        register_scan(
            engine=engine,
            actor=MANAGER,
            case_id=case_id,
            labels=SlideLabels(),
            file_path=Path("/slides/x.svs"),
            origin="import",
            locate_pyramid=locate,
            also=fail,
        )
    assert slides(engine, case_id) == [("A", "A1", "H&E", None)]
    with Session(engine) as session:
        assert session.scalars(select(TilingJob)).all() == []


def test_a_scan_for_an_unknown_case_is_refused(engine: Engine, factory: Factory) -> None:
    with pytest.raises(NotFoundError):
        scan(engine, 999_999, SlideLabels())
