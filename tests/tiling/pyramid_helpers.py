"""Helpers for pyramid tests: decode tiles, compare images, build references."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from tiling.deepzoom import DeepZoomGeometry
from tiling.downsample import halve_reference
from tiling.sources import open_slide


def decode(path: Path) -> npt.NDArray[np.uint8]:
    """A tile file as an RGB array."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def decode_bytes(data: bytes) -> npt.NDArray[np.uint8]:
    """Encoded tile bytes as an RGB array."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def mse(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """Mean squared error between two images of the same shape."""
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_db(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> float:
    """Peak signal-to-noise ratio of b against a; 99 dB stands for identical."""
    error = mse(a, b)
    return 99.0 if error == 0 else 10 * float(np.log10(255.0**2 / error))


def reference_levels(
    slide: Path, geometry: DeepZoomGeometry, backend: str | None = None
) -> list[npt.NDArray[np.uint8]]:
    """Every Deep Zoom level built naively in memory: full level read, then 2x2 means."""
    with open_slide(slide, backend=backend) as source:
        width, height = geometry.l0_dimensions
        top = source.read_region(geometry.l0_offset, 0, (width, height))
    levels = [top]
    while len(levels) < geometry.level_count:
        levels.append(halve_reference(levels[-1]))
    levels.reverse()
    for level, pixels in enumerate(levels):
        assert pixels.shape[1::-1] == geometry.z_dimensions[level]
    return levels


def reference_tile(
    levels: list[npt.NDArray[np.uint8]], geometry: DeepZoomGeometry, level: int, col: int, row: int
) -> npt.NDArray[np.uint8]:
    """The pixels a tile must hold, cut from the in-memory reference levels."""
    return levels[level][geometry.tile_box(level, col, row).slices()]
