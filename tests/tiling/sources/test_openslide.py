from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
import pytest

from tests.tiling.sources.slide_source_tests import (
    SlideSourceTests,
)
from tiling.errors import SlideReadError, TilingError
from tiling.samples import fetch_sample
from tiling.sources import OpenSlideSource, open_slide
from tiling.sources import _openslide as backend
from tiling.sources.base import BackendOpenError

FILES = ["CMU-1-Small-Region.svs", "small.svs", "boxes.tiff", "boxes_0.dcm"]


class TestOpenSlideSource(SlideSourceTests):
    @pytest.fixture(params=FILES)
    def slide_path(self, request: pytest.FixtureRequest) -> Path:
        return fetch_sample(request.param)

    def open_source(self, path: Path) -> OpenSlideSource:
        return OpenSlideSource(path)


def test_metadata_of_an_aperio_slide(cmu_small_region: Path) -> None:
    with OpenSlideSource(cmu_small_region) as slide:
        assert slide.format_name == "aperio"
        assert slide.dimensions == (2220, 2967)
        assert slide.mpp == pytest.approx((0.499, 0.499))
        assert slide.objective_power == 20
        assert slide.bounds is None
        assert slide.background_rgb == (255, 255, 255)
        assert set(slide.associated_image_names) == {"label", "macro", "thumbnail"}
        assert slide.raw_tile_layout(0) is None


def test_dicom_opens_from_the_first_file() -> None:
    fetch_sample("boxes_1.dcm")  # the second file of the series must sit beside the first
    with OpenSlideSource(fetch_sample("boxes_0.dcm")) as slide:
        assert slide.format_name == "dicom"
        assert slide.dimensions == (16, 16)


def test_read_region_equals_openslide_python(cmu_small_region: Path) -> None:
    reference = openslide.OpenSlide(cmu_small_region)
    try:
        rgba = np.asarray(reference.read_region((-100, 2900), 0, (600, 200)))
    finally:
        reference.close()
    alpha = rgba[..., 3:]
    assert set(np.unique(alpha)) == {0, 255}  # outside the image, or opaque tissue
    expected = np.where(alpha == 255, rgba[..., :3], np.uint8(255))
    with OpenSlideSource(cmu_small_region) as slide:
        region = slide.read_region((-100, 2900), 0, (600, 200))
    np.testing.assert_array_equal(region, expected)


def test_public_api_fallback_gives_the_same_pixels(
    cmu_small_region: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenSlideSource(cmu_small_region) as slide:
        fast = slide.read_region((2100, 2900), 0, (300, 100))
        fast_label = slide.associated_image("label")
        monkeypatch.setattr(backend, "_read_region_into", None)
        monkeypatch.setattr(backend, "_read_associated_into", None)
        np.testing.assert_array_equal(slide.read_region((2100, 2900), 0, (300, 100)), fast)
        np.testing.assert_array_equal(slide.associated_image("label"), fast_label)


def _argb(r: int, g: int, b: int, a: int) -> int:
    return (a << 24) | (r << 16) | (g << 8) | b


def test_composite_premultiplied_argb_on_the_background() -> None:
    pixels = np.array(
        [[_argb(10, 20, 30, 255), _argb(0, 0, 0, 0), _argb(64, 32, 0, 128)]], dtype=np.uint32
    )
    out = backend.composite_argb(pixels, (200, 100, 50))
    expected = [[10, 20, 30], [200, 100, 50], [64 + 100, 32 + 50, 0 + 25]]
    np.testing.assert_array_equal(out, np.array([expected], dtype=np.uint8))
    opaque = backend.composite_argb(pixels[:, :1], (0, 0, 0))
    np.testing.assert_array_equal(opaque, np.array([[[10, 20, 30]]], dtype=np.uint8))


def test_unreadable_slide_raises_a_read_error_naming_file_level_and_region() -> None:
    path = fetch_sample("unreadable.svs")
    with OpenSlideSource(path) as slide:
        with pytest.raises(SlideReadError) as caught:
            slide.read_region((0, 0), 0, (16, 16))
    message = str(caught.value)
    assert "unreadable.svs" in message
    assert "level 0" in message
    assert "(0, 0)" in message and "(16, 16)" in message


def test_unopenable_file_raises_unsupported() -> None:
    with pytest.raises(BackendOpenError, match=r"unopenable\.tiff") as caught:
        OpenSlideSource(fetch_sample("unopenable.tiff"))
    assert caught.value.backend == "openslide"


def test_no_raw_tiles(cmu_small_region: Path) -> None:
    with open_slide(cmu_small_region, backend="openslide") as slide:
        with pytest.raises(TilingError, match="no raw tile access"):
            slide.read_raw_tile(0, 0, 0)
