"""The slide routes: Deep Zoom descriptor and tiles, metadata, thumbnail, label and macro."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import imagecodecs
import numpy as np
import pytest

from services.settings import Settings
from services.storage import pyramid_paths
from services.tiles import (
    PREBUILT_CACHE_CONTROL,
    RENDERED_CACHE_CONTROL,
    TileService,
)
from tests.services.audit_support import slide_opens
from tests.services.conftest import ServiceHarness
from tests.services.tiling_jobs_support import new_case
from tests.services.worklist_api_support import first_slide
from tiling.deepzoom import DZI_XMLNS
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import ensure_synthetic_slide, fetch_sample
from tiling.spec import TileSpec
from worklist.enums import AuditOutcome, PyramidStatus, Role
from worklist.operations import (
    set_pyramid_status,
)

TRAVERSALS = ("../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "%2e%2e%2fsecret", "..%5C..%5Cx")


# --- Helpers -----------------------------------------------------------------------------------


def add_slide(service: ServiceHarness, department: str, file_path: Path | None) -> int:
    """A new case in ``department`` with one slide showing ``file_path``; the slide's id."""
    return first_slide(service, new_case(service, department, file_path=file_path).case_id)


def copy_sample(service: ServiceHarness, name: str) -> Path:
    """A private copy of a sample slide in the service's slide folder (tests may delete it)."""
    target = service.settings.slide_dir / name
    shutil.copyfile(fetch_sample(name), target)
    return target


def build_for(service: ServiceHarness, slide_id: int, slide_file: Path, **spec: object) -> None:
    paths = pyramid_paths(service.settings, slide_id)
    options = PyramidOptions(spec=TileSpec(**spec))  # type: ignore[arg-type]
    build_pyramid(slide_file, paths.directory, options, name=paths.name)
    set_pyramid_status(engine=service.engine, slide_id=slide_id, status=PyramidStatus.READY)


def decode(data: bytes) -> np.ndarray:  # type: ignore[type-arg]
    if data[:4] == b"\x89PNG":
        return np.asarray(imagecodecs.png_decode(data))
    return np.asarray(imagecodecs.jpeg8_decode(data))


def all_tiles(files_dir: Path, extension: str) -> list[tuple[int, int, int, Path]]:
    tiles = []
    for level_dir in files_dir.iterdir():
        if not level_dir.is_dir():
            continue
        for tile in level_dir.glob(f"*.{extension}"):
            column, row = tile.stem.split("_")
            tiles.append((int(level_dir.name), int(column), int(row), tile))
    return sorted(tiles)


@pytest.fixture
def people(service: ServiceHarness) -> dict[str, dict[str, str]]:
    """Header sets: an HMC and a LUMC pathologist, an HMC lab manager, an admin."""
    service.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
    service.add_user("lumc_path", Role.PATHOLOGIST, pathologist_code="LUMC-01")
    service.add_user("manager", Role.LAB_MANAGER, department_code="HMC")
    service.add_user("admin", Role.ADMIN)
    names = ("hmc_path", "lumc_path", "manager", "admin")
    headers = {name: service.headers(name) for name in names}
    service.client.cookies.clear()  # signing in set a cookie: each request says who it is
    return headers


@pytest.fixture
def cmu(service: ServiceHarness) -> tuple[int, Path]:
    """An HMC slide showing CMU-1-Small-Region, with no pyramid yet."""
    path = copy_sample(service, "CMU-1-Small-Region.svs")
    return add_slide(service, "HMC", path), path


# --- On the fly equals pre-built -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sample", "block_px", "direct_max_shift"),
    [
        ("CMU-1-Small-Region.svs", 512, 2),  # the service's defaults
        ("CMU-1-Small-Region.svs", 50, 0),  # many small blocks: every mosaic path
        ("generic-tiff-1999x1001", 96, 1),  # odd sizes at every level
    ],
)
def test_rendered_tiles_equal_the_prebuilt_pyramid_pixel_for_pixel(
    tmp_path: Path, sample: str, block_px: int, direct_max_shift: int
) -> None:
    if sample.startswith("generic-tiff"):
        slide_file = ensure_synthetic_slide("generic-tiff", 1999, 1001)
    else:
        slide_file = fetch_sample(sample)
    options = PyramidOptions(spec=TileSpec(tile_format="png"))
    built = build_pyramid(slide_file, tmp_path / "pyramid", options, name="slide")
    service = TileService(
        Settings(data_dir=tmp_path / "data"),
        spec=options.spec,
        block_px=block_px,
        direct_max_shift=direct_max_shift,
    )
    try:
        tiles = all_tiles(built.files_dir, "png")
        assert len(tiles) == built.geometry.tile_count
        for level, column, row, path in tiles:
            rendered = service.render_tile(slide_file, service.spec, level, column, row)
            expected = decode(path.read_bytes())
            got = decode(rendered)
            assert got.shape == expected.shape, (level, column, row)
            assert np.array_equal(got, expected), (level, column, row)
    finally:
        service.close()


