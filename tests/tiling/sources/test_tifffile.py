from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tiling.sources.slide_source_tests import (
    SlideSourceTests,
)
from tiling.errors import SlideReadError
from tiling.samples import fetch_sample
from tiling.sources import OpenSlideSource, TiffFileSource, open_slide
from tiling.sources.base import BackendOpenError

FILES = ["CMU-1-Small-Region.svs", "small.svs", "boxes.tiff"]


def _tissue(width: int, height: int, samples: int = 3) -> np.ndarray:
    """A deterministic image with detail everywhere, so misplaced pixels show."""
    rng = np.random.default_rng(width * 31 + height)
    return rng.integers(0, 256, (height, width, samples), dtype=np.uint8)


def _write_ome_subifd_pyramid(path: Path, level0: np.ndarray) -> list[np.ndarray]:
    levels = [level0, level0[::2, ::2], level0[::4, ::4]]
    with tifffile.TiffWriter(path, ome=True) as tif:
        options = {"tile": (64, 64), "photometric": "rgb", "compression": "zlib"}
        tif.write(
            levels[0],
            subifds=2,
            metadata={"PhysicalSizeX": 0.25, "PhysicalSizeY": 0.5, "PhysicalSizeXUnit": "µm"},
            **options,
        )
        for level in levels[1:]:
            tif.write(level, subfiletype=1, **options)
    return levels


def _write_generic_pyramid(path: Path, level0: np.ndarray) -> list[np.ndarray]:
    # Written smallest first: the backend must still put the largest level first.
    levels = [level0, level0[::2, ::2], level0[::4, ::4]]
    with tifffile.TiffWriter(path) as tif:
        tif.write(levels[0], tile=(32, 48), photometric="rgb", compression="zlib")
        for level in levels[1:]:
            tif.write(level, tile=(32, 48), photometric="rgb", subfiletype=1)
    return levels


