"""tiling.deepzoom against openslide-python's DeepZoomGenerator, tile for tile.

Most cases run DeepZoomGenerator on a fake slide that only carries the numbers it reads, so
hypothesis can try slide shapes no sample file has; the fake's level picking is itself checked
against real OpenSlide, and real sample slides are compared directly.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import openslide
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openslide.deepzoom import DeepZoomGenerator

from tiling.box import Box
from tiling.deepzoom import (
    DZI_XMLNS,
    DeepZoomGeometry,
    TileNotFoundError,
    TileReadInfo,
    best_level_for_downsample,
    deepzoom_geometry,
)
from tiling.errors import TilingError
from tiling.samples import fetch_sample

# Levels with at most this many tiles are compared tile by tile; bigger ones at their edges,
# next to the edges, and at random tiles (all interior tiles have the same size, but each reads
# from its own, differently rounded, position).
ALL_TILES_MAX = 256
RANDOM_TILES = 16


class FakeSlide:
    """What DeepZoomGenerator reads from a slide, and nothing else."""

    def __init__(
        self,
        level_dimensions: Sequence[tuple[int, int]],
        level_downsamples: Sequence[float],
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self.level_dimensions = tuple(level_dimensions)
        self.level_downsamples = tuple(level_downsamples)
        self.level_count = len(self.level_dimensions)
        self.dimensions = self.level_dimensions[0]
        self.properties = dict(properties or {})

    def get_best_level_for_downsample(self, downsample: float) -> int:
        # openslide_get_best_level_for_downsample() in OpenSlide's openslide.c, comparison for
        # comparison; test_fake_slide_picks_levels_like_openslide holds it to the real thing.
        if downsample < self.level_downsamples[0]:
            return 0
        for level in range(1, self.level_count):
            if downsample < self.level_downsamples[level]:
                return level - 1
        return self.level_count - 1


def bounds_properties(bounds: Box) -> dict[str, str]:
    names = (
        openslide.PROPERTY_NAME_BOUNDS_X,
        openslide.PROPERTY_NAME_BOUNDS_Y,
        openslide.PROPERTY_NAME_BOUNDS_WIDTH,
        openslide.PROPERTY_NAME_BOUNDS_HEIGHT,
    )
    values = (bounds.x, bounds.y, bounds.width, bounds.height)
    return {name: str(value) for name, value in zip(names, values, strict=True)}


def sampled_tiles(t_dimensions: tuple[int, int], rng: random.Random) -> Iterator[tuple[int, int]]:
    t_cols, t_rows = t_dimensions
    if t_cols * t_rows <= ALL_TILES_MAX:
        yield from itertools.product(range(t_cols), range(t_rows))
        return

    def edges(t_lim: int) -> set[int]:
        return {t for t in (0, 1, t_lim // 2, t_lim - 2, t_lim - 1) if 0 <= t < t_lim}

    yield from itertools.product(sorted(edges(t_cols)), sorted(edges(t_rows)))
    for _ in range(RANDOM_TILES):
        yield (rng.randrange(t_cols), rng.randrange(t_rows))


def assert_matches_generator(
    geometry: DeepZoomGeometry, generator: DeepZoomGenerator, rng: random.Random
) -> None:
    assert geometry.level_count == generator.level_count
    assert geometry.z_dimensions == generator.level_dimensions
    assert geometry.t_dimensions == generator.level_tiles
    assert geometry.tile_count == generator.tile_count
    for level in range(geometry.level_count):
        for column, row in sampled_tiles(geometry.t_dimensions[level], rng):
            address = (column, row)
            z_tile = geometry.tile_box(level, column, row)
            z_x, z_y = z_tile.origin
            assert z_tile.size == generator.get_tile_dimensions(level, address)
            # The box starts one overlap before the tile's own pixels, except on the first
            # row/column (DeepZoomGenerator does not clip an overlap wider than a tile).
            tile = geometry.tile_size_px
            assert z_x == column * tile - (geometry.overlap_px if column else 0)
            assert z_y == row * tile - (geometry.overlap_px if row else 0)
            info = geometry.tile_read_info(level, column, row)
            args, z_size = generator._get_tile_info(level, address)
            assert info.read_region_args == args == generator.get_tile_coordinates(level, address)
            assert info.z_size == z_size == z_tile.size


# Per-level downsample factors seen in real pyramids, including the non-power-of-two ones that
# come from rounding level sizes (boxes.tiff: 1, 2, 4.016, 8.086).
LEVEL_FACTORS = st.sampled_from([2.0, 2.0, 4.0, 4.0, 3.0, 1.5, 2.5, 4.016, 8.0, 16.0])


@st.composite
def slides(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[float]]:
    """Level dimensions and downsamples of a plausible slide pyramid."""
    side = st.one_of(st.integers(1, 3000), st.integers(1, 200_000))
    l0_width, l0_height = draw(side), draw(side)
    level_dimensions = [(l0_width, l0_height)]
    level_downsamples = [1.0]
    nominal = 1.0
    roundings: list[Callable[[float], int]] = [math.floor, math.ceil, round]
    rounding = draw(st.sampled_from(roundings))
    # Some formats state each level's downsample; for the rest OpenSlide averages the ratios
    # of level-0 to level sizes.
    stated = draw(st.booleans())
    for _ in range(draw(st.integers(0, 4))):
        nominal *= draw(LEVEL_FACTORS)
        l_width = max(1, rounding(l0_width / nominal))
        l_height = max(1, rounding(l0_height / nominal))
        if stated:
            l0_l_downsample = nominal
        else:
            l0_l_downsample = (l0_height / l_height + l0_width / l_width) / 2.0
        if l0_l_downsample < level_downsamples[-1]:
            break  # OpenSlide refuses slides whose downsamples go down
        level_dimensions.append((l_width, l_height))
        level_downsamples.append(l0_l_downsample)
    return level_dimensions, level_downsamples


@st.composite
def bounds_within(draw: st.DrawFn, l0_dimensions: tuple[int, int]) -> Box:
    l0_width, l0_height = l0_dimensions
    x = draw(st.integers(0, l0_width - 1))
    y = draw(st.integers(0, l0_height - 1))
    return Box(x, y, draw(st.integers(1, l0_width - x)), draw(st.integers(1, l0_height - y)))


BOXES_TIFF = (
    [(300, 250), (150, 125), (75, 62), (37, 31)],
    [1.0, 2.0, 4.016129032258064, 8.086312118570184],
)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    slide=slides(),
    tile_size_px=st.one_of(st.sampled_from([254, 256, 510, 512, 1024]), st.integers(1, 1024)),
    overlap_px=st.integers(0, 8),
    limit_bounds=st.booleans(),
    data=st.data(),
    rng=st.randoms(use_true_random=False),
)
@example(slide=BOXES_TIFF, tile_size_px=254, overlap_px=1, limit_bounds=False, data=None, rng=None)
@example(slide=BOXES_TIFF, tile_size_px=1, overlap_px=8, limit_bounds=True, data=None, rng=None)
def test_geometry_matches_deepzoom_generator(
    slide: tuple[list[tuple[int, int]], list[float]],
    tile_size_px: int,
    overlap_px: int,
    limit_bounds: bool,
    data: Any,
    rng: random.Random | None,
) -> None:
    level_dimensions, level_downsamples = slide
    if data is None:
        bounds = Box(5, 7, 211, 190)
    elif data.draw(st.booleans(), label="has bounds"):
        bounds = data.draw(bounds_within(level_dimensions[0]), label="bounds")
    else:
        bounds = None
    rng = rng or random.Random(0)
    # Bounds are on the fake slide either way: without limit_bounds both sides must ignore them.
    fake = FakeSlide(
        level_dimensions,
        level_downsamples,
        bounds_properties(bounds) if bounds is not None else None,
    )
    generator = DeepZoomGenerator(
        fake,  # type: ignore[arg-type]
        tile_size=tile_size_px,
        overlap=overlap_px,
        limit_bounds=limit_bounds,
    )
    geometry = deepzoom_geometry(
        level_dimensions=level_dimensions,
        level_downsamples=level_downsamples,
        tile_size_px=tile_size_px,
        overlap_px=overlap_px,
        limit_bounds=limit_bounds,
        bounds=bounds,
    )
    assert_matches_generator(geometry, generator, rng)
    assert geometry.dzi_xml("jpeg") == generator.get_dzi("jpeg")
    if limit_bounds and bounds is not None:
        assert geometry.l0_offset == bounds.origin
    else:
        assert geometry.l0_offset == (0, 0)


@pytest.fixture(scope="module", params=["CMU-1-Small-Region.svs", "boxes.tiff", "small.svs"])
def real_slide(request: pytest.FixtureRequest) -> Iterator[openslide.OpenSlide]:
    slide = openslide.OpenSlide(fetch_sample(request.param))
    yield slide
    slide.close()


def geometry_of(
    slide: openslide.AbstractSlide, tile_size_px: int, overlap_px: int, limit_bounds: bool
) -> DeepZoomGeometry:
    names = (
        openslide.PROPERTY_NAME_BOUNDS_X,
        openslide.PROPERTY_NAME_BOUNDS_Y,
        openslide.PROPERTY_NAME_BOUNDS_WIDTH,
        openslide.PROPERTY_NAME_BOUNDS_HEIGHT,
    )
    values = [slide.properties.get(name) for name in names]
    bounds = None
    if all(value is not None for value in values):
        x, y, width, height = (int(value) for value in values if value is not None)
        bounds = Box(x, y, width, height)
    return deepzoom_geometry(
        level_dimensions=slide.level_dimensions,
        level_downsamples=slide.level_downsamples,
        tile_size_px=tile_size_px,
        overlap_px=overlap_px,
        limit_bounds=limit_bounds,
        bounds=bounds,
    )


@pytest.mark.parametrize(
    ("tile_size_px", "overlap_px"), [(254, 1), (256, 0), (510, 1), (64, 4), (1, 0), (7, 8)]
)
@pytest.mark.parametrize("limit_bounds", [False, True])
def test_geometry_matches_deepzoom_generator_on_real_slides(
    real_slide: openslide.OpenSlide, tile_size_px: int, overlap_px: int, limit_bounds: bool
) -> None:
    generator = DeepZoomGenerator(real_slide, tile_size_px, overlap_px, limit_bounds)
    geometry = geometry_of(real_slide, tile_size_px, overlap_px, limit_bounds)
    assert_matches_generator(geometry, generator, random.Random(tile_size_px))
    for tile_format in ("jpeg", "png"):
        assert geometry.dzi_xml(tile_format) == generator.get_dzi(tile_format)


def test_reads_real_tiles_like_deepzoom_generator() -> None:
    """Reading a tile with tile_read_info gives DeepZoomGenerator.get_tile's pixels."""
    with openslide.OpenSlide(fetch_sample("boxes.tiff")) as slide:
        generator = DeepZoomGenerator(slide, 64, 2)
        geometry = geometry_of(slide, 64, 2, False)
        for level in range(geometry.level_count):
            for column, row in geometry.tiles(level):
                info = geometry.tile_read_info(level, column, row)
                region = slide.read_region(*info.read_region_args)
                expected = generator.get_tile(level, (column, row))
                if info.needs_scaling:
                    # get_tile scales with thumbnail(), which keeps the aspect ratio and may
                    # come out a pixel short of z_size.
                    assert all(
                        z - 1 <= got <= z for got, z in zip(expected.size, info.z_size, strict=True)
                    )
                else:
                    assert expected.size == info.z_size
                    assert region.convert("RGB").tobytes() == expected.tobytes()


