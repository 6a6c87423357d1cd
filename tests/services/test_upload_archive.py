"""A multi-file slide uploaded as one archive: a real DICOM WSI series (openslide-python's
``boxes_0.dcm`` + ``boxes_1.dcm``) in a zip or tar becomes one slide; a bad archive is refused
and leaves nothing behind."""

from __future__ import annotations

import io
import json
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services import upload_archive
from services.importer_series import mirax_main_file, store_tree
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import (
    app_state,
    job_row,
    new_case,
    running_service,
    settings_for,
    slides_of,
)
from tiling.samples import fetch_sample
from worklist.db import read_session
from worklist.enums import JobStatus, Role
from worklist.models import AuditEvent, Slide, TilingJob

SERIES = ("boxes_0.dcm", "boxes_1.dcm")


@pytest.fixture
def service(tmp_path: Path, dask_cluster: str) -> Iterator[ServiceHarness]:
    with running_service(settings_for(tmp_path / "data", dask_cluster)) as harness:
        harness.add_user("alr_path", Role.PATHOLOGIST, pathologist_code="ALR-01")
        yield harness


def series_members(prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{name}": fetch_sample(name).read_bytes() for name in SERIES}


def zip_of(members: dict[str, bytes], *, link: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return out.getvalue()


def tar_of(members: dict[str, bytes], *, mode: str = "w:gz", link: str | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:  # type: ignore[call-overload]
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tf.addfile(info)
    return out.getvalue()


def upload(service: ServiceHarness, case_id: int, name: str, body: bytes, **fields: str) -> Any:
    return service.client.post(
        f"/cases/{case_id}/slides",
        files={"file": (name, body, "application/octet-stream")},
        data=fields,
        headers=service.headers("alr_path"),
    )


def left_behind(service: ServiceHarness) -> list[Path]:
    """Everything under the slide store but the (empty) incoming folder itself."""
    root = service.settings.slide_dir
    return sorted(p for p in root.rglob("*") if p != root / ".incoming")


def nothing_registered(service: ServiceHarness, case_id: int) -> bool:
    with read_session(service.engine) as session:
        jobs = session.scalar(select(func.count()).select_from(TilingJob))
    return jobs == 0 and [s.file_path for s in slides_of(service, case_id)] == [None]


@pytest.mark.slow
def test_a_dicom_series_uploaded_as_a_zip_becomes_one_slide_and_is_tiled(
    service: ServiceHarness,
) -> None:
    case = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)
    body = zip_of(series_members())

    answer = upload(service, case.case_id, "series (1).zip", body, block_label="A1")

    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["slide_id"] == intake_slide.id
    assert (created["file_name"], created["size_bytes"]) == ("series_1_.zip", len(body))
    with read_session(service.engine) as session:
        slide = session.get(Slide, intake_slide.id)
        assert slide is not None and slide.file_path is not None
        stored = Path(slide.file_path)
        [scanned] = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "slide.scanned")
        )
    # Stored as the folder import stores a dropped series: one private folder, whole.
    assert stored.name == "boxes_0.dcm"
    assert stored.parent.name.endswith("-series_1_")
    assert sorted(p.name for p in stored.parent.iterdir()) == list(SERIES)
    assert stored.parent.parent == service.settings.slide_dir / case.accession_number
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for name in SERIES:
        assert (stored.parent / name).read_bytes() == fetch_sample(name).read_bytes()
    assert list((service.settings.slide_dir / ".incoming").iterdir()) == []
    # Audited like a single-file upload, by the uploader.
    assert (scanned.user_id, scanned.case_id, scanned.slide_id) == (
        "alr_path",
        case.case_id,
        intake_slide.id,
    )
    assert json.loads(scanned.detail)["origin"] == "upload"

    app_state(service).jobs.run_pending()
    assert job_row(service, created["job"]["id"]).status is JobStatus.DONE


