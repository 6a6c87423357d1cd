"""Deep Zoom pixels straight from a slide, exactly as ``tiling.pyramid`` builds them.

The builder reads the full-resolution Deep Zoom level from slide level 0 and makes every lower
level as the 2x2 mean (``tiling.downsample.halve``) of the one above. Halving is local, so any
aligned piece of a level can be computed on its own, which is what ``read_halved`` does: it
reads the full-resolution region under a box and halves it once per level. The builder reads
its first-stage blocks with it (no halving), and ``TileRenderer`` renders single tiles:

- a tile at most ``direct_max_shift`` levels below full resolution is rendered from the minimal
  full-resolution region under it (at most 4x4 tiles' worth of pixels with the default 2);
- lower levels are cut into square *blocks* of ``block_px`` pixels; a block is the halved
  mosaic of its (up to) 2x2 blocks one level up, and blocks are cached, so the low-resolution
  end of a slide is read once and then served from memory.

Boxes are ``z_`` boxes (pixels of a Deep Zoom level) unless their name says otherwise;
``b_col``/``b_row`` number blocks within a level.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from tiling.box import Box
from tiling.caches import ByteLRU, SingleFlight
from tiling.deepzoom import DeepZoomGeometry
from tiling.downsample import halve
from tiling.errors import SlideReadError
from tiling.pixels import RGBArray, paste
from tiling.sources.base import SlideSource

__all__ = ["BLOCK_PX", "DIRECT_MAX_SHIFT", "TileRenderer", "read_halved"]

BLOCK_PX = 512
"""Side of the cached square blocks that low-resolution tiles are cut from."""
DIRECT_MAX_SHIFT = 2
"""Tiles up to this many levels below full resolution are rendered from the slide directly."""


def read_halved(
    source: SlideSource, geometry: DeepZoomGeometry, level: int, z_box: Box
) -> RGBArray:
    """``z_box`` of Deep Zoom ``level``: the full-resolution region under it, read from slide
    level 0 and halved once per level below full resolution, as the pyramid builder makes it.

    ``z_box`` must lie within the level.
    """
    shift = geometry.level_count - 1 - level
    z_full_width, z_full_height = geometry.l0_dimensions
    # Aligned to 2**shift, ending there or at the level's edge: halving it gives the same
    # pixels as halving the whole level.
    z_full = Box.from_corners(
        z_box.x << shift,
        z_box.y << shift,
        min(z_box.x1 << shift, z_full_width),
        min(z_box.y1 << shift, z_full_height),
    )
    l0_box = z_full.translate(*geometry.l0_offset)
    pixels = source.read_region(l0_box.origin, 0, l0_box.size)
    for _ in range(shift):
        pixels = halve(pixels)
    return pixels


@dataclass(frozen=True)
class _Slide:
    """One slide being rendered: its open source, its cache identity and its geometry."""

    source: SlideSource
    key: Hashable
    geometry: DeepZoomGeometry


class TileRenderer:
    """Renders Deep Zoom tiles and levels from slides, pixel for pixel as the builder does.

    ``blocks`` holds computed blocks (read-only arrays) and ``flight`` makes sure each is
    computed once when many threads want it; both belong to the caller, and may be shared by
    renderers over the same slides. Blocks do not depend on the tile size or format, so every
    ``TileSpec`` over the same slide shares them. Thread-safe.
    """

    def __init__(
        self,
        blocks: ByteLRU[Hashable, RGBArray],
        flight: SingleFlight[Hashable, RGBArray] | None = None,
        *,
        block_px: int = BLOCK_PX,
        direct_max_shift: int = DIRECT_MAX_SHIFT,
    ) -> None:
        if block_px < 1 or direct_max_shift < 0:
            raise ValueError(f"block size {block_px} px and shift {direct_max_shift} are invalid")
        self.blocks = blocks
        self.flight = flight if flight is not None else SingleFlight()
        self.block_px = block_px
        self.direct_max_shift = direct_max_shift

    def tile(
        self,
        source: SlideSource,
        source_key: Hashable,
        geometry: DeepZoomGeometry,
        level: int,
        column: int,
        row: int,
    ) -> RGBArray:
        """The pixels of one tile, overlap included; ``source_key`` names the slide's blocks."""
        z_width, z_height = geometry.z_dimensions[level]
        # An overlap wider than the last tile can reach past the level: clip, as the builder.
        z_tile = geometry.tile_box(level, column, row).clip(z_width, z_height)
        return self.region(source, source_key, geometry, level, z_tile)

    def level(
        self, source: SlideSource, source_key: Hashable, geometry: DeepZoomGeometry, level: int
    ) -> RGBArray:
        """Every pixel of Deep Zoom ``level`` (meant for small levels: thumbnails)."""
        z_width, z_height = geometry.z_dimensions[level]
        return self.region(source, source_key, geometry, level, Box(0, 0, z_width, z_height))

    def region(
        self,
        source: SlideSource,
        source_key: Hashable,
        geometry: DeepZoomGeometry,
        level: int,
        z_box: Box,
    ) -> RGBArray:
        """The pixels of ``z_box`` of Deep Zoom ``level``; the box must lie within the level."""
        if geometry.level_count - 1 - level <= self.direct_max_shift:
            return read_halved(source, geometry, level, z_box)
        return self._from_blocks(_Slide(source, source_key, geometry), level, z_box)

    def _from_blocks(self, slide: _Slide, level: int, z_box: Box) -> RGBArray:
        """The pixels of ``z_box`` at ``level``, cut from cached blocks."""
        block_px = self.block_px
        b_cols = range(z_box.x // block_px, (z_box.x1 - 1) // block_px + 1)
        b_rows = range(z_box.y // block_px, (z_box.y1 - 1) // block_px + 1)
        if len(b_cols) == 1 and len(b_rows) == 1:
            block = self._block(slide, level, b_cols[0], b_rows[0])
            return block[z_box.slices((b_cols[0] * block_px, b_rows[0] * block_px))]
        out = np.empty((z_box.height, z_box.width, 3), dtype=np.uint8)
        for b_row in b_rows:
            for b_col in b_cols:
                block = self._block(slide, level, b_col, b_row)
                paste(out, z_box.origin, block, (b_col * block_px, b_row * block_px))
        return out

    def _block(self, slide: _Slide, level: int, b_col: int, b_row: int) -> RGBArray:
        """Block (``b_col``, ``b_row``) of ``level``: ``block_px`` square, clipped to the level.

        Only used more than ``direct_max_shift`` levels below full resolution.
        """
        geometry = slide.geometry
        key = (slide.key, geometry.l0_offset, geometry.l0_dimensions, level, b_col, b_row)
        cached = self.blocks.get(key)
        if cached is not None:
            return cached

        def compute() -> RGBArray:
            again = self.blocks.get(key)
            if again is not None:
                return again
            pixels = self._compute_block(slide, level, b_col, b_row)
            pixels.flags.writeable = False
            self.blocks.put(key, pixels, pixels.nbytes)
            return pixels

        return self.flight.run(key, compute)

    def _compute_block(self, slide: _Slide, level: int, b_col: int, b_row: int) -> RGBArray:
        geometry = slide.geometry
        block_px = self.block_px
        z_width, z_height = geometry.z_dimensions[level]
        z_block = Box(b_col * block_px, b_row * block_px, block_px, block_px).clip(
            z_width, z_height
        )
        shift = geometry.level_count - 1 - level
        if shift <= self.direct_max_shift:
            # Near full resolution: read and halve (only the children of the first cached level
            # come here, once each, so they are not cached themselves).
            return read_halved(slide.source, geometry, level, z_block)
        # The 2x2 blocks one level up, as one mosaic, halved: exactly this block's pixels,
        # since block origins are even and only the level's own edge is odd.
        z_up_width, z_up_height = geometry.z_dimensions[level + 1]
        z_up = Box.from_corners(
            2 * z_block.x,
            2 * z_block.y,
            min(2 * z_block.x1, z_up_width),
            min(2 * z_block.y1, z_up_height),
        )
        mosaic = np.empty((z_up.height, z_up.width, 3), dtype=np.uint8)
        for up_row in range(2 * b_row, (z_up.y1 - 1) // block_px + 1):
            for up_col in range(2 * b_col, (z_up.x1 - 1) // block_px + 1):
                if shift - 1 <= self.direct_max_shift:
                    block = self._compute_block(slide, level + 1, up_col, up_row)
                else:
                    block = self._block(slide, level + 1, up_col, up_row)
                paste(mosaic, z_up.origin, block, (up_col * block_px, up_row * block_px))
        pixels = halve(mosaic)
        if pixels.shape[:2] != (z_block.height, z_block.width):  # pragma: no cover - invariant
            raise SlideReadError(f"block {b_col},{b_row} of level {level} came out wrong")
        return pixels
