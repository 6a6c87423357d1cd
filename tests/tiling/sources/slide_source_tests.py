"""The contract every ``SlideSource`` backend must keep, subclassed once per backend.

After zarr's ``StoreTests``: a subclass provides a parametrized ``slide_path`` fixture and
``open_source(path)``; every test here then runs against each of its files.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tiling.errors import SlideReadError, TilingError
from tiling.sources import SlideSource

# Resolution tags of a TIFF -> the mpp a backend reports (None: no microscope's resolution).
TIFF_RESOLUTIONS = [
    pytest.param((72, 72), "INCH", None, id="72-dpi"),
    pytest.param((96, 96), "INCH", None, id="96-dpi"),
    pytest.param((300, 300), "INCH", None, id="300-dpi"),
    pytest.param((118.11, 118.11), "CENTIMETER", None, id="300-dpi-in-cm"),
    pytest.param((50, 50), "CENTIMETER", None, id="200-um"),
    pytest.param((101_600, 50_800), "INCH", (0.25, 0.5), id="scanner-inch"),
    pytest.param((20_040.08, 20_040.08), "CENTIMETER", (0.499, 0.499), id="scanner-cm"),
]


def write_tiff_with_resolution(path: Path, resolution: tuple[float, float], unit: str) -> Path:
    """A small tiled generic TIFF whose resolution tags say ``resolution`` per ``unit``."""
    pixels = np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    tifffile.imwrite(
        path, pixels, photometric="rgb", tile=(128, 128), resolution=resolution,
        resolutionunit=unit,
    )  # fmt: skip
    return path


class SlideSourceTests:
    """Contract tests; subclasses define ``slide_path`` (a fixture) and ``open_source``."""

    def open_source(self, path: Path) -> SlideSource:
        raise NotImplementedError

    @pytest.fixture
    def slide(self, slide_path: Path) -> Iterator[SlideSource]:
        with self.open_source(slide_path) as source:
            yield source

    def test_implements_the_abstraction(self, slide: SlideSource) -> None:
        assert isinstance(slide, SlideSource)
        assert isinstance(slide.format_name, str) and slide.format_name
        assert Path(slide.path).exists()
        assert slide.description.path == slide.path

    def test_a_backend_missing_an_abstract_method_fails_at_construction(
        self, slide: SlideSource
    ) -> None:
        """This backend's own methods on ``SlideSource``, less any one, make no source."""
        required = SlideSource.__abstractmethods__
        assert {"read_region", "associated_image", "read_raw_tile", "close"} <= required
        for missing in required:
            methods = {name: getattr(type(slide), name) for name in required - {missing}}
            incomplete = type("Incomplete", (SlideSource,), methods)
            with pytest.raises(TypeError, match=missing):
                incomplete(slide.description)

    def test_repr_names_the_class_and_the_path(self, slide: SlideSource) -> None:
        text = repr(slide)
        assert text.startswith(type(slide).__name__ + "(")
        assert repr(slide.path) in text

    def test_pickles_into_an_equal_working_source(self, slide: SlideSource) -> None:
        restored = pickle.loads(pickle.dumps(slide))
        try:
            assert type(restored) is type(slide)
            assert restored.description == slide.description
            level = len(slide.level_dimensions) - 1
            size = slide.level_dimensions[level]
            np.testing.assert_array_equal(
                restored.read_region((0, 0), level, size), slide.read_region((0, 0), level, size)
            )
        finally:
            restored.close()

    def test_dimensions_are_level_zero(self, slide: SlideSource) -> None:
        assert slide.dimensions == slide.level_dimensions[0]
        assert len(slide.level_dimensions) == len(slide.level_downsamples) >= 1
        for width, height in slide.level_dimensions:
            assert width > 0 and height > 0

    def test_downsamples_grow_and_match_dimensions(self, slide: SlideSource) -> None:
        downsamples = slide.level_downsamples
        assert downsamples[0] == pytest.approx(1.0)
        assert all(a < b for a, b in itertools.pairwise(downsamples))
        l0_w, l0_h = slide.dimensions
        for (width, height), downsample in zip(slide.level_dimensions, downsamples, strict=True):
            assert (l0_w / width + l0_h / height) / 2 == pytest.approx(downsample, rel=0.05)

    def test_best_level_for_downsample(self, slide: SlideSource) -> None:
        last = len(slide.level_downsamples) - 1
        assert slide.get_best_level_for_downsample(0.5) == 0
        assert slide.get_best_level_for_downsample(1.0) == 0
        assert slide.get_best_level_for_downsample(1e6) == last
        for level, downsample in enumerate(slide.level_downsamples):
            assert slide.get_best_level_for_downsample(downsample) == level

    def test_metadata_types(self, slide: SlideSource) -> None:
        if slide.mpp is not None:
            assert all(isinstance(v, float) and v > 0 for v in slide.mpp)
            # Nothing coarser is a microscope's (boxes.tiff carries 72 dpi, in pixels per cm).
            assert all(v <= 100 for v in slide.mpp), slide.mpp
        if slide.objective_power is not None:
            assert slide.objective_power > 0
        if slide.bounds is not None:
            assert not slide.bounds.is_empty
        assert len(slide.background_rgb) == 3
        assert all(0 <= v <= 255 for v in slide.background_rgb)

    def test_properties_are_strings(self, slide: SlideSource) -> None:
        for key, value in slide.properties.items():
            assert isinstance(key, str)
            assert isinstance(value, str)

    def test_associated_images_are_rgb(self, slide: SlideSource) -> None:
        for name in slide.associated_image_names:
            image = slide.associated_image(name)
            assert image.dtype == np.uint8
            assert image.ndim == 3 and image.shape[2] == 3
            assert image.shape[0] > 0 and image.shape[1] > 0

    def test_missing_associated_image_raises(self, slide: SlideSource) -> None:
        with pytest.raises(TilingError, match="no associated image"):
            slide.associated_image("no-such-image")

    def test_read_region_shape_and_dtype(self, slide: SlideSource) -> None:
        for level, (width, height) in enumerate(slide.level_dimensions):
            size = (min(width, 37), min(height, 23))
            region = slide.read_region((0, 0), level, size)
            assert region.shape == (size[1], size[0], 3)
            assert region.dtype == np.uint8
            assert region.flags.c_contiguous

    def test_read_region_whole_level(self, slide: SlideSource) -> None:
        level = len(slide.level_dimensions) - 1
        width, height = slide.level_dimensions[level]
        region = slide.read_region((0, 0), level, (width, height))
        assert region.shape == (height, width, 3)

    def test_read_region_is_repeatable(self, slide: SlideSource) -> None:
        width, height = slide.dimensions
        location = (width // 3, height // 3)
        size = (min(width, 300), min(height, 200))
        first = slide.read_region(location, 0, size)
        second = slide.read_region(location, 0, size)
        np.testing.assert_array_equal(first, second)

    def test_read_region_across_the_bottom_right_edge(self, slide: SlideSource) -> None:
        width, height = slide.dimensions
        inside = min(width, height, 8)
        region = slide.read_region((width - inside, height - inside), 0, (2 * inside, 2 * inside))
        background = np.asarray(slide.background_rgb, dtype=np.uint8)
        assert (region[inside:, :] == background).all()
        assert (region[:, inside:] == background).all()
        inner = slide.read_region((width - inside, height - inside), 0, (inside, inside))
        np.testing.assert_array_equal(region[:inside, :inside], inner)

    def test_read_region_across_the_top_left_edge(self, slide: SlideSource) -> None:
        inside = min(*slide.dimensions, 8)
        region = slide.read_region((-inside, -inside), 0, (2 * inside, 2 * inside))
        background = np.asarray(slide.background_rgb, dtype=np.uint8)
        assert (region[:inside, :] == background).all()
        assert (region[:, :inside] == background).all()
        inner = slide.read_region((0, 0), 0, (inside, inside))
        np.testing.assert_array_equal(region[inside:, inside:], inner)

    def test_read_region_outside_the_last_level_is_background(self, slide: SlideSource) -> None:
        level = len(slide.level_dimensions) - 1
        downsample = slide.level_downsamples[level]
        l_w, l_h = slide.level_dimensions[level]
        background = np.asarray(slide.background_rgb, dtype=np.uint8)
        # Well outside, so no backend's sub-pixel positioning reaches into the image.
        location = (int((l_w + 4) * downsample), int((l_h + 4) * downsample))
        region = slide.read_region(location, level, (16, 16))
        assert (region == background).all()
        region = slide.read_region((-int(40 * downsample), 0), level, (16, 16))
        assert (region == background).all()

    def test_read_empty_region(self, slide: SlideSource) -> None:
        assert slide.read_region((0, 0), 0, (0, 5)).shape == (5, 0, 3)
        assert slide.read_region((0, 0), 0, (5, 0)).shape == (0, 5, 3)

    def test_read_region_bad_arguments(self, slide: SlideSource) -> None:
        with pytest.raises(SlideReadError, match="has no level"):
            slide.read_region((0, 0), len(slide.level_dimensions), (4, 4))
        with pytest.raises(SlideReadError, match="has no level"):
            slide.read_region((0, 0), -1, (4, 4))
        with pytest.raises(SlideReadError, match="negative"):
            slide.read_region((0, 0), 0, (-1, 4))

    def test_raw_tiles_when_offered(self, slide: SlideSource) -> None:
        for level in range(len(slide.level_dimensions)):
            layout = slide.raw_tile_layout(level)
            if layout is None:
                with pytest.raises(TilingError):
                    slide.read_raw_tile(level, 0, 0)
                continue
            assert layout.columns * layout.tile_width_px >= slide.level_dimensions[level][0]
            assert layout.rows * layout.tile_height_px >= slide.level_dimensions[level][1]
            assert isinstance(slide.read_raw_tile(level, 0, 0), bytes)
            with pytest.raises(TilingError):
                slide.read_raw_tile(level, layout.columns, 0)

    def test_context_manager_closes(self, slide_path: Path) -> None:
        with self.open_source(slide_path) as source:
            source.read_region((0, 0), 0, (4, 4))
        with pytest.raises(TilingError, match="closed"):
            source.read_region((0, 0), 0, (4, 4))
        source.close()  # closing twice is harmless
