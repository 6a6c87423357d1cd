"""The real tissue the generated slides are made of, and the JPEG tiles they are written in.

Shared by the TIFF-family writers (:mod:`tiling.samples.synthetic`) and the MIRAX writer
(:mod:`tiling.samples.mirax`): the CMU-1-Small-Region tissue cropped to whole tiles and
mirrored to fill a plane of any size, box-averaged for reduced levels, encoded as a scanner
would (YCbCr 4:2:0), with a stand-in label and macro image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import imagecodecs
import numpy as np
import tifffile
from numpy.typing import NDArray
from PIL import Image

from tiling.samples._fetch import fetch_sample

__all__ = [
    "SUBSAMPLING",
    "Pixels",
    "box_downsample",
    "check_request",
    "encode_jpeg",
    "iter_jpeg_tiles",
    "label_image",
    "load_tissue",
    "macro_image",
    "mirror_index",
    "mirrored",
    "tissue_for",
]

_SOURCE_SAMPLE = "CMU-1-Small-Region.svs"
_LABEL_SIZE_PX = (387, 463)
_MACRO_SIZE_PX = (1280, 431)
# Distinct tiles kept encoded; a level of the mirrored plane has at most a few hundred.
_MAX_CACHED_TILES = 4096
# tifffile writes JPEG-in-TIFF as YCbCr with 4:2:0 subsampling, like a scanner.
SUBSAMPLING = (2, 2)

Pixels = NDArray[np.uint8]


def load_tissue(unit_px: int) -> Pixels:
    """The real tissue, cropped to a multiple of ``unit_px`` in both directions."""
    with tifffile.TiffFile(fetch_sample(_SOURCE_SAMPLE)) as tif:
        full: Pixels = tif.pages[0].asarray()
    height, width = (full.shape[0] // unit_px) * unit_px, (full.shape[1] // unit_px) * unit_px
    if height == 0 or width == 0:
        raise ValueError(
            f"tile size and downsamples need a {unit_px} px unit, larger than the "
            f"{full.shape[1]}x{full.shape[0]} px source tissue"
        )
    return np.ascontiguousarray(full[:height, :width])


def box_downsample(pixels: Pixels, factor: int) -> Pixels:
    """Average ``factor`` x ``factor`` blocks; the image must be a multiple of ``factor``."""
    if factor == 1:
        return pixels
    reduced = Image.fromarray(pixels).reduce(factor)
    return np.asarray(reduced, dtype=np.uint8)


def mirror_index(start_px: int, stop_px: int, period_px: int) -> NDArray[np.intp]:
    """Indices into a source of ``period_px`` for plane pixels ``start_px:stop_px``.

    Even copies run forwards, odd copies backwards, so neighbouring copies meet edge to edge.
    """
    position = np.arange(start_px, stop_px, dtype=np.intp) % (2 * period_px)
    return np.where(position < period_px, position, 2 * period_px - 1 - position)


def mirrored(source: Pixels, width_px: int, height_px: int) -> Pixels:
    """The whole mirrored plane of ``width_px`` x ``height_px``; for small images only."""
    rows = mirror_index(0, height_px, source.shape[0])
    cols = mirror_index(0, width_px, source.shape[1])
    return np.ascontiguousarray(source[rows][:, cols])


def encode_jpeg(tile: Pixels, quality: int) -> bytes:
    encoded = imagecodecs.jpeg_encode(
        tile,
        level=quality,
        colorspace="RGB",
        outcolorspace="YCBCR",
        subsampling=SUBSAMPLING,
    )
    return bytes(encoded)


def iter_jpeg_tiles(
    source: Pixels, *, width_px: int, height_px: int, tile_size_px: int, quality: int
) -> Iterator[bytes]:
    """JPEG tiles, row by row, of ``source`` mirrored to ``width_px`` x ``height_px``.

    Edge tiles are full tiles that carry on the mirrored tissue past the image edge.
    A tile is encoded once per position within the mirror period and its bytes reused.
    """
    period_h, period_w = 2 * source.shape[0], 2 * source.shape[1]
    cache: dict[tuple[int, int], bytes] = {}
    col_indices = {
        x0 % period_w: mirror_index(x0, x0 + tile_size_px, source.shape[1])
        for x0 in range(0, width_px, tile_size_px)
    }
    for y0 in range(0, height_px, tile_size_px):
        rows: Pixels | None = None
        for x0 in range(0, width_px, tile_size_px):
            key = (y0 % period_h, x0 % period_w)
            encoded = cache.get(key)
            if encoded is None:
                if rows is None:
                    rows = source[mirror_index(y0, y0 + tile_size_px, source.shape[0])]
                tile = np.ascontiguousarray(rows[:, col_indices[key[1]]])
                encoded = encode_jpeg(tile, quality)
                if len(cache) < _MAX_CACHED_TILES:
                    cache[key] = encoded
            yield encoded


def check_request(
    width_px: int, height_px: int, tile_size_px: int, quality: int, downsamples: Sequence[int]
) -> None:
    if width_px < 1 or height_px < 1:
        raise ValueError(f"slide size must be positive, got {width_px}x{height_px}")
    if tile_size_px < 16 or tile_size_px % 16:
        raise ValueError(
            f"tile_size_px must be a positive multiple of 16 (JPEG 4:2:0), got {tile_size_px}"
        )
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1..100, got {quality}")
    if not downsamples or downsamples[0] != 1 or any(d < 1 for d in downsamples):
        raise ValueError(f"levels must start at downsample 1, got {tuple(downsamples)}")
    if list(downsamples) != sorted(set(downsamples)):
        raise ValueError(f"levels must be strictly increasing, got {tuple(downsamples)}")


def tissue_for(tile_size_px: int, downsamples: Sequence[int]) -> Pixels:
    return load_tissue(math.lcm(tile_size_px, *downsamples))


def label_image() -> Pixels:
    """A white slide label with a barcode-like band, standing in for the scanner's photo."""
    width, height = _LABEL_SIZE_PX
    label = np.full((height, width, 3), 250, dtype=np.uint8)
    rng = np.random.default_rng(7)
    bars = rng.integers(0, 2, size=width // 3, dtype=np.uint8).repeat(3)
    band = np.where(bars[None, :, None] == 1, 20, 250).astype(np.uint8)
    label[40:160, : bars.size] = band
    label[220:240, 40:-40] = 60
    label[280:300, 40:-120] = 60
    return label


def macro_image(tissue: Pixels) -> Pixels:
    """A glass-slide overview: label at the left, tissue on pale glass to the right."""
    width, height = _MACRO_SIZE_PX
    macro = np.full((height, width, 3), 232, dtype=np.uint8)
    label = np.asarray(
        Image.fromarray(label_image()).resize((height * 387 // 463, height)), dtype=np.uint8
    )
    macro[:, : label.shape[1]] = label
    region_w = width - label.shape[1] - 80
    tissue_small = np.asarray(
        Image.fromarray(tissue).resize((min(region_w, height * 3 // 4), height - 80)),
        dtype=np.uint8,
    )
    x0 = label.shape[1] + 40 + (region_w - tissue_small.shape[1]) // 2
    macro[40 : 40 + tissue_small.shape[0], x0 : x0 + tissue_small.shape[1]] = tissue_small
    return macro
