"""MIRAX slides written from the real tissue: OpenSlide opens them as "mirax", every level
holds the tissue where it belongs, and Coupe's slide source and pyramid build read them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
import pytest
from numpy.typing import NDArray
from PIL import Image

from tests.tiling.samples.test_synthetic import expected_plane, psnr_db, real_tissue
from tests.tiling.sources.slide_source_tests import SlideSourceTests
from tiling.pyramid import build_pyramid
from tiling.samples import mirax, write_generic_tiff
from tiling.samples.mirax import mirax_data_folder, write_mirax
from tiling.sources import OpenSlideSource, open_slide

__all__ = ["real_tissue"]  # the fixture, imported for these tests

# (width, height): a grid whose levels halve evenly, and one whose edge images hang over.
SIZES = [(2048, 1536), (1280, 768)]


def rgb(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def mirax_slide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mirax(
        tmp_path_factory.mktemp("mirax") / "slide.mrxs", width_px=1280, height_px=768
    )


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_openslide_opens_it_as_mirax_with_levels_mpp_and_associated_images(
    tmp_path: Path, width_px: int, height_px: int
) -> None:
    path = write_mirax(tmp_path / "s.mrxs", width_px=width_px, height_px=height_px, mpp_um=0.243)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "s.mrxs"]
    assert sorted(p.name for p in mirax_data_folder(path).iterdir()) == [
        "Data0000.dat",
        "Index.dat",
        "Slidedat.ini",
    ]
    assert openslide.OpenSlide.detect_format(path) == "mirax"
    with openslide.OpenSlide(path) as slide:
        assert slide.properties["openslide.vendor"] == "mirax"
        assert slide.dimensions == (width_px, height_px)
        # Levels halve until one 256 px camera image holds the whole slide.
        expected = [(width_px >> k, height_px >> k) for k in range(slide.level_count)]
        assert list(slide.level_dimensions) == expected
        assert max(expected[-1]) <= 256 < max(expected[-2])
        assert slide.level_downsamples == tuple(float(2**k) for k in range(slide.level_count))
        assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.243)
        assert float(slide.properties["openslide.mpp-y"]) == pytest.approx(0.243)
        assert slide.properties["openslide.objective-power"] == "40"
        assert slide.properties["mirax.GENERAL.SLIDE_ID"]
        assert set(slide.associated_images) == {"label", "macro"}
        assert slide.associated_images["label"].size == (387, 463)
        assert slide.associated_images["macro"].size == (1280, 431)


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_every_level_holds_the_tissue_where_it_belongs(
    tmp_path: Path, real_tissue: NDArray[np.uint8], width_px: int, height_px: int
) -> None:
    mirax = write_mirax(tmp_path / "s.mrxs", width_px=width_px, height_px=height_px)
    with openslide.OpenSlide(mirax) as slide:
        levels = [
            rgb(slide.read_region((0, 0), k, slide.level_dimensions[k]))
            for k in range(slide.level_count)
        ]
    # Level 0 is the mirrored real tissue, within what JPEG loses.
    plane = expected_plane(real_tissue, 256, width_px, height_px)
    assert psnr_db(levels[0], plane) > 30
    assert np.corrcoef(levels[0].ravel(), plane.ravel())[0, 1] > 0.99
    assert np.abs(levels[0].mean(axis=(0, 1)) - plane.mean(axis=(0, 1))).max() < 2
    # A generic TIFF of the same tissue holds the same JPEG tiles (where the MIRAX images
    # are inside the slide): a MIRAX image placed one pixel off, on any level, breaks this.
    generic = write_generic_tiff(
        tmp_path / "g.tiff",
        width_px=width_px,
        height_px=height_px,
        levels=tuple(2**k for k in range(len(levels))),
    )
    with openslide.OpenSlide(generic) as reference:
        for k, level in enumerate(levels):
            expected = rgb(reference.read_region((0, 0), k, reference.level_dimensions[k]))
            # Past a level's edge the MIRAX image is white, the TIFF's tile more tissue: the
            # decoder's chroma upsampling mixes that into the last pixel row and column.
            np.testing.assert_array_equal(level[:-1, :-1], expected[:-1, :-1], f"level {k}")
            assert psnr_db(level, expected) > 40


def test_a_region_read_across_images_and_off_the_origin_is_the_tissue(
    mirax_slide: Path, real_tissue: NDArray[np.uint8]
) -> None:
    # 400 x 300 px of tissue from (700, 300): across the image edges at x 768 and 1024, y 512.
    expected = expected_plane(real_tissue, 256, 1280, 768)[300:600, 700:1100]
    with openslide.OpenSlide(mirax_slide) as slide:
        region = rgb(slide.read_region((700, 300), 0, (400, 300)))
        halved = rgb(slide.read_region((700, 300), 1, (200, 150)))
    assert expected.std() > 30  # tissue, not the pale glass around it
    # Within what JPEG (quality 75) loses; one image out of place would fall far below.
    assert psnr_db(region, expected) > 30
    assert np.corrcoef(region.ravel(), expected.ravel())[0, 1] > 0.97
    reduced = np.asarray(Image.fromarray(np.ascontiguousarray(expected)).reduce(2))
    assert psnr_db(halved, reduced) > 27  # denser detail per pixel: JPEG loses a little more
    assert np.corrcoef(halved.ravel(), reduced.ravel())[0, 1] > 0.97


def test_without_label_and_macro_there_are_no_associated_images(tmp_path: Path) -> None:
    path = write_mirax(tmp_path / "s.mrxs", width_px=512, height_px=256, label=False, macro=False)
    with openslide.OpenSlide(path) as slide:
        assert slide.associated_images == {}
        assert slide.level_dimensions == ((512, 256), (256, 128))


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("s.svs", (512, 512), "ends in .mrxs"),
        ("s.mrxs", (500, 512), "multiple of the 256 px"),
        ("s.mrxs", (0, 0), "must be positive"),
    ],
)
def test_a_bad_request_is_refused(
    tmp_path: Path, name: str, size: tuple[int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_mirax(tmp_path / name, width_px=size[0], height_px=size[1])
    assert list(tmp_path.iterdir()) == []


class TestOpenSlideSourceOnMirax(SlideSourceTests):
    """The shared slide-source contract, on a MIRAX slide."""

    @pytest.fixture
    def slide_path(self, mirax_slide: Path) -> Path:
        return mirax_slide

    def open_source(self, path: Path) -> OpenSlideSource:
        return OpenSlideSource(path)


def test_the_registry_opens_it_with_openslide(mirax_slide: Path) -> None:
    with open_slide(mirax_slide) as source:
        assert isinstance(source, OpenSlideSource)
        assert source.format_name == "mirax"
        assert source.dimensions == (1280, 768)
        assert source.mpp == pytest.approx((0.25, 0.25))
        assert source.objective_power == 40
        assert set(source.associated_image_names) == {"label", "macro"}


def test_build_pyramid_tiles_it(mirax_slide: Path, tmp_path: Path) -> None:
    result = build_pyramid(mirax_slide, tmp_path)
    geometry = result.geometry
    assert geometry.l0_dimensions == (1280, 768)
    assert result.tiles_written + result.tiles_background == geometry.tile_count
    top = geometry.level_count - 1  # full resolution: its pixels are level 0's
    box = geometry.tile_box(top, 1, 1)
    tile = rgb(Image.open(result.files_dir / f"{top}/1_1.jpeg"))
    with open_slide(mirax_slide) as source:
        expected = source.read_region((box.x, box.y), 0, (box.width, box.height))
    assert tile.shape == (box.height, box.width, 3)
    assert psnr_db(tile, expected) > 30


def test_a_slide_past_what_one_data_file_addresses_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirax, "_MAX_DATA_FILE_BYTES", 50_000)  # stands in for 2 GiB
    with pytest.raises(ValueError, match="one MIRAX data file can address"):
        write_mirax(tmp_path / "s.mrxs", width_px=1024, height_px=1024)
