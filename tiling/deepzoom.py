"""Deep Zoom (DZI) geometry as pure, precomputed data.

The geometry is tile-for-tile identical to openslide-python's ``DeepZoomGenerator`` for the
same tile size, overlap and ``limit_bounds``: the same Deep Zoom levels, tile grid, tile sizes
and ``read_region`` arguments. It needs only the slide's level dimensions and downsamples (and
its bounds), never the slide itself, so a whole pyramid can be planned before a pixel is read.

Variables are named by coordinate plane, as in openslide-python:

- ``t_``: column and row of a tile in a Deep Zoom level;
- ``z_``: pixels in a Deep Zoom level;
- ``l_``: pixels in a slide level;
- ``l0_``: pixels in slide level 0.

Where ``DeepZoomGenerator`` computes in floating point, this module performs the same
operations in the same order, so that rounding, and with it every read, comes out the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement, tostring

from tiling.box import Box
from tiling.errors import TilingError

__all__ = [
    "DZI_XMLNS",
    "DeepZoomGeometry",
    "TileNotFoundError",
    "TileReadInfo",
    "best_level_for_downsample",
    "deepzoom_geometry",
]

DZI_XMLNS = "http://schemas.microsoft.com/deepzoom/2008"


class TileNotFoundError(TilingError, LookupError):
    """A Deep Zoom level, column or row is outside the pyramid."""


@dataclass(frozen=True)
class TileReadInfo:
    """How to render one Deep Zoom tile: read a slide region, then scale it.

    ``read_region(l0_location, slide_level, l_size)`` gives the source pixels, which are then
    scaled down to ``z_size`` (the tile's final size, overlap included), as
    ``DeepZoomGenerator.get_tile`` does. (Its ``thumbnail()`` keeps the aspect ratio, so its
    scaled tiles can come out a pixel short of ``z_size``; ``z_size`` is the Deep Zoom size.)
    """

    l0_location: tuple[int, int]
    slide_level: int
    l_size: tuple[int, int]
    z_size: tuple[int, int]

    @property
    def read_region_args(self) -> tuple[tuple[int, int], int, tuple[int, int]]:
        """The ``read_region`` arguments, as ``DeepZoomGenerator.get_tile_coordinates`` returns."""
        return (self.l0_location, self.slide_level, self.l_size)

    @property
    def needs_scaling(self) -> bool:
        """Whether the region read must be resized to reach the tile size."""
        return self.l_size != self.z_size


def best_level_for_downsample(level_downsamples: Sequence[float], downsample: float) -> int:
    """The slide level ``openslide_get_best_level_for_downsample`` picks for ``downsample``.

    That is the last level whose downsample is <= ``downsample``, found the way OpenSlide's C
    code finds it: level 0 if ``downsample`` is below level 0's downsample, otherwise the level
    before the first level (from 1 on) whose downsample is strictly greater, otherwise the last
    level. Comparisons are exact: a request equal to a level's downsample picks that level, and
    one a hair below it (2 vs boxes.tiff's 4.016 at level 2) picks the level before.
    """
    if not level_downsamples:
        raise ValueError("level_downsamples is empty")
    if downsample < level_downsamples[0]:
        return 0
    for level in range(1, len(level_downsamples)):
        if downsample < level_downsamples[level]:
            return level - 1
    return len(level_downsamples) - 1


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True)
class DeepZoomGeometry:
    """Every size and table of a Deep Zoom pyramid over a slide, computed once.

    Build it with :func:`deepzoom_geometry`. Deep Zoom level 0 is 1x1 pixel; the last level is
    full resolution (``l0_dimensions``).
    """

    tile_size_px: int
    overlap_px: int
    limit_bounds: bool
    l0_offset: tuple[int, int]
    l0_dimensions: tuple[int, int]
    z_dimensions: tuple[tuple[int, int], ...]
    t_dimensions: tuple[tuple[int, int], ...]
    # Per slide level: the size of the active area in that level's pixels.
    l_dimensions: tuple[tuple[int, int], ...]
    # Per slide level: its downsample from level 0.
    l0_l_downsamples: tuple[float, ...]
    # Per Deep Zoom level: the slide level its tiles are read from.
    slide_from_dz_level: tuple[int, ...]
    # Per Deep Zoom level: the downsample from that slide level to the Deep Zoom level.
    l_z_downsamples: tuple[float, ...]

    @property
    def level_count(self) -> int:
        """The number of Deep Zoom levels."""
        return len(self.z_dimensions)

    @property
    def tile_count(self) -> int:
        """The number of tiles over all Deep Zoom levels."""
        return sum(t_cols * t_rows for t_cols, t_rows in self.t_dimensions)

    def level_tile_count(self, level: int) -> int:
        """The number of tiles in Deep Zoom level ``level``."""
        self._check_level(level)
        t_cols, t_rows = self.t_dimensions[level]
        return t_cols * t_rows

    def tiles(self, level: int) -> Iterator[tuple[int, int]]:
        """Every ``(column, row)`` of Deep Zoom level ``level``, row by row."""
        self._check_level(level)
        t_cols, t_rows = self.t_dimensions[level]
        for t_row in range(t_rows):
            for t_col in range(t_cols):
                yield (t_col, t_row)

    def tile_box(self, level: int, column: int, row: int) -> Box:
        """The box of a tile in pixels of Deep Zoom level ``level`` (a ``z_`` box).

        Overlap is included: the box is what ``DeepZoomGenerator.get_tile`` returns, and its
        size is ``get_tile_dimensions``. As there, an overlap wider than the neighbouring tile
        is not clipped, so the box can reach past the level's edges.
        """
        self._check_tile(level, column, row)
        (z_x, z_width), (z_y, z_height) = (
            self._z_span(level, axis, t) for axis, t in enumerate((column, row))
        )
        return Box(z_x, z_y, z_width, z_height)

    def tile_read_info(self, level: int, column: int, row: int) -> TileReadInfo:
        """The region of the slide ``DeepZoomGenerator`` reads for a tile, and its final size."""
        self._check_tile(level, column, row)
        slide_level = self.slide_from_dz_level[level]
        l0_l_downsample = self.l0_l_downsamples[slide_level]
        l_z_downsample = self.l_z_downsamples[level]
        l0_location: list[int] = []
        l_size: list[int] = []
        z_size: list[int] = []
        for axis, t in enumerate((column, row)):
            z_start, z_length = self._z_span(level, axis, t)
            # The same float operations, in the same order, as DeepZoomGenerator: their
            # rounding decides which pixels are read.
            l_start = l_z_downsample * z_start
            l0_location.append(int(l0_l_downsample * l_start + self.l0_offset[axis]))
            l_lim = self.l_dimensions[slide_level][axis]
            l_size.append(
                int(min(math.ceil(l_z_downsample * z_length), l_lim - math.ceil(l_start)))
            )
            z_size.append(z_length)
        return TileReadInfo(
            l0_location=(l0_location[0], l0_location[1]),
            slide_level=slide_level,
            l_size=(l_size[0], l_size[1]),
            z_size=(z_size[0], z_size[1]),
        )

    def dzi_xml(self, format: str) -> str:
        """The ``.dzi`` XML, the same text as ``DeepZoomGenerator.get_dzi(format)``.

        ``format`` is the tiles' file extension, e.g. ``"jpeg"`` or ``"png"``.
        """
        image = Element(
            "Image",
            TileSize=str(self.tile_size_px),
            Overlap=str(self.overlap_px),
            Format=format,
            xmlns=DZI_XMLNS,
        )
        z_width, z_height = self.l0_dimensions
        SubElement(image, "Size", Width=str(z_width), Height=str(z_height))
        # No XML declaration, like ElementTree.write(encoding="UTF-8") in DeepZoomGenerator.
        xml: bytes = tostring(image, encoding="UTF-8", xml_declaration=False)
        return xml.decode("UTF-8")

    def dzi_json(self, format: str, *, url: str | None = None) -> dict[str, object]:
        """The ``.dzi`` in the JSON form OpenSeadragon accepts, values as strings.

        ``url`` (the tiles folder, ending in ``/``) is only needed when the object is handed to
        OpenSeadragon inline rather than fetched from a URL it can derive the folder from.
        """
        z_width, z_height = self.l0_dimensions
        image: dict[str, object] = {"xmlns": DZI_XMLNS}
        if url is not None:
            image["Url"] = url
        image.update(
            Format=format,
            Overlap=str(self.overlap_px),
            TileSize=str(self.tile_size_px),
            Size={"Width": str(z_width), "Height": str(z_height)},
        )
        return {"Image": image}

    def _z_span(self, level: int, axis: int, t: int) -> tuple[int, int]:
        """Start and length, in Deep Zoom pixels, of tile ``t`` along ``axis``, with overlap."""
        t_lim = self.t_dimensions[level][axis]
        z_lim = self.z_dimensions[level][axis]
        z_overlap_tl = self.overlap_px if t != 0 else 0
        z_overlap_br = self.overlap_px if t != t_lim - 1 else 0
        z_start = self.tile_size_px * t
        z_length = min(self.tile_size_px, z_lim - z_start) + z_overlap_tl + z_overlap_br
        return (z_start - z_overlap_tl, z_length)

    def _check_level(self, level: int) -> None:
        if not 0 <= level < self.level_count:
            raise TileNotFoundError(
                f"Deep Zoom level {level} does not exist (levels 0-{self.level_count - 1})"
            )

    def _check_tile(self, level: int, column: int, row: int) -> None:
        self._check_level(level)
        t_cols, t_rows = self.t_dimensions[level]
        if not 0 <= column < t_cols:
            raise TileNotFoundError(
                f"Deep Zoom level {level} has no column {column} (columns 0-{t_cols - 1})"
            )
        if not 0 <= row < t_rows:
            raise TileNotFoundError(
                f"Deep Zoom level {level} has no row {row} (rows 0-{t_rows - 1})"
            )


def deepzoom_geometry(
    *,
    level_dimensions: Sequence[tuple[int, int]],
    level_downsamples: Sequence[float],
    tile_size_px: int = 254,
    overlap_px: int = 1,
    limit_bounds: bool = False,
    bounds: Box | None = None,
) -> DeepZoomGeometry:
    """The Deep Zoom geometry ``DeepZoomGenerator`` would use for a slide.

    ``level_dimensions`` and ``level_downsamples`` are the slide's, level 0 first.
    ``bounds`` is the non-empty region in level-0 pixels (the ``openslide.bounds-*``
    properties); it is used only with ``limit_bounds``, and ``None`` means
    the whole slide, as ``DeepZoomGenerator`` falls back to when a slide has no bounds.
    """
    if tile_size_px < 1:
        raise ValueError(f"tile size must be at least 1 px, got {tile_size_px}")
    if overlap_px < 0:
        raise ValueError(f"overlap must not be negative, got {overlap_px}")
    if not level_dimensions:
        raise ValueError("the slide has no levels")
    if len(level_dimensions) != len(level_downsamples):
        raise ValueError(
            f"{len(level_dimensions)} level dimensions but {len(level_downsamples)} downsamples"
        )
    for slide_level, (l_width, l_height) in enumerate(level_dimensions):
        if l_width < 1 or l_height < 1:
            raise ValueError(f"slide level {slide_level} is {l_width}x{l_height} px")
    for slide_level, l0_l_downsample in enumerate(level_downsamples):
        if not l0_l_downsample > 0:
            raise ValueError(f"slide level {slide_level} has downsample {l0_l_downsample}")

    l0_width, l0_height = level_dimensions[0]
    if limit_bounds:
        l0_bounds = bounds if bounds is not None else Box(0, 0, l0_width, l0_height)
        l0_x, l0_y = l0_bounds.origin
        bounds_width, bounds_height = l0_bounds.size
        if bounds_width < 1 or bounds_height < 1:
            raise ValueError(f"bounds {(l0_x, l0_y, bounds_width, bounds_height)} are empty")
        l0_offset = (l0_x, l0_y)
        # Scale every slide level the way DeepZoomGenerator does (float ratio, then ceil), not
        # by dividing by its downsample, so the active area matches to the pixel.
        size_scale = (bounds_width / l0_width, bounds_height / l0_height)
        l_dimensions = tuple(
            (math.ceil(l_width * size_scale[0]), math.ceil(l_height * size_scale[1]))
            for l_width, l_height in level_dimensions
        )
    else:
        l0_offset = (0, 0)
        l_dimensions = tuple((l_width, l_height) for l_width, l_height in level_dimensions)
    l0_dimensions = l_dimensions[0]

    # Halve (rounding up) from full resolution down to 1x1, then list smallest first.
    z_size = l0_dimensions
    z_dimensions_rev = [z_size]
    while z_size[0] > 1 or z_size[1] > 1:
        z_size = (max(1, _ceil_div(z_size[0], 2)), max(1, _ceil_div(z_size[1], 2)))
        z_dimensions_rev.append(z_size)
    z_dimensions = tuple(reversed(z_dimensions_rev))
    dz_levels = len(z_dimensions)

    t_dimensions = tuple(
        (_ceil_div(z_width, tile_size_px), _ceil_div(z_height, tile_size_px))
        for z_width, z_height in z_dimensions
    )

    l0_l_downsamples = tuple(float(d) for d in level_downsamples)
    l0_z_downsamples = tuple(2 ** (dz_levels - dz_level - 1) for dz_level in range(dz_levels))
    slide_from_dz_level = tuple(
        best_level_for_downsample(l0_l_downsamples, l0_z_downsample)
        for l0_z_downsample in l0_z_downsamples
    )
    l_z_downsamples = tuple(
        l0_z_downsample / l0_l_downsamples[slide_level]
        for l0_z_downsample, slide_level in zip(l0_z_downsamples, slide_from_dz_level, strict=True)
    )

    return DeepZoomGeometry(
        tile_size_px=tile_size_px,
        overlap_px=overlap_px,
        limit_bounds=limit_bounds,
        l0_offset=l0_offset,
        l0_dimensions=l0_dimensions,
        z_dimensions=z_dimensions,
        t_dimensions=t_dimensions,
        l_dimensions=l_dimensions,
        l0_l_downsamples=l0_l_downsamples,
        slide_from_dz_level=slide_from_dz_level,
        l_z_downsamples=l_z_downsamples,
    )
