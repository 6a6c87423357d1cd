"""Slide upload through the API: registered, tiled on a worker process; bad input leaves nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.storage import pyramid_paths
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import (
    app_state,
    new_case,
    running_service,
    settings_for,
    slides_of,
)
from tests.tiling.sources.hostile_tiffs import write_huge_header_tiff, write_offset_reuse_tiff
from tiling.samples import fetch_sample
from worklist.db import read_session
from worklist.enums import CaseStatus, Role
from worklist.models import Case, Slide, TilingJob


@pytest.fixture
def service(tmp_path: Path, dask_cluster: str) -> Iterator[ServiceHarness]:
    with running_service(settings_for(tmp_path / "data", dask_cluster)) as harness:
        harness.add_user("alr_path", Role.PATHOLOGIST, pathologist_code="ALR-01")
        harness.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
        harness.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
        yield harness


def upload(
    service: ServiceHarness,
    case_id: int,
    user: str | None,
    *,
    name: str = "scan.svs",
    content: bytes | None = None,
    sample: str = "CMU-1-Small-Region.svs",
    **fields: str,
) -> Any:
    body = content if content is not None else fetch_sample(sample).read_bytes()
    return service.client.post(
        f"/cases/{case_id}/slides",
        files={"file": (name, body, "application/octet-stream")},
        data=fields,
        headers=service.headers(user) if user else {},
    )


def stored_files(service: ServiceHarness) -> list[Path]:
    return sorted(p for p in service.settings.slide_dir.rglob("*") if p.is_file())


def slide_count(service: ServiceHarness) -> int:
    with read_session(service.engine) as session:
        return session.scalar(select(func.count()).select_from(Slide)) or 0


@pytest.mark.slow
def test_an_uploaded_slide_is_registered_tiled_and_its_pyramid_built(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)

    answer = upload(service, case.case_id, "alr_path", name="ALR scan (1).svs", block_label="A1")

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["slide_id"] == intake_slide.id  # the front office's unscanned H&E slide
    assert (body["specimen_label"], body["block_label"], body["stain"]) == ("A", "A1", "H&E")
    assert body["file_name"] == "ALR_scan_1_.svs"
    assert body["size_bytes"] == fetch_sample("CMU-1-Small-Region.svs").stat().st_size
    assert body["pyramid_status"] == "queued"
    assert body["job"]["status"] == "queued"
    with read_session(service.engine) as session:
        the_case = session.get(Case, case.case_id)
        assert the_case is not None and the_case.status is CaseStatus.SCANNED

    app_state(service).jobs.run_pending()

    job = service.client.get(f"/jobs/{body['job']['id']}", headers=service.headers("alr_path"))
    assert job.status_code == 200
    assert job.json()["status"] == "done", job.json()
    assert job.json()["progress"] == 1.0
    assert pyramid_paths(service.settings, intake_slide.id).dzi.is_file()


def test_a_second_stain_becomes_a_new_slide_and_lab_managers_may_upload(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    answer = upload(service, case.case_id, "manager", sample="small.svs", stain="CD20")
    assert answer.status_code == 201, answer.text
    slides = slides_of(service, case.case_id)
    assert [s.stain for s in slides] == ["H&E", "CD20"]
    assert answer.json()["slide_id"] == slides[1].id


def no_jobs(service: ServiceHarness) -> bool:
    with read_session(service.engine) as session:
        return session.scalar(select(func.count()).select_from(TilingJob)) == 0


def hostile(kind: str) -> Callable[[Path], bytes]:
    write = {"reuse": write_offset_reuse_tiff, "huge": write_huge_header_tiff}[kind]
    return lambda folder: write(folder / f"{kind}.tif").read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda folder: fetch_sample("unreadable.svs").read_bytes(), "cannot read"),
        (lambda folder: fetch_sample("unopenable.tiff").read_bytes(), "cannot open slide"),
        (hostile("reuse"), "claims an image of 50,000 x 50,000 px"),
        (hostile("huge"), "claims an image of 1,000,000 x 1,000,000 px"),
    ],
    ids=["unreadable", "unopenable", "offset-reuse", "huge-header"],
)
def test_a_broken_or_hostile_slide_is_refused_and_nothing_is_registered(
    service: ServiceHarness, tmp_path: Path, content: Callable[[Path], bytes], message: str
) -> None:
    case = new_case(service, "ALR")
    before = slide_count(service)
    answer = upload(service, case.case_id, "alr_path", name="scan 7.svs", content=content(tmp_path))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert message in detail
    assert "'scan_7.svs'" in detail  # named as the user sent it, no server path
    assert str(service.settings.data_dir.resolve()) not in detail
    assert stored_files(service) == []
    assert list((service.settings.slide_dir / ".incoming").iterdir()) == []
    assert slide_count(service) == before and no_jobs(service)
    assert [s.file_path for s in slides_of(service, case.case_id)] == [None]


def test_a_slide_over_the_caps_is_refused_naming_its_size(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")
    runner = app_state(service).jobs
    runner.settings = runner.settings.model_copy(update={"max_slide_pixels": 5_000_000})
    answer = upload(service, case.case_id, "alr_path")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == (
        "slide 'scan.svs' is 2,220 x 2,967 px (6,586,740 px); the limit is 5,000,000 px per slide"
    )
    assert stored_files(service) == [] and no_jobs(service)


class _NoWorkers:
    def submit(self, fn: Any, *args: Any) -> Any:
        raise OSError("the scheduler is gone")

    def close(self) -> None:
        pass


def test_without_workers_to_check_it_an_upload_is_refused_with_503(
    service: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = new_case(service, "ALR")
    monkeypatch.setattr(app_state(service).jobs, "executor", _NoWorkers())
    answer = upload(service, case.case_id, "alr_path", sample="small.svs")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "workers_unavailable"
    assert stored_files(service) == [] and no_jobs(service)


def test_a_department_over_its_pyramid_quota_gets_no_new_upload(service: ServiceHarness) -> None:
    state = app_state(service)
    state.settings = state.settings.model_copy(
        update={"pyramid_quota_gb_per_department": 0.000_01}  # 10,000 bytes
    )
    case = new_case(service, "ALR")
    first = upload(service, case.case_id, "alr_path", sample="small.svs", block_label="A1")
    assert first.status_code == 201, first.text  # under the quota: accepted
    # Its pyramid (as a build would leave it) takes the department over.
    pyramid = pyramid_paths(service.settings, first.json()["slide_id"])
    (pyramid.files_dir / "0").mkdir(parents=True)
    (pyramid.files_dir / "0" / "0_0.jpeg").write_bytes(b"\xff" * 6_000)
    (pyramid.directory / "slide.dzi").write_bytes(b"<Image/>" * 500)
    files_before = stored_files(service)

    refused = upload(service, case.case_id, "alr_path", sample="small.svs", stain="PAS")

    assert refused.status_code == 507, refused.text
    assert refused.json()["error"] == "quota_exceeded"
    assert refused.json()["detail"] == (
        "department ALR's pyramids take 10,000 bytes, at or over its quota of 1e-05 GB "
        "(10,000 bytes): no new slides until pyramids are removed or the quota "
        "(COUPE_PYRAMID_QUOTA_GB_PER_DEPARTMENT) is raised"
    )
    assert stored_files(service) == files_before
    assert [s.stain for s in slides_of(service, case.case_id)] == ["H&E"]
    # Another department is not held to ALR's use.
    other = new_case(service, "HMC")
    assert upload(service, other.case_id, "manager", sample="small.svs").status_code == 201


def _raw(
    service: ServiceHarness, case_id: int, user: str, *, boundary: str | None = None, **kwargs: Any
) -> Any:
    headers = service.headers(user)
    if boundary is not None:
        headers["content-type"] = f"multipart/form-data; boundary={boundary}"
    return service.client.post(f"/cases/{case_id}/slides", headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"name": "notes.txt", "content": b"hello"}, 415, "not a slide file"),
        ({"name": "fake.svs", "content": b"%PDF-1.7 not a slide"}, 415, "does not start like"),
        ({"name": "empty.svs", "content": b""}, 422, "empty"),
        ({"block_label": "B1"}, 422, "does not belong to specimen"),
        ({"specimen_label": "a1"}, 422, "specimen label"),
        ({"block": "A1"}, 422, "unknown field"),  # the old name
        ({"stain": "<script>"}, 422, "stain"),
        ({"colour": "blue"}, 422, "unknown field"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing_behind(
    service: ServiceHarness, kwargs: dict[str, Any], status: int, message: str
) -> None:
    case = new_case(service, "ALR")
    before = slide_count(service)
    answer = upload(service, case.case_id, "alr_path", **kwargs)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]
    assert stored_files(service) == []
    assert slide_count(service) == before


def test_requests_that_are_not_a_slide_upload_are_refused(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")
    as_json = _raw(service, case.case_id, "alr_path", json={"file": "x"})
    assert as_json.status_code == 415
    no_file = _raw(service, case.case_id, "alr_path", data={"stain": "HE"}, files={})
    assert no_file.status_code in (415, 422)
    fields_only = _raw(
        service,
        case.case_id,
        "alr_path",
        content=b'--b\r\nContent-Disposition: form-data; name="stain"\r\n\r\nHE\r\n--b--\r\n',
        boundary="b",
    )
    assert fields_only.status_code == 422
    assert "no 'file' part" in fields_only.json()["detail"]
    truncated = _raw(
        service,
        case.case_id,
        "alr_path",
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.svs"\r\n\r\nII*',
        boundary="b",
    )
    assert truncated.status_code == 422
    assert stored_files(service) == []


def test_uploads_over_the_size_limit_are_refused_while_streaming(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")
    state = app_state(service)
    state.settings = state.settings.model_copy(update={"max_upload_bytes": 100_000})
    answer = upload(service, case.case_id, "alr_path", sample="CMU-1-Small-Region.svs")
    assert answer.status_code == 413
    assert "larger than the 100000 bytes" in answer.json()["detail"]
    assert stored_files(service) == []
    # Without a Content-Length up front, the limit holds while the body streams in.
    body = fetch_sample("CMU-1-Small-Region.svs").read_bytes()

    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.svs"\r\n\r\n'
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]
        yield b"\r\n--b--\r\n"

    streamed = _raw(
        service,
        case.case_id,
        "alr_path",
        content=chunks(),
        boundary="b",
    )
    assert streamed.status_code == 413
    assert stored_files(service) == []


def test_who_may_upload(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")
    assert upload(service, case.case_id, None, sample="small.svs").status_code == 401
    other = upload(service, case.case_id, "hmc_path", sample="small.svs")
    assert other.status_code == 403
    assert case.accession_number not in other.json()["detail"]  # not theirs to know
    assert upload(service, 987654, "manager", sample="small.svs").status_code == 404
    assert stored_files(service) == []
    with read_session(service.engine) as session:
        assert session.scalar(select(func.count()).select_from(TilingJob)) == 0