class TestTiffFileSource(SlideSourceTests):
    @pytest.fixture(params=[*FILES, "ome-subifd", "stripped", "generic-pyramid", "grey-rgba"])
    def slide_path(
        self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Path:
        name = request.param
        if name in FILES:
            return fetch_sample(name)
        path = tmp_path_factory.mktemp("tiff") / f"{name}.tiff"
        if name == "ome-subifd":
            _write_ome_subifd_pyramid(path, _tissue(301, 203))
        elif name == "stripped":
            tifffile.imwrite(path, _tissue(97, 61), rowsperstrip=8, photometric="rgb")
        elif name == "generic-pyramid":
            _write_generic_pyramid(path, _tissue(250, 170))
        else:
            tifffile.imwrite(path, _tissue(50, 40, 4), photometric="rgb", extrasamples=[2])
        return path

    def open_source(self, path: Path) -> TiffFileSource:
        return TiffFileSource(path)


# --- agreement with OpenSlide -------------------------------------------------------------------

CMU_REGIONS = [
    ((0, 0), (2220, 2967)),  # everything
    ((230, 470), (500, 20)),  # across tile boundaries (240 px tiles)
    ((239, 239), (2, 2)),  # the corner where four tiles meet
    ((2100, 2900), (300, 200)),  # across the bottom-right edge
    ((-50, -70), (300, 300)),  # across the top-left edge
    ((5000, 5000), (10, 10)),  # wholly outside
]


@pytest.mark.parametrize(("location", "size"), CMU_REGIONS)
def test_aperio_pixels_equal_openslide(
    cmu_small_region: Path, location: tuple[int, int], size: tuple[int, int]
) -> None:
    # Both decode with libjpeg-turbo's default (islow) IDCT, with RGB (not YCbCr) as the
    # JPEG colour space of Aperio's RGB tiles: the pixels are identical.
    with OpenSlideSource(cmu_small_region) as reference, TiffFileSource(cmu_small_region) as slide:
        np.testing.assert_array_equal(
            slide.read_region(location, 0, size), reference.read_region(location, 0, size)
        )


def test_aperio_associated_images_equal_openslide(cmu_small_region: Path) -> None:
    with OpenSlideSource(cmu_small_region) as reference, TiffFileSource(cmu_small_region) as slide:
        assert set(slide.associated_image_names) == set(reference.associated_image_names)
        for name in slide.associated_image_names:
            np.testing.assert_array_equal(
                slide.associated_image(name), reference.associated_image(name)
            )


def test_generic_tiff_levels_equal_openslide() -> None:
    path = fetch_sample("boxes.tiff")
    with OpenSlideSource(path) as reference, TiffFileSource(path) as slide:
        assert slide.level_dimensions == reference.level_dimensions
        assert slide.level_downsamples == reference.level_downsamples
        assert slide.level_downsamples == (1, 2, 4.016129032258064, 8.086312118570184)
        assert slide.mpp == pytest.approx(reference.mpp)
        for level, (width, height) in enumerate(slide.level_dimensions):
            for location, size in [((0, 0), (width, height)), ((0, 0), (width + 7, height + 5))]:
                np.testing.assert_array_equal(
                    slide.read_region(location, level, size),
                    reference.read_region(location, level, size),
                    err_msg=f"level {level}",
                )
        # Where a level-0 location falls on a whole level pixel, both agree there too.
        np.testing.assert_array_equal(
            slide.read_region((60, 40), 1, (50, 50)), reference.read_region((60, 40), 1, (50, 50))
        )


# --- metadata ------------------------------------------------------------------------------------


def test_aperio_metadata(cmu_small_region: Path) -> None:
    with TiffFileSource(cmu_small_region) as slide:
        assert slide.format_name == "aperio"
        assert slide.mpp == (0.499, 0.499)
        assert slide.objective_power == 20
        assert slide.properties["aperio.AppMag"] == "20"
        assert slide.properties["tiff.ImageDescription"].startswith("Aperio Image Library")


def test_ome_subifd_pyramid(tmp_path: Path) -> None:
    path = tmp_path / "pyramid.ome.tiff"
    levels = _write_ome_subifd_pyramid(path, _tissue(301, 203))
    with TiffFileSource(path) as slide:
        assert slide.format_name == "ome-tiff"
        assert slide.level_dimensions == ((301, 203), (151, 102), (76, 51))
        assert slide.mpp == (0.25, 0.5)
        for level, expected in enumerate(levels):
            height, width = expected.shape[:2]
            np.testing.assert_array_equal(
                slide.read_region((0, 0), level, (width, height)), expected
            )
    # OpenSlide sees only level 0 of a SubIFD pyramid: tifffile must be the one picked.
    with open_slide(path) as slide:
        assert isinstance(slide, TiffFileSource)
        assert len(slide.level_dimensions) == 3


def test_generic_pyramid_is_sorted_largest_first(tmp_path: Path) -> None:
    path = tmp_path / "pyramid.tiff"
    levels = _write_generic_pyramid(path, _tissue(250, 170))
    with TiffFileSource(path) as slide:
        assert slide.format_name == "generic-tiff"
        assert slide.level_dimensions == ((250, 170), (125, 85), (63, 43))
        for level, expected in enumerate(levels):
            height, width = expected.shape[:2]
            np.testing.assert_array_equal(
                slide.read_region((0, 0), level, (width, height)), expected
            )


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    pixels = np.array([[[100, 50, 0, 0], [100, 50, 0, 255], [100, 50, 0, 51]]], dtype=np.uint8)
    path = tmp_path / "rgba.tiff"
    tifffile.imwrite(path, pixels, photometric="rgb", extrasamples=[2])
    with TiffFileSource(path) as slide:
        region = slide.read_region((0, 0), 0, (3, 1))
    np.testing.assert_array_equal(region[0], [[255, 255, 255], [100, 50, 0], [224, 214, 204]])


def test_greyscale_becomes_rgb(tmp_path: Path) -> None:
    grey = _tissue(40, 30, 1)[..., 0]
    path = tmp_path / "grey.tiff"
    tifffile.imwrite(path, grey, tile=(16, 16))
    with TiffFileSource(path) as slide:
        region = slide.read_region((0, 0), 0, (40, 30))
    np.testing.assert_array_equal(region, np.repeat(grey[..., np.newaxis], 3, axis=2))


# --- region reads against a known array ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiled_and_stripped(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[np.ndarray, TiffFileSource, TiffFileSource]]:
    pixels = _tissue(333, 211)
    folder = tmp_path_factory.mktemp("regions")
    tifffile.imwrite(folder / "tiled.tiff", pixels, tile=(48, 32), compression="zlib")
    tifffile.imwrite(folder / "stripped.tiff", pixels, rowsperstrip=13, compression="lzw")
    with TiffFileSource(folder / "tiled.tiff") as tiled:
        with TiffFileSource(folder / "stripped.tiff") as stripped:
            yield pixels, tiled, stripped


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(-60, 360),
    y=st.integers(-60, 240),
    width=st.integers(1, 200),
    height=st.integers(1, 200),
)
def test_any_region_equals_the_array(
    tiled_and_stripped: tuple[np.ndarray, TiffFileSource, TiffFileSource],
    x: int,
    y: int,
    width: int,
    height: int,
) -> None:
    pixels, tiled, stripped = tiled_and_stripped
    padded = np.full((211 + 600, 333 + 600, 3), 255, dtype=np.uint8)
    padded[300:511, 300:633] = pixels
    expected = padded[y + 300 : y + 300 + height, x + 300 : x + 300 + width]
    np.testing.assert_array_equal(tiled.read_region((x, y), 0, (width, height)), expected)
    np.testing.assert_array_equal(stripped.read_region((x, y), 0, (width, height)), expected)


