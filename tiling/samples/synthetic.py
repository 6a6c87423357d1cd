"""Large synthetic slides made from real tissue, written tile by tile with tifffile.

The real H&E tissue of CMU-1-Small-Region.svs is cropped to whole tiles and mirrored to fill a
plane of any size: copies alternate between straight and flipped, so every seam is continuous.
Because the crop is a whole number of tiles, the plane repeats every two crops and so do its
tiles: each distinct tile is JPEG-encoded once and its bytes are written wherever it recurs.
That makes a 50,000 x 40,000 slide a matter of seconds and keeps memory bounded by the tissue
crop, never by the slide.

Reduced levels are box averages of the level-0 pixels. The crop is a multiple of every level's
downsample, so averaging the crop once per level equals averaging every level-0 tile of the
plane: the pyramid is made from the same pixels, never re-rendered from the source slide.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import tifffile
from PIL import Image

from tiling.samples._fetch import default_cache_dir
from tiling.samples._tissue import (
    SUBSAMPLING,
    Pixels,
    box_downsample,
    check_request,
    iter_jpeg_tiles,
    label_image,
    macro_image,
    mirror_index,
    mirrored,
    tissue_for,
)

__all__ = [
    "SYNTHETIC_KINDS",
    "SyntheticKind",
    "ensure_synthetic_slide",
    "mirror_index",
    "synthetic_slide_name",
    "write_aperio_svs",
    "write_generic_tiff",
    "write_ome_tiff",
]

SyntheticKind = Literal["aperio-svs", "generic-tiff", "ome-tiff"]
SYNTHETIC_KINDS: tuple[SyntheticKind, ...] = get_args(SyntheticKind)

# Bump when the generated pixels or layout change, so cached slides are not reused.
_GENERATOR_VERSION = 1
_SUFFIXES: dict[SyntheticKind, str] = {
    "aperio-svs": ".svs",
    "generic-tiff": ".tiff",
    "ome-tiff": ".ome.tif",
}
_APERIO_HEADER = "Aperio Image Library v12.0.0 "
_THUMBNAIL_MAX_PX = 1024


def _level_size(width_px: int, height_px: int, downsample: int) -> tuple[int, int]:
    return max(1, width_px // downsample), max(1, height_px // downsample)


def _tiled_jpeg_kwargs(width_px: int, height_px: int, tile_size_px: int) -> dict[str, Any]:
    return {
        "shape": (height_px, width_px, 3),
        "dtype": np.uint8,
        "photometric": "rgb",
        "compression": "jpeg",
        "subsampling": SUBSAMPLING,
        "tile": (tile_size_px, tile_size_px),
    }


def _write_tiled_level(
    tw: tifffile.TiffWriter,
    tissue: Pixels,
    *,
    width_px: int,
    height_px: int,
    downsample: int,
    tile_size_px: int,
    quality: int,
    **tags: Any,
) -> tuple[int, int]:
    """Write one tiled-JPEG level (``downsample`` of the full plane); its size in pixels."""
    level_w, level_h = _level_size(width_px, height_px, downsample)
    tw.write(
        iter_jpeg_tiles(
            box_downsample(tissue, downsample),
            width_px=level_w,
            height_px=level_h,
            tile_size_px=tile_size_px,
            quality=quality,
        ),
        **_tiled_jpeg_kwargs(level_w, level_h, tile_size_px),
        **tags,
    )
    return level_w, level_h


def _write_stripped_jpeg(
    tw: tifffile.TiffWriter, pixels: Pixels, *, quality: int, description: str, **tags: Any
) -> None:
    """Write a small image as stripped JPEG (an SVS thumbnail or macro image)."""
    tw.write(
        pixels,
        photometric="rgb",
        compression="jpeg",
        compressionargs={"level": quality},
        subsampling=SUBSAMPLING,
        rowsperstrip=16,
        description=description,
        metadata=None,
        software=False,
        **tags,
    )


def _resolution(mpp_um: float) -> dict[str, Any]:
    pixels_per_cm = 10_000.0 / mpp_um
    return {"resolution": (pixels_per_cm, pixels_per_cm), "resolutionunit": "CENTIMETER"}


def _thumbnail(tissue: Pixels, width_px: int, height_px: int, max_px: int) -> Pixels:
    """A thumbnail of the mirrored plane, from a Pillow-reduced copy of the tissue crop."""
    scale = max(width_px, height_px) / max_px if max(width_px, height_px) > max_px else 1.0
    thumb_w, thumb_h = max(1, round(width_px / scale)), max(1, round(height_px / scale))
    small_w = max(1, round(tissue.shape[1] / scale))
    small_h = max(1, round(tissue.shape[0] / scale))
    small = np.asarray(
        Image.fromarray(tissue).resize((small_w, small_h), Image.Resampling.BOX), dtype=np.uint8
    )
    return mirrored(small, thumb_w, thumb_h)


def write_aperio_svs(
    path: str | os.PathLike[str],
    *,
    width_px: int,
    height_px: int,
    tile_size_px: int = 240,
    quality: int = 75,
    levels: Sequence[int] = (1, 4, 16),
    mpp_um: float = 0.499,
    label: bool = True,
    macro: bool = True,
) -> Path:
    """Write an Aperio SVS of the mirrored real tissue that OpenSlide opens as vendor "aperio".

    The layout follows the scanner's: level 0 (tiled JPEG), a stripped JPEG thumbnail as the
    second IFD, the reduced levels (tiled JPEG, downsamples ``levels[1:]``), then the label
    (stripped LZW) and macro (stripped JPEG). ``tile_size_px`` must be a multiple of 16.
    Returns ``path``.
    """
    check_request(width_px, height_px, tile_size_px, quality, levels)
    tissue = tissue_for(tile_size_px, levels)
    path = Path(path)
    app_mag = round(10.0 / mpp_um)
    level0_desc = (
        f"{_APERIO_HEADER}\r\n{width_px}x{height_px} [0,0 {width_px}x{height_px}] "
        f"({tile_size_px}x{tile_size_px}) JPEG/RGB Q={quality}"
        f"|AppMag = {app_mag}|StripeWidth = {tile_size_px * 8}|ScanScope ID = COUPE-SYNTHETIC"
        f"|Filename = coupe-synthetic-{width_px}x{height_px}|MPP = {mpp_um}"
        f"|Left = 0.000000|Top = 0.000000|OriginalWidth = {width_px}"
        f"|OriginalHeight = {height_px}"
    )
    thumb = _thumbnail(tissue, width_px, height_px, _THUMBNAIL_MAX_PX)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        level = {"width_px": width_px, "height_px": height_px, "tile_size_px": tile_size_px}
        _write_tiled_level(
            tw,
            tissue,
            **level,
            downsample=1,
            quality=quality,
            description=level0_desc,
            metadata=None,
            software=False,
        )
        _write_stripped_jpeg(
            tw,
            thumb,
            quality=quality,
            description=(
                f"{_APERIO_HEADER}\r\n{width_px}x{height_px} -> "
                f"{thumb.shape[1]}x{thumb.shape[0]} - |AppMag = {app_mag}|MPP = {mpp_um}"
            ),
        )
        for downsample in levels[1:]:
            level_w, level_h = _level_size(width_px, height_px, downsample)
            _write_tiled_level(
                tw,
                tissue,
                **level,
                downsample=downsample,
                quality=quality,
                description=(
                    f"{_APERIO_HEADER}\r\n{width_px}x{height_px} [0,0 {width_px}x{height_px}] "
                    f"({tile_size_px}x{tile_size_px}) -> {level_w}x{level_h} "
                    f"JPEG/RGB Q={quality}|AppMag = {app_mag}|MPP = {mpp_um}"
                ),
                metadata=None,
                software=False,
            )
        # OpenSlide names associated images by the first word of the description's second
        # line, split on "\r" or "\n"; a bare "\n" (as the scanner writes) keeps it at index 1.
        if label:
            label_pixels = label_image()
            tw.write(
                label_pixels,
                photometric="rgb",
                compression="lzw",
                predictor=True,
                rowsperstrip=8,
                subfiletype=1,
                description=(
                    f"{_APERIO_HEADER}\nlabel {label_pixels.shape[1]}x{label_pixels.shape[0]}"
                ),
                metadata=None,
                software=False,
            )
        if macro:
            macro_pixels = macro_image(tissue)
            _write_stripped_jpeg(
                tw,
                macro_pixels,
                quality=quality,
                description=(
                    f"{_APERIO_HEADER}\nmacro {macro_pixels.shape[1]}x{macro_pixels.shape[0]}"
                ),
                subfiletype=9,
            )
    return path


def write_generic_tiff(
    path: str | os.PathLike[str],
    *,
    width_px: int,
    height_px: int,
    tile_size_px: int = 256,
    quality: int = 75,
    levels: Sequence[int] = (1, 2, 4, 8),
    mpp_um: float = 0.499,
) -> Path:
    """Write a plain tiled-JPEG TIFF pyramid, one IFD per level (OpenSlide: "generic-tiff").

    Resolution tags carry ``mpp_um``. ``tile_size_px`` must be a multiple of 16.
    Returns ``path``.
    """
    check_request(width_px, height_px, tile_size_px, quality, levels)
    tissue = tissue_for(tile_size_px, levels)
    path = Path(path)
    with tifffile.TiffWriter(path, bigtiff=True) as tw:
        for downsample in levels:
            _write_tiled_level(
                tw,
                tissue,
                width_px=width_px,
                height_px=height_px,
                downsample=downsample,
                tile_size_px=tile_size_px,
                quality=quality,
                **_resolution(mpp_um * downsample),
                subfiletype=0 if downsample == 1 else 1,
                metadata=None,
            )
    return path


def write_ome_tiff(
    path: str | os.PathLike[str],
    *,
    width_px: int,
    height_px: int,
    tile_size_px: int = 256,
    quality: int = 75,
    subifd_levels: int = 3,
    mpp_um: float = 0.499,
) -> Path:
    """Write an OME-TIFF whose pyramid (downsamples 2, 4, ...) lives in SubIFDs of level 0.

    OpenSlide sees level 0 only; tifffile sees every level as ``series[0].levels``.
    ``tile_size_px`` must be a multiple of 16. Returns ``path``.
    """
    downsamples = [2**i for i in range(subifd_levels + 1)]
    check_request(width_px, height_px, tile_size_px, quality, downsamples)
    tissue = tissue_for(tile_size_px, downsamples)
    path = Path(path)
    level = {"width_px": width_px, "height_px": height_px, "tile_size_px": tile_size_px}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tw:
        _write_tiled_level(
            tw,
            tissue,
            **level,
            downsample=1,
            quality=quality,
            **_resolution(mpp_um),
            subifds=subifd_levels,
            metadata={
                "axes": "YXS",
                "PhysicalSizeX": mpp_um,
                "PhysicalSizeXUnit": "µm",
                "PhysicalSizeY": mpp_um,
                "PhysicalSizeYUnit": "µm",
            },
        )
        for downsample in downsamples[1:]:
            _write_tiled_level(
                tw,
                tissue,
                **level,
                downsample=downsample,
                quality=quality,
                **_resolution(mpp_um * downsample),
                subfiletype=1,
                metadata=None,
            )
    return path


def synthetic_slide_name(kind: SyntheticKind, width_px: int, height_px: int) -> str:
    """The cache file name of a synthetic slide: kind, size and generator version."""
    if kind not in _SUFFIXES:
        known = ", ".join(SYNTHETIC_KINDS)
        raise ValueError(f"unknown synthetic slide kind {kind!r}; known: {known}")
    return f"synthetic-{kind}-{width_px}x{height_px}-v{_GENERATOR_VERSION}{_SUFFIXES[kind]}"


def ensure_synthetic_slide(
    kind: SyntheticKind, width_px: int, height_px: int, cache_dir: Path | None = None
) -> Path:
    """Return a cached synthetic slide of ``kind`` and size, generating it on first use.

    Slides live next to the fetched samples (``default_cache_dir()``) and are written under a
    temporary name, then renamed, so a reader never sees a half-written file.
    """
    name = synthetic_slide_name(kind, width_px, height_px)
    cache = cache_dir or default_cache_dir()
    target = cache / name
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{name}.{os.getpid()}.partial"
    try:
        if kind == "aperio-svs":
            write_aperio_svs(partial, width_px=width_px, height_px=height_px)
        elif kind == "generic-tiff":
            write_generic_tiff(partial, width_px=width_px, height_px=height_px)
        else:
            write_ome_tiff(partial, width_px=width_px, height_px=height_px)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