def probe_downsamples(level_downsamples: Sequence[float]) -> list[float]:
    probes = [0.0, 0.5, 1.0, 3.0, 4.0, 16.0, 1e9, math.inf]
    for downsample in level_downsamples:
        probes += [math.nextafter(downsample, 0), downsample, math.nextafter(downsample, math.inf)]
    return probes


def test_fake_slide_picks_levels_like_openslide(real_slide: openslide.OpenSlide) -> None:
    fake = FakeSlide(real_slide.level_dimensions, real_slide.level_downsamples)
    for downsample in probe_downsamples(real_slide.level_downsamples):
        expected = real_slide.get_best_level_for_downsample(downsample)
        assert fake.get_best_level_for_downsample(downsample) == expected, downsample
        assert best_level_for_downsample(real_slide.level_downsamples, downsample) == expected


@pytest.mark.parametrize(
    ("downsample", "level"),
    [
        (0.5, 0),
        (1.0, 0),
        (1.99, 0),
        (2.0, 1),
        (4.0, 1),  # 4 is below boxes.tiff's 4.016, so level 1 (2x) serves it
        (4.016129032258064, 2),
        (8.0, 2),
        (8.086312118570184, 3),
        (1e6, 3),
    ],
)
def test_best_level_for_downsample(downsample: float, level: int) -> None:
    assert best_level_for_downsample(BOXES_TIFF[1], downsample) == level