@pytest.mark.parametrize(
    ("name", "pack"),
    [
        ("series.tar.gz", lambda m: tar_of(m, mode="w:gz")),
        ("series.tgz", lambda m: tar_of(m, mode="w:gz")),
        ("series.tar", lambda m: tar_of(m, mode="w")),
        ("series.ZIP", zip_of),
    ],
)
def test_a_series_inside_one_folder_in_a_tar_or_zip_is_accepted(
    service: ServiceHarness, name: str, pack: Callable[[dict[str, bytes]], bytes]
) -> None:
    case = new_case(service, "ALR")
    members = series_members("ALR-T26-00001_A1_HE/")
    members["__MACOSX/._boxes_0.dcm"] = b"resource fork"  # an archiver's extra, skipped
    members["ALR-T26-00001_A1_HE/.DS_Store"] = b"finder"
    answer = upload(service, case.case_id, name, pack(members))
    assert answer.status_code == 201, answer.text
    with read_session(service.engine) as session:
        slide = session.get(Slide, answer.json()["slide_id"])
        assert slide is not None and slide.file_path is not None
        folder = Path(slide.file_path).parent
    assert sorted(p.name for p in folder.iterdir()) == list(SERIES)


def _bomb() -> dict[str, bytes]:
    return {"boxes_0.dcm": fetch_sample("boxes_0.dcm").read_bytes(), "zeros.dcm": bytes(3 << 20)}


def _broken_dicom() -> dict[str, bytes]:
    # Starts like DICOM (the magic number passes) but is cut short: the worker's reader refuses it.
    return {"cut.dcm": fetch_sample("boxes_0.dcm").read_bytes()[:4096]}


BAD_ARCHIVES: list[tuple[str, Callable[[], tuple[str, bytes]], int, str]] = [
    ("dotdot", lambda: ("s.zip", zip_of({"../boxes_0.dcm": b"x" * 200})), 422, "outside"),
    ("absolute", lambda: ("s.tar", tar_of({"/tmp/x.dcm": b"x"}, mode="w")), 422, "absolute"),
    ("windows", lambda: ("s.zip", zip_of({"a\\..\\x.dcm": b"x"})), 422, "unsafe name"),
    ("zip-link", lambda: ("s.zip", zip_of(series_members(), link="x.dcm")), 422, "link"),
    ("tar-link", lambda: ("s.tar.gz", tar_of(series_members(), link="x.dcm")), 422, "link"),
    ("twice", lambda: ("s.zip", zip_of({"a/B.dcm": b"x", "a/b.dcm": b"y"})), 422, "twice"),
    ("deep", lambda: ("s.zip", zip_of({"a/b/c/d.dcm": b"x"})), 422, "deeper"),
    (
        "not-a-series",
        lambda: ("s.zip", zip_of({**series_members(), "notes.txt": b"hello"})),
        422,
        "no multi-file slide",
    ),
    (
        "not-dicom",
        lambda: ("s.zip", zip_of({"x.dcm": b"\0" * 200})),
        422,
        "'x.dcm' in the archive is no DICOM file",
    ),
    (
        "mrxs-alone",
        lambda: ("s.zip", zip_of({"slide.mrxs": b"[GENERAL]\n"})),
        422,
        "a .mrxs without that folder",
    ),
    ("empty", lambda: ("s.zip", zip_of({"d/": b""})), 422, "holds no files"),
    ("corrupt", lambda: ("s.zip", b"PK\x03\x04" + b"\x00" * 300), 422, "not a readable archive"),
    (
        "corrupt-gz",
        lambda: ("s.tar.gz", tar_of(series_members())[:2000]),
        422,
        "not a readable archive",
    ),
    (
        "cut-tar",
        lambda: ("s.tar", tar_of(series_members(), mode="w")[:7000]),
        422,
        "not a readable archive",
    ),
    ("not-a-zip", lambda: ("s.zip", b"%PDF-1.7 " * 100), 415, "does not start like"),
    ("unreadable-series", lambda: ("s.zip", zip_of(_broken_dicom())), 422, "'cut.dcm'"),
    ("bomb", lambda: ("s.zip", zip_of(_bomb())), 413, "unpacks to more than"),
]


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [pytest.param(m, s, msg, id=i) for i, m, s, msg in BAD_ARCHIVES],
)
def test_a_bad_archive_is_refused_clearly_and_leaves_nothing_behind(
    service: ServiceHarness, make: Callable[[], tuple[str, bytes]], status: int, message: str
) -> None:
    state = app_state(service)
    # The byte budget of the unpacked slide is the upload limit: the 3 MiB of zeros (a few
    # KiB deflated, so the upload itself is well under it) are over it.
    state.settings = state.settings.model_copy(update={"max_upload_bytes": 1 << 20})
    case = new_case(service, "ALR")
    name, body = make()
    answer = upload(service, case.case_id, name, body)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert message in detail
    assert str(service.settings.data_dir.resolve()) not in detail
    assert left_behind(service) == []
    assert nothing_registered(service, case.case_id)


