"""Hostile TIFFs, written here with tifffile: each claims an image far larger than its data.

Both are small (under 1 MB) and open without complaint in tifffile and OpenSlide themselves;
a tiler would then decode the same bytes for billions of pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

__all__ = ["write_huge_header_tiff", "write_offset_reuse_tiff"]


def _one_tile_then_sparse(
    path: Path, width_px: int, height_px: int, tile_px: int
) -> tuple[int, int]:
    """A tiled JPEG TIFF of ``width_px`` x ``height_px`` with its first tile stored and every
    other one left sparse (offset 0); returns the first tile's (offset, byte count)."""
    tile = np.full((tile_px, tile_px, 3), 200, dtype=np.uint8)
    tile_count = -(-width_px // tile_px) * -(-height_px // tile_px)

    def tiles() -> Iterator[np.ndarray | None]:
        yield tile
        for _ in range(tile_count - 1):
            yield None

    tifffile.imwrite(
        path,
        tiles(),
        shape=(height_px, width_px, 3),
        dtype=np.uint8,
        tile=(tile_px, tile_px),
        photometric="rgb",
        compression="jpeg",
    )
    with tifffile.TiffFile(path) as tiff:
        page = tiff.pages.first
        return int(page.dataoffsets[0]), int(page.databytecounts[0])


def write_offset_reuse_tiff(path: Path) -> Path:
    """50,000 x 50,000 px in 256 px tiles (38,416 of them), every tile offset pointing to the
    same one tile: a file of about 310 KB."""
    offset, byte_count = _one_tile_then_sparse(path, 50_000, 50_000, 256)
    with tifffile.TiffFile(path, mode="r+") as tiff:
        tags = tiff.pages.first.tags
        tile_count = len(tags["TileOffsets"].value)
        tags["TileOffsets"].overwrite([offset] * tile_count)
        tags["TileByteCounts"].overwrite([byte_count] * tile_count)
    return path


def write_huge_header_tiff(path: Path) -> Path:
    """A header of 1,000,000 x 1,000,000 px in 4096 px tiles, one tile stored: about 750 KB."""
    _one_tile_then_sparse(path, 1_000_000, 1_000_000, 4096)
    return path