def test_best_level_for_downsample_with_repeated_downsamples() -> None:
    # OpenSlide's loop takes the last of equal levels.
    assert best_level_for_downsample([1.0, 2.0, 2.0, 4.0], 2.0) == 2
    assert best_level_for_downsample([1.0, 2.0, 2.0, 4.0], 3.0) == 2


@pytest.fixture
def boxes_geometry() -> DeepZoomGeometry:
    level_dimensions, level_downsamples = BOXES_TIFF
    return deepzoom_geometry(level_dimensions=level_dimensions, level_downsamples=level_downsamples)


def test_boxes_geometry(boxes_geometry: DeepZoomGeometry) -> None:
    geometry = boxes_geometry
    assert geometry.level_count == 10
    assert geometry.z_dimensions[0] == (1, 1)
    assert geometry.z_dimensions[-1] == geometry.l0_dimensions == (300, 250)
    assert geometry.t_dimensions[-1] == (2, 1)
    assert geometry.tile_count == sum(
        geometry.level_tile_count(level) for level in range(geometry.level_count)
    )
    assert list(geometry.tiles(9)) == [(0, 0), (1, 0)]
    assert geometry.tile_box(9, 0, 0) == Box(0, 0, 255, 250)
    assert geometry.tile_box(9, 1, 0) == Box(253, 0, 47, 250)
    # 75x63 px Deep Zoom level 7 (downsample 4) reads from slide level 1, not 2 (4.016).
    assert geometry.tile_read_info(7, 0, 0) == TileReadInfo(
        l0_location=(0, 0), slide_level=1, l_size=(150, 125), z_size=(75, 63)
    )