def test_an_archive_with_too_many_members_is_refused(
    service: ServiceHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_archive, "MAX_MEMBERS", 5)
    case = new_case(service, "ALR")
    body = zip_of({f"d/{i:02}.dcm": b"x" for i in range(6)})
    answer = upload(service, case.case_id, "many.zip", body)
    assert answer.status_code == 422, answer.text
    assert "more than 5 members" in answer.json()["detail"]
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)


def test_the_upload_route_names_the_archive_kinds(service: ServiceHarness) -> None:
    case = new_case(service, "ALR")
    answer = upload(service, case.case_id, "series.rar", b"Rar!\x1a\x07\x00")
    assert answer.status_code == 415
    assert ".zip" in answer.json()["detail"] and ".tar.gz" in answer.json()["detail"]
    schema = service.client.get("/openapi.json").json()
    body = schema["paths"]["/cases/{case_id}/slides"]["post"]["requestBody"]
    described = body["content"]["multipart/form-data"]["schema"]["properties"]["file"]
    assert "DICOM series" in described["description"]


def test_a_mirax_layout_whose_slidedat_names_no_data_is_refused_and_leaves_nothing(
    service: ServiceHarness,
) -> None:
    # Real MIRAX slides, whole and broken, are in test_mirax_import.py; this one never reaches
    # the reader: its Slidedat.ini does not say which index and data files it has.
    case = new_case(service, "ALR")
    members = {"s/slide.mrxs": b"[GENERAL]\n", "s/slide/Slidedat.ini": b"[GENERAL]\n"}
    answer = upload(service, case.case_id, "mirax.zip", zip_of(members))
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "'slide.mrxs'" in detail and "does not say where its data is" in detail
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)


def test_a_mirax_folder_is_found_and_stored_private(tmp_path: Path) -> None:
    source = tmp_path / "in"
    (source / "slide").mkdir(parents=True)
    (source / "slide.mrxs").write_text("[GENERAL]\n")
    (source / "slide" / "Index.dat").write_bytes(b"x")
    assert mirax_main_file(source) == source / "slide.mrxs"
    (source / "other.txt").write_text("x")
    assert mirax_main_file(source) is None  # more than the one slide
    (source / "other.txt").unlink()
    (source / "slide" / "inner").mkdir()
    assert mirax_main_file(source) is None  # its data folder is flat
    (source / "slide" / "inner").rmdir()

    target = tmp_path / "store" / "abc-slide"
    store_tree(source, target)
    assert stat.S_IMODE((target / "slide").stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "slide" / "Index.dat").stat().st_mode) == 0o600
    assert stat.S_IMODE((target / "slide.mrxs").stat().st_mode) == 0o600


def test_a_lone_dicom_file_is_refused_and_asks_for_the_whole_series(
    service: ServiceHarness,
) -> None:
    # One level of a series would open as a partial slide: like the drop folder, the upload
    # route takes a DICOM WSI only as the whole series in one archive.
    case = new_case(service, "ALR")
    answer = upload(service, case.case_id, "boxes_0.dcm", fetch_sample("boxes_0.dcm").read_bytes())
    assert answer.status_code == 415, answer.text
    detail = answer.json()["detail"]
    assert "one file of a DICOM series" in detail and ".zip" in detail
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)