def test_one_decode_thread_gives_the_same_pixels(cmu_small_region: Path) -> None:
    with (
        TiffFileSource(cmu_small_region, decode_threads=1) as serial,
        TiffFileSource(cmu_small_region) as parallel,
    ):
        np.testing.assert_array_equal(
            serial.read_region((100, 100), 0, (1000, 900)),
            parallel.read_region((100, 100), 0, (1000, 900)),
        )
    with pytest.raises(ValueError, match="decode_threads"):
        TiffFileSource(cmu_small_region, decode_threads=0)


# --- raw tiles -----------------------------------------------------------------------------------


def test_raw_tile_layout_of_aperio(cmu_small_region: Path) -> None:
    with TiffFileSource(cmu_small_region) as slide:
        layout = slide.raw_tile_layout(0)
    assert layout is not None
    assert (layout.tile_width_px, layout.tile_height_px) == (240, 240)
    assert (layout.columns, layout.rows) == (10, 13)
    assert layout.compression == "jpeg"
    assert layout.colorspace == "rgb"
    assert layout.jpeg_tables is not None and layout.jpeg_tables.startswith(b"\xff\xd8")


def test_raw_tile_decodes_to_the_region(cmu_small_region: Path) -> None:
    with TiffFileSource(cmu_small_region) as slide:
        layout = slide.raw_tile_layout(0)
        assert layout is not None
        data = slide.read_raw_tile(0, 3, 5)
        tile = imagecodecs.jpeg8_decode(data, tables=layout.jpeg_tables, colorspace="RGB")
        np.testing.assert_array_equal(tile, slide.read_region((3 * 240, 5 * 240), 0, (240, 240)))


def test_stripped_level_has_no_raw_tiles(tmp_path: Path) -> None:
    path = tmp_path / "stripped.tiff"
    tifffile.imwrite(path, _tissue(20, 20), rowsperstrip=4)
    with TiffFileSource(path) as slide:
        assert slide.raw_tile_layout(0) is None
        with pytest.raises(SlideReadError, match="not tiled"):
            slide.read_raw_tile(0, 0, 0)


# --- broken files --------------------------------------------------------------------------------


def test_unreadable_svs_raises_a_read_error_naming_file_level_and_region() -> None:
    with TiffFileSource(fetch_sample("unreadable.svs")) as slide:
        with pytest.raises(SlideReadError) as caught:
            slide.read_region((0, 0), 0, (16, 16))
    message = str(caught.value)
    assert "unreadable.svs" in message and "level 0" in message and "(16, 16)" in message


def test_unopenable_tiff_is_refused_at_open() -> None:
    with pytest.raises(BackendOpenError, match="compression 52479") as caught:
        TiffFileSource(fetch_sample("unopenable.tiff"))
    assert caught.value.backend == "tifffile"


def test_not_a_tiff_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.tiff"
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
    with pytest.raises(BackendOpenError, match=r"noise\.tiff"):
        TiffFileSource(path)


def test_volumes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stack.tiff"
    tifffile.imwrite(path, np.zeros((3, 8, 8), dtype=np.uint8), photometric="minisblack")
    with pytest.raises(BackendOpenError, match="axes"):
        TiffFileSource(path)


def test_aperio_pyramid_levels_equal_openslide(tmp_path: Path) -> None:
    # An Aperio-style pyramid (JPEG tiles, Aperio ImageDescription, no tifffile metadata), with
    # a tiled second directory, which OpenSlide takes for a level.
    level0 = _tissue(1000, 700)
    header = "Aperio Image Library v12.0.0 \r\n1000x700 [0,0 1000x700] (256x256) JPEG/RGB Q=90"
    path = tmp_path / "pyramid.svs"
    with tifffile.TiffWriter(path) as tif:
        options = {"tile": (256, 256), "photometric": "rgb", "compression": "jpeg"}
        tif.write(level0, description=f"{header}|AppMag = 40|MPP = 0.25", metadata=None, **options)
        for step in (4, 16):
            tif.write(level0[::step, ::step], description=header, metadata=None, **options)
    with OpenSlideSource(path) as reference, TiffFileSource(path) as slide:
        assert slide.format_name == reference.format_name == "aperio"
        assert slide.level_dimensions == reference.level_dimensions
        assert slide.level_downsamples == reference.level_downsamples
        assert slide.mpp == (0.25, 0.25) and slide.objective_power == 40
        for level, (width, height) in enumerate(slide.level_dimensions):
            size = (width + 5, height + 5)
            np.testing.assert_array_equal(
                slide.read_region((0, 0), level, size), reference.read_region((0, 0), level, size)
            )
        np.testing.assert_array_equal(
            slide.read_region((400, 200), 1, (100, 100)),
            reference.read_region((400, 200), 1, (100, 100)),
        )