def test_dzi_json(boxes_geometry: DeepZoomGeometry) -> None:
    assert boxes_geometry.dzi_json("jpeg") == {
        "Image": {
            "xmlns": DZI_XMLNS,
            "Format": "jpeg",
            "Overlap": "1",
            "TileSize": "254",
            "Size": {"Width": "300", "Height": "250"},
        }
    }
    with_url = boxes_geometry.dzi_json("png", url="/slides/7/tiles/")
    assert with_url["Image"] == {
        "xmlns": DZI_XMLNS,
        "Url": "/slides/7/tiles/",
        "Format": "png",
        "Overlap": "1",
        "TileSize": "254",
        "Size": {"Width": "300", "Height": "250"},
    }


@pytest.mark.parametrize(
    ("level", "column", "row", "message"),
    [
        (-1, 0, 0, "Deep Zoom level -1 does not exist (levels 0-9)"),
        (10, 0, 0, "Deep Zoom level 10 does not exist (levels 0-9)"),
        (9, 2, 0, "Deep Zoom level 9 has no column 2 (columns 0-1)"),
        (9, -1, 0, "Deep Zoom level 9 has no column -1 (columns 0-1)"),
        (9, 0, 1, "Deep Zoom level 9 has no row 1 (rows 0-0)"),
        (0, 0, -1, "Deep Zoom level 0 has no row -1 (rows 0-0)"),
    ],
)
def test_tile_out_of_range(
    boxes_geometry: DeepZoomGeometry, level: int, column: int, row: int, message: str
) -> None:
    for lookup in (boxes_geometry.tile_box, boxes_geometry.tile_read_info):
        with pytest.raises(TileNotFoundError) as caught:
            lookup(level, column, row)
        assert str(caught.value) == message
        assert isinstance(caught.value, TilingError)
        assert isinstance(caught.value, LookupError)


def test_level_out_of_range(boxes_geometry: DeepZoomGeometry) -> None:
    with pytest.raises(TileNotFoundError, match=r"level 10 does not exist"):
        list(boxes_geometry.tiles(10))
    with pytest.raises(TileNotFoundError, match=r"level -1 does not exist"):
        boxes_geometry.level_tile_count(-1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"tile_size_px": 0}, "tile size must be at least 1 px, got 0"),
        ({"tile_size_px": -254}, "tile size must be at least 1 px, got -254"),
        ({"overlap_px": -1}, "overlap must not be negative, got -1"),
        ({"level_dimensions": [], "level_downsamples": []}, "the slide has no levels"),
        ({"level_downsamples": [1.0]}, "4 level dimensions but 1 downsamples"),
        ({"level_dimensions": [(0, 5)], "level_downsamples": [1.0]}, "slide level 0 is 0x5 px"),
        ({"level_downsamples": [1.0, 2.0, 0.0, 8.0]}, "slide level 2 has downsample 0.0"),
        ({"limit_bounds": True, "bounds": Box(0, 0, 0, 10)}, "bounds (0, 0, 0, 10) are empty"),
    ],
)
def test_invalid_arguments(arguments: dict[str, Any], message: str) -> None:
    level_dimensions, level_downsamples = BOXES_TIFF
    keywords: dict[str, Any] = {
        "level_dimensions": level_dimensions,
        "level_downsamples": level_downsamples,
        **arguments,
    }
    with pytest.raises(ValueError) as caught:
        deepzoom_geometry(**keywords)
    assert str(caught.value) == message