@pytest.mark.slow
def test_rendered_jpeg_tiles_are_byte_identical_through_the_routes(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, path = cmu
    rendered_id = add_slide(service, "HMC", path)  # the same file, never built
    build_for(service, slide_id, path)
    files_dir = pyramid_paths(service.settings, slide_id).files_dir
    headers = people["hmc_path"]
    for level, column, row, tile in all_tiles(files_dir, "jpeg"):
        address = f"{level}/{column}_{row}.jpeg"
        prebuilt = service.client.get(f"/slides/{slide_id}_files/{address}", headers=headers)
        rendered = service.client.get(f"/slides/{rendered_id}_files/{address}", headers=headers)
        assert prebuilt.status_code == rendered.status_code == 200
        assert prebuilt.headers["cache-control"] == PREBUILT_CACHE_CONTROL
        assert rendered.headers["cache-control"] == RENDERED_CACHE_CONTROL
        assert prebuilt.content == tile.read_bytes()
        assert rendered.content == prebuilt.content, address


# --- The descriptor, and the audit -------------------------------------------------------------


def test_the_descriptor_is_deep_zoom_xml_and_its_tiles_resolve(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    answer = service.client.get(f"/slides/{slide_id}.dzi", headers=people["hmc_path"])
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    image = ET.fromstring(answer.text)
    assert image.tag == f"{{{DZI_XMLNS}}}Image"
    assert (image.attrib["TileSize"], image.attrib["Overlap"], image.attrib["Format"]) == (
        "254",
        "1",
        "jpeg",
    )
    size = image.find(f"{{{DZI_XMLNS}}}Size")
    assert size is not None and (size.attrib["Width"], size.attrib["Height"]) == ("2220", "2967")
    # OpenSeadragon's DziTileSource: the folder is the descriptor URL minus ".dzi" plus "_files/".
    tile_url = f"/slides/{slide_id}_files/12/0_0.jpeg"
    tile = service.client.get(tile_url, headers=people["hmc_path"])
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/jpeg"
    assert tile.content[:2] == b"\xff\xd8"


@pytest.mark.slow
def test_opening_a_slide_is_audited_once_not_per_tile(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    headers = people["hmc_path"]
    assert slide_opens(service, slide_id) == 0
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=headers).status_code == 200
    fetched = 0
    for level in range(13):
        for row in range(12):
            for column in range(9):
                if fetched == 50:
                    break
                url = f"/slides/{slide_id}_files/{level}/{column}_{row}.jpeg"
                answer = service.client.get(url, headers=headers)
                if answer.status_code == 200:
                    fetched += 1
                else:
                    assert answer.status_code == 404
    assert fetched == 50
    assert slide_opens(service, slide_id) == 1


def test_a_prebuilt_descriptor_is_served_from_the_pyramid(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, path = cmu
    build_for(service, slide_id, path, tile_format="png", tile_size_px=256, overlap_px=0)
    answer = service.client.get(f"/slides/{slide_id}.dzi", headers=people["admin"])
    assert answer.status_code == 200
    assert answer.text == pyramid_paths(service.settings, slide_id).dzi.read_text()
    assert 'Format="png"' in answer.text and 'TileSize="256"' in answer.text
    tile = service.client.get(f"/slides/{slide_id}_files/12/0_0.png", headers=people["admin"])
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    # The extension must be the pyramid's.
    wrong = service.client.get(f"/slides/{slide_id}_files/12/0_0.jpeg", headers=people["admin"])
    assert wrong.status_code == 404 and wrong.json()["error"] == "not_found"
    meta = service.client.get(f"/slides/{slide_id}", headers=people["admin"]).json()
    assert meta["deepzoom"]["prebuilt"] is True
    assert meta["deepzoom"]["tile_format"] == "png"
    assert meta["pyramid_status"] == "ready"


# --- Caching -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prebuilt", [False, True])
def test_tiles_carry_an_etag_and_if_none_match_answers_304(
    service: ServiceHarness,
    people: dict[str, dict[str, str]],
    cmu: tuple[int, Path],
    prebuilt: bool,
) -> None:
    slide_id, path = cmu
    if prebuilt:
        build_for(service, slide_id, path)
    url = f"/slides/{slide_id}_files/11/1_2.jpeg"
    first = service.client.get(url, headers=people["hmc_path"])
    assert first.status_code == 200
    etag = first.headers["etag"]
    expected = PREBUILT_CACHE_CONTROL if prebuilt else RENDERED_CACHE_CONTROL
    assert first.headers["cache-control"] == expected
    again = service.client.get(url, headers={**people["hmc_path"], "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    listed = service.client.get(
        url, headers={**people["hmc_path"], "If-None-Match": f'"other", W/{etag}'}
    )
    assert listed.status_code == 304
    stale = service.client.get(url, headers={**people["hmc_path"], "If-None-Match": '"old"'})
    assert stale.status_code == 200 and stale.content == first.content
    other = service.client.get(f"/slides/{slide_id}_files/11/2_1.jpeg", headers=people["admin"])
    assert other.headers["etag"] != etag
    # A 304 still needs access: another department's pathologist gets 403, not 304.
    denied = service.client.get(url, headers={**people["lumc_path"], "If-None-Match": etag})
    assert denied.status_code == 403


# --- Metadata, thumbnail, label, macro ---------------------------------------------------------


def test_metadata_describes_the_slide(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    answer = service.client.get(f"/slides/{slide_id}", headers=people["hmc_path"])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["width_px"], body["height_px"]) == (slide_id, 2220, 2967)
    assert body["mpp_x_um"] == pytest.approx(0.499)
    assert body["objective_power"] == pytest.approx(20)
    assert body["vendor"] == "aperio"
    assert body["slide_levels"][0] == {"width_px": 2220, "height_px": 2967}
    assert body["deepzoom"] == {
        "dzi_url": f"/slides/{slide_id}.dzi",
        "tile_size_px": 254,
        "overlap_px": 1,
        "tile_format": "jpeg",
        "level_count": 13,
        "prebuilt": False,
    }
    assert body["pyramid_status"] == "none"
    assert {"label", "macro"} <= set(body["associated_images"])


def test_thumbnail_is_a_bounded_jpeg(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    answer = service.client.get(
        f"/slides/{slide_id}/thumbnail", params={"max_px": 300}, headers=people["hmc_path"]
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    height, width = decode(answer.content).shape[:2]
    assert max(width, height) == 300 and (width, height) == (224, 300)
    default = service.client.get(f"/slides/{slide_id}/thumbnail", headers=people["hmc_path"])
    assert max(decode(default.content).shape[:2]) == 512
    for too_big in ("5000", "0", "-3", "abc"):
        refused = service.client.get(
            f"/slides/{slide_id}/thumbnail",
            params={"max_px": too_big},
            headers=people["hmc_path"],
        )
        assert refused.status_code == 422


def test_label_and_macro_for_whoever_may_see_the_case(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    for name in ("label", "macro"):
        url = f"/slides/{slide_id}/{name}"
        # The case's pathologist checks on the macro that all the tissue was scanned.
        for who in ("hmc_path", "manager", "admin"):
            answer = service.client.get(url, headers=people[who])
            assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
            assert answer.headers["cache-control"] == "private, no-store"
            assert decode(answer.content).ndim == 3
        forbidden = service.client.get(url, headers=people["lumc_path"])
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "forbidden"
    # Looking at a label shows patient identifiers: every view is audited.
    assert slide_opens(service, slide_id) == 6
    assert slide_opens(service, slide_id, AuditOutcome.SERIOUS_FAILURE) == 2


def test_a_slide_without_that_associated_image_answers_404(
    service: ServiceHarness, people: dict[str, dict[str, str]]
) -> None:
    slide_id = add_slide(service, "HMC", ensure_synthetic_slide("generic-tiff", 1999, 1001))
    answer = service.client.get(f"/slides/{slide_id}/label", headers=people["admin"])
    assert answer.status_code == 404 and "no label image" in answer.json()["detail"]


# --- Who may see what --------------------------------------------------------------------------


def _every_route(slide_id: int | str) -> list[str]:
    return [
        f"/slides/{slide_id}.dzi",
        f"/slides/{slide_id}_files/12/0_0.jpeg",
        f"/slides/{slide_id}",
        f"/slides/{slide_id}/thumbnail",
        f"/slides/{slide_id}/label",
        f"/slides/{slide_id}/macro",
    ]


def test_access_rules_on_every_route(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    for url in _every_route(slide_id):
        assert service.client.get(url).status_code == 401
        other = service.client.get(url, headers=people["lumc_path"])
        assert other.status_code == 403, url
        assert other.json()["error"] == "forbidden"
        assert service.client.get(url, headers=people["admin"]).status_code == 200, url
        missing = service.client.get(url.replace(str(slide_id), "999", 1), headers=people["admin"])
        assert missing.status_code == 404, url
        assert missing.json() == {"error": "not_found", "detail": "slide 999 does not exist"}
    # Only the admin's first opening, label and macro are openings. The other department's
    # attempts are recorded as refusals: once for the viewer's routes of one session, and
    # every time for the label and the macro (each view of those is audited).
    assert slide_opens(service, slide_id) == 3
    assert slide_opens(service, slide_id, AuditOutcome.SERIOUS_FAILURE) == 3


def test_every_tile_checks_the_token_and_the_access(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    url = f"/slides/{slide_id}_files/12/0_0.jpeg"
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=people["hmc_path"]).is_success
    assert service.client.get(url, headers=people["hmc_path"]).status_code == 200
    forged = {"Authorization": people["hmc_path"]["Authorization"] + "x"}
    assert service.client.get(url, headers=forged).status_code == 401
    assert service.client.get(url).status_code == 401
    # Another user's checked access is theirs alone.
    assert service.client.get(url, headers=people["lumc_path"]).status_code == 403
    assert service.client.get(url, headers=people["hmc_path"]).status_code == 200


def test_a_slide_not_scanned_yet_has_no_image(
    service: ServiceHarness, people: dict[str, dict[str, str]]
) -> None:
    slide_id = add_slide(service, "HMC", None)
    for url in _every_route(slide_id):
        answer = service.client.get(url, headers=people["admin"])
        assert answer.status_code == 404, url
        assert "not been scanned" in answer.json()["detail"]


# --- Bad addresses and traversal ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "status"),
    [
        ("13/0_0.jpeg", 404),  # one level past the last
        ("64/0_0.jpeg", 404),
        ("65/0_0.jpeg", 422),
        ("-1/0_0.jpeg", 422),
        ("abc/0_0.jpeg", 422),
        ("99999999999999999999999/0_0.jpeg", 422),
        ("12/9_0.jpeg", 404),  # one column past the last
        ("12/0_12.jpeg", 404),
        ("12/999999999_0.jpeg", 404),
        ("12/9999999999_0.jpeg", 404),
        ("12/0_0.png", 404),
        ("12/0_0.JPEG", 404),
        ("12/0_0.jpg", 404),
        ("12/0_0", 404),
        ("12/0_0.jpeg.exe", 404),
        ("12/0-0.jpeg", 404),
        ("12/-1_0.jpeg", 404),
        ("12/0_0_0.jpeg", 404),
        ("12/%20_0.jpeg", 404),
        ("12/" + "1" * 50 + "_0.jpeg", 422),
    ],
)
def test_bad_tile_addresses_answer_json_4xx(
    service: ServiceHarness,
    people: dict[str, dict[str, str]],
    cmu: tuple[int, Path],
    tail: str,
    status: int,
) -> None:
    slide_id, _ = cmu
    answer = service.client.get(f"/slides/{slide_id}_files/{tail}", headers=people["admin"])
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"


@pytest.mark.parametrize("slide_part", ["abc", "0", "-1", "1.5", "9" * 30, "1e3"])
def test_bad_slide_ids_answer_json_4xx(
    service: ServiceHarness, people: dict[str, dict[str, str]], slide_part: str
) -> None:
    for url in _every_route(slide_part):
        answer = service.client.get(url, headers=people["admin"])
        assert 400 <= answer.status_code < 500, url
        assert answer.headers["content-type"] == "application/json"


def test_path_traversal_on_every_route_answers_4xx(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, _ = cmu
    sneaky = [*TRAVERSALS, "/etc/passwd", "%2Fetc%2Fpasswd", "C:%5Cwindows", str(cmu[1])]
    urls = []
    for bad in sneaky:
        urls += _every_route(bad)
        urls += [
            f"/slides/{slide_id}_files/{bad}",
            f"/slides/{slide_id}_files/12/{bad}",
            f"/slides/{slide_id}_files/{bad}/0_0.jpeg",
            f"/slides/{slide_id}_files/12/0_0.{bad}",
            f"/slides/{slide_id}_files/12/{bad}_0.jpeg",
            f"/slides/{slide_id}/thumbnail?max_px={bad}",
        ]
    for url in urls:
        answer = service.client.get(url, headers=people["admin"])
        assert 400 <= answer.status_code < 500, (url, answer.status_code)
        assert b"root:" not in answer.content


# --- Broken and vanished files -----------------------------------------------------------------


def test_a_broken_slide_file_answers_json_and_the_service_keeps_serving(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    good_id, _ = cmu
    headers = people["admin"]
    # No backend opens it: every route says so.
    unopenable_id = add_slide(service, "HMC", copy_sample(service, "unopenable.tiff"))
    for url in _every_route(unopenable_id):
        answer = service.client.get(url, headers=headers)
        assert answer.status_code == 422, url
        assert answer.json()["error"] == "unsupported_slide"
        assert "unopenable.tiff" in answer.json()["detail"]
    # A failed opening of the descriptor is not an opening.
    assert slide_opens(service, unopenable_id) == 0
    # Its header reads (a 16 x 16 px slide) but its pixels do not.
    unreadable_id = add_slide(service, "HMC", copy_sample(service, "unreadable.svs"))
    for url in (f"/slides/{unreadable_id}_files/4/0_0.jpeg", f"/slides/{unreadable_id}/thumbnail"):
        answer = service.client.get(url, headers=headers)
        assert answer.status_code == 422, url
        assert answer.json()["error"] == "slide_unreadable"
        assert "unreadable.svs" in answer.json()["detail"]
    assert service.client.get("/health").status_code == 200
    for url in _every_route(good_id):
        assert service.client.get(url, headers=headers).status_code == 200, url


def test_a_vanished_slide_file_answers_410_even_when_it_was_open(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, path = cmu
    headers = people["admin"]
    assert service.client.get(f"/slides/{slide_id}_files/12/0_0.jpeg", headers=headers).is_success
    path.unlink()
    for url in _every_route(slide_id):
        answer = service.client.get(url, headers=headers)
        assert answer.status_code == 410, url
        assert answer.json()["error"] == "slide_file_missing"
    assert service.client.get("/health").status_code == 200


def test_a_tile_missing_from_the_pyramid_is_rendered_instead(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    # Builds that skip background tiles leave holes; the viewer still gets the tile.
    slide_id, path = cmu
    build_for(service, slide_id, path)
    tile_file = pyramid_paths(service.settings, slide_id).files_dir / "12" / "2_3.jpeg"
    expected = tile_file.read_bytes()
    tile_file.unlink()
    answer = service.client.get(f"/slides/{slide_id}_files/12/2_3.jpeg", headers=people["admin"])
    assert answer.status_code == 200 and answer.content == expected
    assert answer.headers["cache-control"] == RENDERED_CACHE_CONTROL


def test_a_prebuilt_pyramid_outlives_its_slide_file(
    service: ServiceHarness, people: dict[str, dict[str, str]], cmu: tuple[int, Path]
) -> None:
    slide_id, path = cmu
    build_for(service, slide_id, path)
    path.unlink()
    headers = people["hmc_path"]
    assert service.client.get(f"/slides/{slide_id}.dzi", headers=headers).status_code == 200
    tile = service.client.get(f"/slides/{slide_id}_files/12/3_4.jpeg", headers=headers)
    assert tile.status_code == 200
    assert service.client.get(f"/slides/{slide_id}", headers=headers).status_code == 410


def test_openapi_documents_the_slide_routes(service: ServiceHarness) -> None:
    paths = service.client.get("/openapi.json").json()["paths"]
    for route in (
        "/slides/{slide_id}.dzi",
        "/slides/{slide_id}_files/{level}/{address}",
        "/slides/{slide_id}",
        "/slides/{slide_id}/thumbnail",
        "/slides/{slide_id}/label",
        "/slides/{slide_id}/macro",
    ):
        assert "get" in paths[route], route
