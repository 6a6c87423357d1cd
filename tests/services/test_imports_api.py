"""The import queue: refused scanner files with their reason at ``GET /imports``, linked to a
case or discarded by a lab manager; flags for another department's folder, an unknown block,
an unknown department's folder and a slide after sign-out. Real slides, real workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from services.importer import ERROR_SIDECAR_SUFFIX
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import (
    app_state,
    new_case,
    running_service,
    sample_copy,
    settings_for,
    slides_of,
)
from worklist.db import read_session, run_in_transaction
from worklist.enums import CaseStatus, Role
from worklist.models import AuditEvent, Block, Case, Specimen


@pytest.fixture
def service(tmp_path: Path, dask_cluster: str) -> Iterator[ServiceHarness]:
    with running_service(settings_for(tmp_path / "data", dask_cluster)) as harness:
        harness.add_user("manager", Role.LAB_MANAGER, department_code="ALR")
        harness.add_user("alr_path", Role.PATHOLOGIST, pathologist_code="ALR-01")
        yield harness


def drop(service: ServiceHarness, folder: str, name: str, sample: str = "small.svs") -> Path:
    """A copy of ``sample`` with content of its own (bytes past a TIFF's end are ignored)."""
    path = sample_copy(sample, service.settings.import_dir / folder, name)
    stat = path.stat()
    with path.open("ab") as f:
        f.write(name.encode())
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return path


def queue(service: ServiceHarness, status: str = "open") -> dict[str, dict[str, object]]:
    answer = service.client.get(
        "/imports", params={"status": status}, headers=service.headers("manager")
    )
    assert answer.status_code == 200, answer.text
    return {item["file_name"]: item for item in answer.json()["items"]}


def blocks_of(service: ServiceHarness, case_id: int) -> set[str]:
    with read_session(service.engine) as session:
        return set(
            session.scalars(
                select(Block.label)
                .join(Specimen, Block.specimen_id == Specimen.id)
                .where(Specimen.case_id == case_id)
            )
        )


@pytest.mark.slow
def test_refused_files_are_queued_with_their_reason_and_a_manager_links_or_discards_them(
    service: ServiceHarness,
) -> None:
    alr = new_case(service, "ALR")
    hmc = new_case(service, "HMC")
    readme = drop(service, "ALR", "ALR-T26-000123_A1_HE.svs")  # the README's own example
    wrong_folder = drop(
        service, "HMC", f"{alr.accession_number}_A1_HE.svs", "CMU-1-Small-Region.svs"
    )
    unknown_block = drop(service, "ALR", f"{alr.accession_number}_Z9_HE.svs", "small.svs")
    nowhere = drop(service, "XYZ", f"{hmc.accession_number}_A1_HE.svs", "small.svs")
    notes = service.settings.import_dir / "ALR" / "notes.txt"
    notes.write_text("not a slide\n")
    os.utime(notes, (1_600_000_000, 1_600_000_000))  # settled

    results = {r.path.name: r for r in app_state(service).importer.scan_once()}
    assert {r.outcome.value for r in results.values()} == {"rejected"}, results

    items = queue(service)
    assert set(items) == {readme.name, wrong_folder.name, unknown_block.name, nowhere.name,
                          "notes.txt"}  # fmt: skip
    assert items[readme.name]["problem"] == "no_case"
    assert "no case has the accession number 'ALR-T26-000123'" in str(items[readme.name]["reason"])
    assert items[wrong_folder.name]["problem"] == "wrong_department"
    assert "belongs to department ALR" in str(items[wrong_folder.name]["reason"])
    assert items[unknown_block.name]["problem"] == "unknown_block"
    assert "has no block Z9" in str(items[unknown_block.name]["reason"])
    assert items[nowhere.name]["problem"] == "unknown_department_folder"
    assert items[nowhere.name]["folder"] == "XYZ"
    assert items["notes.txt"]["problem"] == "not_a_slide"
    assert blocks_of(service, alr.case_id) == {"A1"}, "no block is made up from a file name"
    assert all(str(service.settings.data_dir) not in str(i) for i in items.values())

    # Only lab managers and administrators see the queue.
    pathologist = service.headers("alr_path")
    assert service.client.get("/imports", headers=pathologist).status_code == 403
    readme_id = items[readme.name]["id"]
    answer = service.client.post(
        f"/imports/{readme_id}/link", json={"case_id": alr.case_id}, headers=pathologist
    )
    assert answer.status_code == 403

    manager = service.headers("manager")
    [intake_slide] = slides_of(service, alr.case_id)
    linked = service.client.post(
        f"/imports/{readme_id}/link", json={"case_id": alr.case_id}, headers=manager
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["status"] == "linked"
    assert linked.json()["slide_id"] == intake_slide.id
    assert not readme.exists() and not readme.with_name(readme.name + ERROR_SIDECAR_SUFFIX).exists()
    again = service.client.post(
        f"/imports/{readme_id}/link", json={"case_id": alr.case_id}, headers=manager
    )
    assert again.status_code == 409

    # The unknown block is linked to a block the manager names: made then, on purpose.
    block_id = items[unknown_block.name]["id"]
    made = service.client.post(
        f"/imports/{block_id}/link",
        json={"case_id": alr.case_id, "block_label": "A2", "stain": "PAS"},
        headers=manager,
    )
    assert made.status_code == 200, made.text
    assert blocks_of(service, alr.case_id) == {"A1", "A2"}

    missing_case = service.client.post(
        f"/imports/{items[nowhere.name]['id']}/link", json={"case_id": 999999}, headers=manager
    )
    assert missing_case.status_code == 404
    assert nowhere.exists(), "a refused link changes nothing"

    discard_id = items["notes.txt"]["id"]
    empty = service.client.post(
        f"/imports/{discard_id}/discard", json={"note": ""}, headers=manager
    )
    assert empty.status_code == 422
    discarded = service.client.post(
        f"/imports/{discard_id}/discard", json={"note": "scanner log, not a slide"}, headers=manager
    )
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["status"] == "discarded"
    assert discarded.json()["resolution_note"] == "scanner log, not a slide"
    assert not (service.settings.import_dir / "ALR" / "notes.txt").exists()

    assert set(queue(service)) == {wrong_folder.name, nowhere.name}
    assert set(queue(service, "linked")) == {readme.name, unknown_block.name}
    assert set(queue(service, "discarded")) == {"notes.txt"}
    assert len(queue(service, "all")) == 5
    assert (
        service.client.get("/imports", params={"status": "bogus"}, headers=manager).status_code
        == 422
    )
    with read_session(service.engine) as session:
        events = list(session.scalars(select(AuditEvent.event_type)))
    assert "import.discard" in events and events.count("slide.scanned") >= 2


@pytest.mark.slow
def test_a_slide_for_a_signed_out_case_is_registered_and_flagged(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")

    def sign_out(session):  # type: ignore[no-untyped-def]
        row = session.get(Case, case.case_id)
        row.status = CaseStatus.SIGNED_OUT

    run_in_transaction(service.engine, sign_out)
    late = drop(service, "ALR", f"{case.accession_number}_A1_PAS_late.svs")
    [result] = app_state(service).importer.scan_once()
    assert result.outcome.value == "registered" and result.slide_id is not None
    assert "post-sign-out slide" in result.reason
    flagged = queue(service, "flagged")
    assert flagged[late.name]["problem"] == "post_sign_out"
    assert flagged[late.name]["slide_id"] == result.slide_id
    assert late.name not in queue(service)


@pytest.mark.slow
def test_a_dicom_series_folder_without_a_case_is_queued_and_linked_as_one_slide(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    series = service.settings.import_dir / "ALR" / "ALR-T26-000123_A1_HE"
    for level in ("boxes_0.dcm", "boxes_1.dcm"):
        sample_copy(level, series)
    [result] = app_state(service).importer.scan_once()
    assert result.problem is not None and result.problem.value == "no_case"
    entry = queue(service)[series.name]
    linked = service.client.post(
        f"/imports/{entry['id']}/link",
        json={"case_id": case.case_id},
        headers=service.headers("manager"),
    )
    assert linked.status_code == 200, linked.text
    assert not series.exists()
    [slide] = slides_of(service, case.case_id)
    assert slide.file_path is not None and Path(slide.file_path).name == "boxes_0.dcm"
    assert (Path(slide.file_path).parent / "boxes_1.dcm").is_file()
