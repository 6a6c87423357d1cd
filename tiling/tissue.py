"""Telling tissue from background, so empty tiles can be skipped or shared."""

from __future__ import annotations

from dataclasses import dataclass

from tiling.pixels import RGBArray

__all__ = ["BackgroundDetector"]


@dataclass(frozen=True)
class BackgroundDetector:
    """Calls a tile background when no sampled pixel looks like tissue.

    Glass in brightfield scans is bright and grey; stained tissue is coloured (H&E, IHC) or
    dark. A pixel counts as tissue when its colour spread (max - min channel) reaches
    ``min_saturation`` or its darkest channel falls below ``max_brightness_floor``. Every
    ``sample_stride_px``-th pixel in each direction is looked at: a 256 px tile costs a 64 x 64
    sample, and tissue fragments are far larger than 4 px at any pyramid level we skip.
    """

    min_saturation: int = 18
    max_brightness_floor: int = 200
    sample_stride_px: int = 4

    def is_background(self, tile: RGBArray) -> bool:
        """True when the tile holds no tissue."""
        sample = tile[:: self.sample_stride_px, :: self.sample_stride_px]
        lowest = sample.min(axis=2)
        spread = sample.max(axis=2) - lowest
        return not bool(
            (spread >= self.min_saturation).any() or (lowest < self.max_brightness_floor).any()
        )
