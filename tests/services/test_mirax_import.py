"""A MIRAX slide (a ``.mrxs`` with its data folder, written from the real tissue by
:func:`tiling.samples.mirax.write_mirax`) uploaded as one archive or dropped as one folder
becomes one slide whose Deep Zoom descriptor and tiles are served; a broken one is refused
with the reason and leaves nothing behind."""

from __future__ import annotations

import io
import os
import shutil
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from services.importer import ERROR_SIDECAR_SUFFIX
from tests.services.conftest import ServiceHarness
from tests.services.test_importer import imported_rows, inbox
from tests.services.test_imports_api import queue
from tests.services.test_upload_archive import (
    left_behind,
    nothing_registered,
    service,
    upload,
    zip_of,
)
from tests.services.tiling_jobs_support import app_state, job_row, new_case, slides_of
from tiling.samples.mirax import mirax_data_folder, write_mirax
from tiling.sources import open_slide
from worklist.db import read_session
from worklist.enums import JobStatus, Role
from worklist.models import ImportOutcome, Slide
from worklist.models.imports import ImportProblem

__all__ = ["service"]  # the fixture, imported for these tests

WIDTH_PX, HEIGHT_PX = 1280, 768
DATA_FILES = ["Data0000.dat", "Index.dat", "Slidedat.ini"]
OLD_NS = 1_600_000_000 * 10**9  # September 2020: long settled
DZI_XMLNS = "http://schemas.microsoft.com/deepzoom/2008"


@pytest.fixture(scope="module")
def mirax_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MIRAX slide, written once; tests copy it."""
    folder = tmp_path_factory.mktemp("mirax")
    return write_mirax(folder / "slide.mrxs", width_px=WIDTH_PX, height_px=HEIGHT_PX)


def mirax_members(mrxs: Path, prefix: str = "") -> dict[str, bytes]:
    """The slide's files as archive members: ``slide.mrxs`` and ``slide/...``."""
    data = mirax_data_folder(mrxs)
    members = {f"{prefix}{mrxs.name}": mrxs.read_bytes()}
    for path in sorted(data.iterdir()):
        members[f"{prefix}{data.name}/{path.name}"] = path.read_bytes()
    return members


def mirax_copy(mrxs: Path, folder: Path) -> Path:
    """The slide copied into ``folder`` (made), the way a scanner leaves it: the ``.mrxs``
    beside its data folder. Returns the copied ``.mrxs``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(mirax_data_folder(mrxs), folder / mirax_data_folder(mrxs).name)
    return Path(shutil.copy2(mrxs, folder / mrxs.name))


def truncate_index(members: dict[str, bytes]) -> dict[str, bytes]:
    index = members["slide/Index.dat"]
    return {**members, "slide/Index.dat": index[: len(index) // 2]}


def decoded(body: bytes) -> NDArray[np.uint8]:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def stored_file(service: ServiceHarness, slide_id: int) -> Path:
    """The slide's file as registered: where the slide store keeps it."""
    with read_session(service.engine) as session:
        slide = session.get(Slide, slide_id)
        assert slide is not None and slide.file_path is not None
        return Path(slide.file_path)


def served_tissue(service: ServiceHarness, slide_id: int, slide_file: Path) -> None:
    """The descriptor says the slide's size; a full-resolution tile is the slide's tissue."""
    headers = service.headers("alr_path")
    answer = service.client.get(f"/slides/{slide_id}.dzi", headers=headers)
    assert answer.status_code == 200, answer.text
    size = ET.fromstring(answer.text).find(f"{{{DZI_XMLNS}}}Size")
    assert size is not None
    assert (size.attrib["Width"], size.attrib["Height"]) == (str(WIDTH_PX), str(HEIGHT_PX))
    # Deep Zoom level 11 is full resolution (2**11 >= 1280); tile (3, 1) is tissue.
    tile = service.client.get(f"/slides/{slide_id}_files/11/3_1.jpeg", headers=headers)
    assert tile.status_code == 200, tile.text
    assert tile.headers["content-type"] == "image/jpeg"
    pixels = decoded(tile.content)
    assert pixels.std() > 20, "a blank tile"
    with open_slide(slide_file) as source:  # 254 px tiles, 1 px overlap: (761, 253) on
        expected = source.read_region((761, 253), 0, (pixels.shape[1], pixels.shape[0]))
    assert np.corrcoef(pixels.ravel(), expected.ravel())[0, 1] > 0.97


