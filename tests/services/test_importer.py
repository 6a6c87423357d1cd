"""Scanner folder import with real slides dropped into a department's watched folder."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tifffile
from sqlalchemy import select

from services.importer import ERROR_SIDECAR_SUFFIX
from services.storage import pyramid_paths
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import (
    app_state,
    job_row,
    new_case,
    running_service,
    sample_copy,
    settings_for,
    slides_of,
)
from tests.tiling.sources.hostile_tiffs import write_offset_reuse_tiff
from tiling.samples import fetch_sample
from worklist.db import read_session
from worklist.enums import CaseStatus, JobStatus, PyramidStatus
from worklist.models import Case, ImportedFile, ImportOutcome, Slide, TilingJob


@pytest.fixture
def service(tmp_path: Path, dask_cluster: str) -> Iterator[ServiceHarness]:
    with running_service(settings_for(tmp_path / "data", dask_cluster)) as harness:
        yield harness


def inbox(service: ServiceHarness, department: str) -> Path:
    folder = service.settings.import_dir / department
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ERROR_SIDECAR_SUFFIX)


def imported_rows(service: ServiceHarness) -> list[ImportedFile]:
    with read_session(service.engine) as session:
        return list(session.scalars(select(ImportedFile).order_by(ImportedFile.id)))


# --- The watched folder -------------------------------------------------------------------------


@pytest.mark.slow
def test_slides_dropped_in_the_folder_are_registered_once_and_bad_ones_left_with_a_reason(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    other = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)
    folder = inbox(service, "ALR")
    good = sample_copy("CMU-1-Small-Region.svs", folder, f"{case.accession_number}_A1_HE.svs")
    again = sample_copy(
        "CMU-1-Small-Region.svs", folder, f"{case.accession_number}_A1_HE_rescan.svs"
    )
    bad_name = sample_copy("small.svs", folder, "scan_0001.svs")
    unknown = sample_copy("small.svs", folder, "ALR-T26-99999_A1_HE.svs")
    broken = sample_copy("unreadable.svs", folder, f"{other.accession_number}_A1_HE.svs")
    unopenable = sample_copy("unopenable.tiff", folder, f"{other.accession_number}_A2_HE.tiff")
    not_a_slide = folder / "scanner-log.txt"
    not_a_slide.write_text("scanner log\n")
    os.utime(not_a_slide, (1_600_000_000, 1_600_000_000))
    (folder / "still-writing.svs.part").write_bytes(b"II*\x00")

    importer = app_state(service).importer
    results = {r.path.name: r for r in importer.scan_once()}

    assert set(results) == {
        p.name for p in (good, again, bad_name, unknown, broken, unopenable, not_a_slide)
    }
    registered = results[good.name]
    assert registered.outcome is ImportOutcome.REGISTERED
    assert registered.slide_id == intake_slide.id  # filled the slide the front office made
    assert not good.exists() and not sidecar(good).exists()
    assert results[again.name].outcome is ImportOutcome.DUPLICATE
    assert f"slide {intake_slide.id}" in results[again.name].reason
    expected = {
        bad_name: "holds no accession number",
        unknown: "no case has the accession number 'ALR-T26-99999'",
        broken: "the slide cannot be read",
        unopenable: "cannot open slide",
        not_a_slide: "is not a slide file",
    }
    for path, reason in expected.items():
        result = results[path.name]
        assert result.outcome is ImportOutcome.REJECTED
        assert reason in result.reason
        assert path.exists(), "a refused file stays where the scanner left it"
        assert reason in sidecar(path).read_text()
    assert "unreadable.svs" not in results[broken.name].reason  # it names the dropped file
    assert broken.name in results[broken.name].reason

    with read_session(service.engine) as session:
        slide = session.get(Slide, intake_slide.id)
        assert slide is not None and slide.file_path is not None
        stored = Path(slide.file_path)
        assert stored.is_relative_to(service.settings.slide_dir) and stored.is_file()
        assert slide.pyramid_status is PyramidStatus.QUEUED
        the_case = session.get(Case, case.case_id)
        assert the_case is not None and the_case.status is CaseStatus.SCANNED
        jobs = list(session.scalars(select(TilingJob)))
        assert [j.slide_id for j in jobs] == [intake_slide.id]  # registered once
    rows = imported_rows(service)
    assert sorted(r.outcome.value for r in rows) == sorted(
        ["registered", "duplicate"] + ["rejected"] * 5
    )

    # Nothing is tried again until it changes.
    assert importer.scan_once() == []
    os.utime(bad_name, (1_700_000_000, 1_700_000_000))
    [retried] = importer.scan_once()
    assert retried.path == bad_name and retried.outcome is ImportOutcome.REJECTED

    # Renamed properly, the refused file goes in; its note goes away with it.
    fixed = bad_name.with_name(f"{other.accession_number}_A1_PAS.svs")
    bad_name.rename(fixed)
    sidecar(bad_name).unlink()
    [imported] = importer.scan_once()
    assert imported.outcome is ImportOutcome.REGISTERED
    assert not fixed.exists()
    new_slide = next(s for s in slides_of(service, other.case_id) if s.id == imported.slide_id)
    assert new_slide.stain == "PAS"

    # The queued jobs build the pyramids.
    app_state(service).jobs.run_pending()
    assert registered.job_id is not None
    assert job_row(service, registered.job_id).status is JobStatus.DONE
    assert pyramid_paths(service.settings, intake_slide.id).dzi.is_file()


def test_the_same_file_dropped_again_after_import_is_a_duplicate(service: ServiceHarness) -> None:
    case = new_case(service, "HMC")
    folder = inbox(service, "HMC")
    name = f"{case.accession_number}_A1_HE.svs"
    sample_copy("small.svs", folder, name)
    importer = app_state(service).importer
    [first] = importer.scan_once()
    assert first.outcome is ImportOutcome.REGISTERED

    dropped_again = sample_copy("small.svs", folder, name)  # same path, size and mtime
    [second] = importer.scan_once()
    assert second.outcome is ImportOutcome.DUPLICATE
    assert dropped_again.exists() and sidecar(dropped_again).exists()
    assert importer.scan_once() == []
    with read_session(service.engine) as session:
        assert len(list(session.scalars(select(TilingJob)))) == 1


def test_a_slide_without_an_accession_in_its_name_is_linked_by_its_barcode(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "GHZ")
    slide = sample_copy("CMU-1-Small-Region.svs", inbox(service, "GHZ"), "20260101-093000.svs")
    with tifffile.TiffFile(slide, mode="r+") as tiff:
        description = tiff.pages.first.tags["ImageDescription"]
        description.overwrite(f"{description.value}|Barcode = {case.accession_number}")
    os.utime(slide, (1_600_000_000, 1_600_000_000))

    [result] = app_state(service).importer.scan_once()

    assert result.outcome is ImportOutcome.REGISTERED, result.reason
    assert result.slide_id == slides_of(service, case.case_id)[0].id


def test_a_slide_over_the_caps_or_a_hostile_tiff_is_left_with_the_reason(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    folder = inbox(service, "ALR")
    large = sample_copy("CMU-1-Small-Region.svs", folder, f"{case.accession_number}_A1_HE.svs")
    hostile = write_offset_reuse_tiff(folder / f"{case.accession_number}_A2_HE.tif")
    os.utime(hostile, (1_600_000_000, 1_600_000_000))
    runner = app_state(service).jobs
    runner.settings = runner.settings.model_copy(update={"max_slide_pixels": 6_000_000})

    results = {r.path: r for r in app_state(service).importer.scan_once()}

    too_large = results[large]
    assert too_large.outcome is ImportOutcome.REJECTED
    assert "larger than this service tiles" in too_large.reason
    assert "is 2,220 x 2,967 px (6,586,740 px); the limit is 6,000,000 px" in too_large.reason
    assert results[hostile].outcome is ImportOutcome.REJECTED
    assert "50,000 x 50,000 px" in results[hostile].reason
    for path, result in results.items():
        assert path.exists() and result.reason in sidecar(path).read_text()
    with read_session(service.engine) as session:
        assert list(session.scalars(select(TilingJob))) == []


def test_a_department_over_its_pyramid_quota_imports_nothing_more(
    service: ServiceHarness,
) -> None:
    importer = app_state(service).importer
    importer.settings = importer.settings.model_copy(
        update={"pyramid_quota_gb_per_department": 0.000_001}  # 1,000 bytes
    )
    case = new_case(service, "LUMC")
    [slide] = slides_of(service, case.case_id)
    pyramid = pyramid_paths(service.settings, slide.id)
    pyramid.directory.mkdir(parents=True)
    (pyramid.directory / "slide.dzi").write_bytes(b"x" * 1_000)
    dropped = sample_copy(
        "small.svs", inbox(service, "LUMC"), f"{case.accession_number}_A1_PAS.svs"
    )

    [result] = importer.scan_once()

    assert result.outcome is ImportOutcome.REJECTED
    assert "department LUMC's pyramids take 1,000 bytes, at or over its quota" in result.reason
    assert dropped.exists() and result.reason in sidecar(dropped).read_text()
    with read_session(service.engine) as session:
        assert list(session.scalars(select(TilingJob))) == []


def test_files_still_being_written_wait_for_the_next_scan(service: ServiceHarness) -> None:
    case = new_case(service, "LUMC")
    importer = app_state(service).importer
    importer.settle_s = 3600.0
    target = inbox(service, "LUMC") / f"{case.accession_number}_A1_HE.svs"
    shutil.copyfile(fetch_sample("small.svs"), target)  # modified just now
    assert importer.scan_once() == []
    importer.settle_s = 0.0
    [result] = importer.scan_once()
    assert result.outcome is ImportOutcome.REGISTERED


@pytest.mark.slow
def test_with_background_workers_a_dropped_slide_is_imported_and_tiled_unattended(
    tmp_path: Path, dask_cluster: str
) -> None:
    settings = settings_for(tmp_path / "data", dask_cluster).model_copy(
        update={"run_background_workers": True, "import_poll_s": 0.2, "job_poll_s": 0.2}
    )
    with running_service(settings) as service:
        case = new_case(service, "HAGA")
        sample_copy("small.svs", inbox(service, "HAGA"), f"{case.accession_number}_A1_HE.svs")
        [slide] = slides_of(service, case.case_id)
        deadline = time.monotonic() + 60
        while not pyramid_paths(settings, slide.id).dzi.is_file():
            assert time.monotonic() < deadline, imported_rows(service)
            time.sleep(0.1)
        while slides_of(service, case.case_id)[0].pyramid_status is not PyramidStatus.READY:
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.mark.slow
def test_a_dicom_series_dropped_as_a_folder_becomes_one_slide_and_is_tiled(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)
    series = inbox(service, "ALR") / f"{case.accession_number}_A1_HE"
    for level in ("boxes_0.dcm", "boxes_1.dcm"):
        sample_copy(level, series)
    lone = sample_copy("boxes_0.dcm", inbox(service, "ALR"), f"{case.accession_number}_A1_HE.dcm")

    state = app_state(service)
    results = {r.path.name: r for r in state.importer.scan_once()}
    waiting = results.pop(lone.name)
    assert waiting.problem is not None and waiting.problem.value == "incomplete_series"
    assert "waits for the rest" in waiting.reason and lone.exists()
    [result] = results.values()
    assert result.outcome is ImportOutcome.REGISTERED, result.reason
    assert result.slide_id == intake_slide.id
    assert not series.exists()
    with read_session(service.engine) as session:
        slide = session.get(Slide, intake_slide.id)
        assert slide is not None and slide.file_path is not None
        stored = Path(slide.file_path)
    assert stored.name == "boxes_0.dcm"
    assert sorted(p.name for p in stored.parent.iterdir()) == ["boxes_0.dcm", "boxes_1.dcm"]
    assert stored.parent.is_relative_to(service.settings.slide_dir)
    state.jobs.run_pending()
    assert job_row(service, result.job_id or 0).status is JobStatus.DONE
    assert state.importer.scan_once() == []  # one slide, registered once
