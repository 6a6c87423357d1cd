from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.tiling.sources.slide_source_tests import SlideSourceTests
from tiling.errors import UnsupportedSlideError
from tiling.samples import fetch_sample
from tiling.sources import PillowSource
from tiling.sources import _pillow as backend


class TestPillowSource(SlideSourceTests):
    @pytest.fixture(params=["boxes.png", "photo.jpg"])
    def slide_path(
        self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> Path:
        if request.param == "boxes.png":
            return fetch_sample("boxes.png")
        path = tmp_path_factory.mktemp("pillow") / "photo.jpg"
        pixels = np.random.default_rng(1).integers(0, 256, (90, 120, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, dpi=(254, 254))
        return path

    def open_source(self, path: Path) -> PillowSource:
        return PillowSource(path)


def test_png_pixels_and_metadata() -> None:
    path = fetch_sample("boxes.png")
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB"))
    with PillowSource(path) as slide:
        assert slide.format_name == "png"
        assert slide.level_dimensions == ((300, 250),)
        np.testing.assert_array_equal(slide.read_region((0, 0), 0, (300, 250)), expected)


def test_mpp_from_dpi(tmp_path: Path) -> None:
    path = tmp_path / "scan.jpg"
    Image.new("RGB", (10, 10)).save(path, dpi=(25400, 12700))
    with PillowSource(path) as slide:
        assert slide.format_name == "jpeg"
        assert slide.mpp == pytest.approx((1.0, 2.0))
    plain = tmp_path / "plain.png"
    Image.new("RGB", (10, 10)).save(plain)
    with PillowSource(plain) as slide:
        assert slide.mpp is None


@pytest.mark.parametrize("name", ["photo.jpg", "screenshot.png"])
@pytest.mark.parametrize("dpi", [72, 96, 300])
def test_a_stock_dpi_is_no_microscope_resolution(tmp_path: Path, name: str, dpi: int) -> None:
    path = tmp_path / name
    Image.new("RGB", (10, 10)).save(path, dpi=(dpi, dpi))
    with PillowSource(path) as slide:
        assert slide.mpp is None


def test_transparency_is_composited_on_white(tmp_path: Path) -> None:
    path = tmp_path / "alpha.png"
    pixels = np.array([[[100, 50, 0, 0], [100, 50, 0, 255], [100, 50, 0, 51]]], dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(path)
    with PillowSource(path) as slide:
        region = slide.read_region((0, 0), 0, (3, 1))
    np.testing.assert_array_equal(region[0], [[255, 255, 255], [100, 50, 0], [224, 214, 204]])


def test_too_large_images_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (64, 2)).save(path)
    monkeypatch.setattr(backend, "MAX_SIDE_PX", 63)
    with pytest.raises(UnsupportedSlideError, match="too large for the Pillow backend"):
        PillowSource(path)


def test_really_large_image_is_refused_without_decoding(tmp_path: Path) -> None:
    # 20,001 x 20,001 px of one colour compresses to a small PNG; refused before decoding.
    path = tmp_path / "huge.png"
    Image.new("1", (20_001, 20_001)).save(path)
    with pytest.raises(UnsupportedSlideError, match="too large for the Pillow backend"):
        PillowSource(path)


def test_other_pillow_formats_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.bmp"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(UnsupportedSlideError, match="BMP"):
        PillowSource(path)
    assert backend.can_read(path) == 0


def test_broken_png_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(fetch_sample("boxes.png").read_bytes()[:200])
    with pytest.raises(UnsupportedSlideError, match=r"broken\.png"):
        PillowSource(path)