# --- Uploaded as one archive ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_mirax_slide_uploaded_as_a_zip_becomes_one_slide_whose_tiles_are_served(
    service: ServiceHarness, mirax_source: Path
) -> None:
    case = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)
    body = zip_of(mirax_members(mirax_source, "ALR-T26-00001_A1_HE/"))

    answer = upload(service, case.case_id, "mirax.zip", body, block_label="A1")

    assert answer.status_code == 201, answer.text
    assert answer.json()["slide_id"] == intake_slide.id
    stored = stored_file(service, intake_slide.id)
    # Stored whole, private: the .mrxs beside its data folder, in one folder of the slide's.
    assert stored.name == "slide.mrxs"
    assert sorted(p.name for p in stored.parent.iterdir()) == ["slide", "slide.mrxs"]
    assert sorted(p.name for p in (stored.parent / "slide").iterdir()) == DATA_FILES
    assert stored.parent.parent == service.settings.slide_dir / case.accession_number
    for path in (stored.parent, stored.parent / "slide"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert stat.S_IMODE((stored.parent / "slide" / "Index.dat").stat().st_mode) == 0o600
    served_tissue(service, intake_slide.id, stored)  # rendered from the slide file

    app_state(service).jobs.run_pending()
    assert job_row(service, answer.json()["job"]["id"]).status is JobStatus.DONE
    served_tissue(service, intake_slide.id, stored)  # from the built pyramid


def _without_data(members: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in members.items() if not k.endswith("Data0000.dat")}


def _escaping(members: dict[str, bytes]) -> dict[str, bytes]:
    slidedat = members["slide/Slidedat.ini"].replace(b"FILE_0=Data0000.dat", b"FILE_0=../x.dat")
    return {**members, "slide/Slidedat.ini": slidedat}


BROKEN: list[tuple[str, Callable[[dict[str, bytes]], dict[str, bytes]], str]] = [
    ("index-cut-short", truncate_index, "Expected 0 value at beginning of data page"),
    ("no-data-file", _without_data, "lacks Data0000.dat in its folder 'slide/'"),
    ("data-file-outside", _escaping, "names '../x.dat', outside its data folder"),
]


@pytest.mark.parametrize(("damage", "message"), [pytest.param(d, m, id=i) for i, d, m in BROKEN])
def test_a_broken_mirax_upload_is_refused_clearly_and_leaves_nothing(
    service: ServiceHarness,
    mirax_source: Path,
    damage: Callable[[dict[str, bytes]], dict[str, bytes]],
    message: str,
) -> None:
    case = new_case(service, "ALR")
    body = zip_of(damage(mirax_members(mirax_source)))
    answer = upload(service, case.case_id, "mirax.zip", body)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert message in detail and "slide.mrxs" in detail
    assert str(service.settings.data_dir.resolve()) not in detail
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)


# --- Dropped as one folder in the scanner import folder ------------------------------------------


@pytest.mark.slow
def test_a_mirax_folder_dropped_in_the_import_folder_waits_until_complete_then_is_one_slide(
    service: ServiceHarness, mirax_source: Path
) -> None:
    case = new_case(service, "ALR")
    [intake_slide] = slides_of(service, case.case_id)
    dropped = inbox(service, "ALR") / f"{case.accession_number}_A1_HE"
    mirax_copy(mirax_source, dropped)
    data_file = dropped / "slide" / "Data0000.dat"
    aside = data_file.rename(dropped.parent / ".Data0000.dat")  # still on its way
    importer = app_state(service).importer

    # Settled but incomplete (Slidedat.ini names a data file not there): it waits.
    importer.settle_s = 0.0
    [waiting] = importer.scan_once()
    assert waiting.outcome is ImportOutcome.REJECTED
    assert waiting.problem is ImportProblem.INCOMPLETE_SERIES
    assert "lacks Data0000.dat" in waiting.reason and "waits for the rest" in waiting.reason
    assert dropped.is_dir() and left_behind(service) == []
    assert importer.scan_once() == []  # nothing changed: not tried again

    # The data file arrives and is still being written: the folder and the .mrxs are old,
    # only the data file's time is new, and that keeps the whole slide waiting.
    aside.rename(data_file)
    for path in (dropped, dropped / "slide.mrxs", dropped / "slide"):
        os.utime(path, ns=(OLD_NS, OLD_NS))
    importer.settle_s = 3600.0
    with data_file.open("ab") as f:
        f.write(b"\0")  # past the last image: OpenSlide never reads it
    assert importer.scan_once() == []
    importer.settle_s = 0.0
    [result] = importer.scan_once()
    assert result.outcome is ImportOutcome.REGISTERED, result.reason
    assert result.slide_id == intake_slide.id
    assert not dropped.exists()
    assert not dropped.with_name(dropped.name + ERROR_SIDECAR_SUFFIX).exists()
    stored = stored_file(service, intake_slide.id)
    assert stored.name == "slide.mrxs"
    assert stored.parent.name.endswith(f"-{dropped.name}")
    assert sorted(p.name for p in (stored.parent / "slide").iterdir()) == DATA_FILES
    assert stat.S_IMODE((stored.parent / "slide").stat().st_mode) == 0o700
    app_state(service).jobs.run_pending()
    assert job_row(service, result.job_id or 0).status is JobStatus.DONE
    served_tissue(service, intake_slide.id, stored)
    assert importer.scan_once() == []  # one slide, registered once


