"""How large a slide may be: a cap on its pixels and on the tiles its pyramid would have.

A slide within its file's bounds (see ``tiling.sources``) can still be far larger than a
service means to tile: a 1,000,000 x 1,000,000 px scan makes some 20 million tiles. The caps
are a parameter (``build_pyramid(..., limits=...)``, ``SlideLimits.check``), set by whoever
runs the tiler; the library itself caps nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiling.deepzoom import DeepZoomGeometry
from tiling.errors import SlideTooLargeError
from tiling.sources import SlideSource
from tiling.spec import TileSpec

__all__ = ["DEFAULT_MAX_SLIDE_PIXELS", "DEFAULT_MAX_SLIDE_TILES", "SlideLimits"]

DEFAULT_MAX_SLIDE_PIXELS = 200_000 * 200_000
"""40 gigapixels: the largest whole-slide scans are about 200,000 x 100,000 px (a 2 x 1 inch
area at 0.25 µm/px); twice that leaves room and still refuses a header that lies."""
DEFAULT_MAX_SLIDE_TILES = 1_000_000
"""A 200,000 x 200,000 px slide in OpenSlide's 254 px Deep Zoom tiles makes about 830,000 tiles
(all levels); more means a far larger slide, or tiles far smaller than any viewer needs."""


@dataclass(frozen=True)
class SlideLimits:
    """The most pixels (level 0, width x height) and planned Deep Zoom tiles a slide may have;
    None: no cap. Checked before any tile is planned or written."""

    max_pixels: int | None = DEFAULT_MAX_SLIDE_PIXELS
    max_tiles: int | None = DEFAULT_MAX_SLIDE_TILES

    def __post_init__(self) -> None:
        for name, value in (("max_pixels", self.max_pixels), ("max_tiles", self.max_tiles)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None, not {value}")

    def check(self, slide: str, source: SlideSource, spec: TileSpec) -> DeepZoomGeometry:
        """The geometry of ``source`` cut by ``spec``, once its size is within the limits.

        Raises ``SlideTooLargeError`` naming ``slide``, its size and the limit; the pixels are
        held against their cap before the geometry is even computed.
        """
        width_px, height_px = source.dimensions
        pixels = width_px * height_px
        size = f"{width_px:,} x {height_px:,} px"
        if self.max_pixels is not None and pixels > self.max_pixels:
            raise SlideTooLargeError(
                f"slide {slide!r} is {size} ({pixels:,} px); the limit is "
                f"{self.max_pixels:,} px per slide"
            )
        geometry = spec.geometry(source)
        if self.max_tiles is not None and geometry.tile_count > self.max_tiles:
            raise SlideTooLargeError(
                f"slide {slide!r} is {size} and would make {geometry.tile_count:,} tiles of "
                f"{spec.tile_size_px} px; the limit is {self.max_tiles:,} tiles per slide"
            )
        return geometry

    @classmethod
    def unlimited(cls) -> SlideLimits:
        """No cap on either."""
        return cls(max_pixels=None, max_tiles=None)