def test_a_broken_mirax_folder_is_left_with_the_reason_and_goes_in_once_mended(
    service: ServiceHarness, mirax_source: Path
) -> None:
    case = new_case(service, "ALR")
    dropped = inbox(service, "ALR") / f"{case.accession_number}_A1_HE"
    mirax_copy(mirax_source, dropped)
    index = dropped / "slide" / "Index.dat"
    whole = index.read_bytes()
    index.write_bytes(whole[: len(whole) // 2])
    importer = app_state(service).importer
    importer.settle_s = 0.0

    [refused] = importer.scan_once()
    assert refused.outcome is ImportOutcome.REJECTED
    assert refused.problem is ImportProblem.UNREADABLE
    assert "the slide cannot be read" in refused.reason and "slide.mrxs" in refused.reason
    assert "Expected 0 value at beginning of data page" in refused.reason
    sidecar = dropped.with_name(dropped.name + ERROR_SIDECAR_SUFFIX)
    assert "the slide cannot be read" in sidecar.read_text()
    # Left as the scanner left it; nothing stored, registered or queued for tiling.
    assert sorted(p.name for p in (dropped / "slide").iterdir()) == DATA_FILES
    assert index.read_bytes() == whole[: len(whole) // 2]
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)
    assert [row.outcome for row in imported_rows(service)] == [ImportOutcome.REJECTED]

    index.write_bytes(whole)  # copied again, whole: a new version of the folder
    [mended] = importer.scan_once()
    assert mended.outcome is ImportOutcome.REGISTERED, mended.reason
    assert not dropped.exists() and not sidecar.exists()


def test_a_lone_mrxs_beside_its_data_folder_waits_to_be_dropped_as_one_folder(
    service: ServiceHarness, mirax_source: Path
) -> None:
    case = new_case(service, "ALR")
    folder = inbox(service, "ALR")
    lone = mirax_copy(mirax_source, folder)
    lone = lone.rename(folder / f"{case.accession_number}_A1_HE.mrxs")
    importer = app_state(service).importer
    importer.settle_s = 0.0

    [result] = importer.scan_once()  # the data folder alone is no slide: not reported
    assert result.path == lone and result.outcome is ImportOutcome.REJECTED
    assert result.problem is ImportProblem.INCOMPLETE_SERIES
    assert "inside one folder named like the slide" in result.reason
    assert lone.exists() and (folder / "slide").is_dir()
    assert left_behind(service) == [] and nothing_registered(service, case.case_id)


@pytest.mark.slow
def test_a_queued_mirax_folder_is_linked_as_one_slide_or_discarded_whole(
    service: ServiceHarness, mirax_source: Path
) -> None:
    service.add_user("manager", Role.LAB_MANAGER, department_code="ALR")
    manager = service.headers("manager")
    case = new_case(service, "ALR")
    # Named for cases that do not exist: both wait in the import queue.
    to_link = inbox(service, "ALR") / "ALR-T26-000123_A1_HE"
    to_discard = inbox(service, "ALR") / "ALR-T26-000124_A1_HE"
    for folder in (to_link, to_discard):
        mirax_copy(mirax_source, folder)
    importer = app_state(service).importer
    importer.settle_s = 0.0
    assert {r.problem for r in importer.scan_once()} == {ImportProblem.NO_CASE}
    entries = queue(service)

    linked = service.client.post(
        f"/imports/{entries[to_link.name]['id']}/link",
        json={"case_id": case.case_id},
        headers=manager,
    )
    assert linked.status_code == 200, linked.text
    assert not to_link.exists()
    [slide] = slides_of(service, case.case_id)
    stored = stored_file(service, slide.id)
    assert stored.name == "slide.mrxs"
    assert sorted(p.name for p in (stored.parent / "slide").iterdir()) == DATA_FILES

    discarded = service.client.post(
        f"/imports/{entries[to_discard.name]['id']}/discard",
        json={"note": "scanned again"},
        headers=manager,
    )
    assert discarded.status_code == 200, discarded.text
    assert not to_discard.exists()
