"""An IHC-like restaining of real H&E slides: brown DAB-like chromogen on blue haematoxylin.

Colour deconvolution (Ruifrok and Johnston, Anal Quant Cytol Histol 2001) splits each pixel's
optical density into haematoxylin, eosin and a residual. The restained pixel keeps the
haematoxylin (a little lighter, as an IHC counterstain is) and turns the strongest eosin into
DAB: strongly eosinophilic tissue reads "positive", the rest stays a pale blue counterstain.
The transform is per pixel, so a slide is restained tile by tile: the same tissue in the same
place, which is what a side-by-side view of H&E next to IHC needs.

:func:`write_restained_svs` rewrites a tiled-JPEG Aperio SVS (the CMU sample, or one that
:mod:`tiling.samples.synthetic` made) page for page: the same levels, tile grid, descriptions
(resolution and vendor included) and label; the tissue pages restained. Tiles that recur (the
synthetic slides' mirrored plane repeats) are restained and encoded once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import tifffile
from numpy.typing import NDArray

from tiling.samples._fetch import default_cache_dir
from tiling.samples._tissue import SUBSAMPLING, Pixels, encode_jpeg

__all__ = ["ensure_restained_slide", "restain_he_as_ihc", "restained_slide_name"]

# Bump when the restained pixels or layout change, so cached slides are not reused.
_RESTAIN_VERSION = 2
_QUALITY = 80
_COMPRESSION_NAMES = {5: "lzw", 7: "jpeg", 8: "adobe_deflate"}
# Unit stain vectors in optical density (Ruifrok and Johnston's H&E and DAB).
_HAEMATOXYLIN = np.array([0.650, 0.704, 0.286])
_EOSIN = np.array([0.072, 0.990, 0.105])
_DAB = np.array([0.268, 0.570, 0.776])
# Eosin density below this stays unstained; above it, DAB in proportion (chosen by eye on the
# CMU sample: stroma and cytoplasm-rich regions positive, loose tissue negative).
_EOSIN_THRESHOLD_OD = 0.3
_DAB_GAIN = 2.5
_COUNTERSTAIN_SCALE = 0.5
# The faint haematoxylin density that unmixing finds in bare glass: left out, so glass stays white.
_GLASS_OD = 0.04


def _he_unmixing() -> NDArray[np.float64]:
    residual = np.cross(_HAEMATOXYLIN, _EOSIN)
    stains = np.stack([_HAEMATOXYLIN, _EOSIN, residual / np.linalg.norm(residual)])
    unmixing: NDArray[np.float64] = np.linalg.inv(stains)
    return unmixing


def restain_he_as_ihc(pixels: Pixels) -> Pixels:
    """The RGB ``pixels`` of an H&E stain as an IHC-like DAB stain on a haematoxylin
    counterstain (same shape, ``uint8``); white glass stays white."""
    rgb = np.asarray(pixels, dtype=np.float32)[..., :3]
    density = -np.log((rgb + 1.0) / 256.0)
    concentrations = density @ _he_unmixing().astype(np.float32)
    haematoxylin = np.clip(concentrations[..., 0] - _GLASS_OD, 0.0, None) * _COUNTERSTAIN_SCALE
    dab = np.clip(concentrations[..., 1] - _EOSIN_THRESHOLD_OD, 0.0, None) * _DAB_GAIN
    counterstain = haematoxylin[..., None] * _HAEMATOXYLIN.astype(np.float32)
    chromogen = dab[..., None] * _DAB.astype(np.float32)
    restained = 256.0 * np.exp(-(counterstain + chromogen)) - 1.0
    out: Pixels = np.clip(np.rint(restained), 0, 255).astype(np.uint8)
    return out


def _restained_tiles(tif: tifffile.TiffFile, page: tifffile.TiffPage) -> Iterator[bytes]:
    """The page's tiles in file order, restained and JPEG-encoded; a recurring tile once."""
    encoded_by_digest: dict[bytes, bytes] = {}
    # Without a buffer size, one (bytes, index) pair per tile.
    segments = cast(
        "Iterator[tuple[bytes | None, int]]",
        tif.filehandle.read_segments(page.dataoffsets, page.databytecounts),
    )
    for data, index in segments:
        if data is None:
            raise ValueError(f"{tif.filename}: page {page.index} tile {index} is missing")
        digest = hashlib.blake2b(data, digest_size=16).digest()
        encoded = encoded_by_digest.get(digest)
        if encoded is None:
            tile, _, _ = page.decode(data, index, jpegtables=page.jpegtables)
            assert tile is not None
            encoded = encode_jpeg(np.ascontiguousarray(restain_he_as_ihc(tile[0])), _QUALITY)
            encoded_by_digest[digest] = encoded
        yield encoded


def _page_tags(page: tifffile.TiffPage) -> dict[str, Any]:
    tags: dict[str, Any] = {
        "description": page.description,
        "subfiletype": page.subfiletype,
        "metadata": None,
        "software": False,
    }
    resolution_unit = page.tags.valueof("ResolutionUnit")
    if page.tags.get("XResolution") is not None and resolution_unit is not None:
        tags["resolution"] = (page.get_resolution()[0], page.get_resolution()[1])
        tags["resolutionunit"] = resolution_unit
    return tags


def _associated_name(page: tifffile.TiffPage) -> str | None:
    """The associated image an SVS page holds, as OpenSlide names it ("label", "macro")."""
    lines = page.description.replace("\r", "\n").split("\n")
    words = lines[1].split() if len(lines) > 1 else []
    return words[0] if words and page.subfiletype else None


def _write_restained(source: Path, target: Path) -> None:
    with tifffile.TiffFile(source) as tif, tifffile.TiffWriter(target, bigtiff=True) as tw:
        for page in tif.pages:
            assert isinstance(page, tifffile.TiffPage)
            if page.is_tiled:
                tw.write(
                    _restained_tiles(tif, page),
                    shape=page.shape,
                    dtype=np.uint8,
                    photometric="rgb",
                    compression="jpeg",
                    subsampling=SUBSAMPLING,
                    tile=(page.tilelength, page.tilewidth),
                    **_page_tags(page),
                )
                continue
            pixels = page.asarray()
            # The label is the glass slide's paper label: the same under any stain.
            is_label = _associated_name(page) == "label"
            compression = _COMPRESSION_NAMES.get(int(page.compression), "jpeg")
            tw.write(
                pixels if is_label else restain_he_as_ihc(pixels),
                photometric="rgb",
                compression=compression,
                compressionargs={"level": _QUALITY} if compression == "jpeg" else None,
                predictor=compression == "lzw",
                rowsperstrip=page.rowsperstrip or 16,
                **_page_tags(page),
            )


def restained_slide_name(source: Path) -> str:
    """The cache file name of the restaining of ``source``: its name, size and the version."""
    stat = source.stat()
    return f"restained-ihc-{source.stem}-{stat.st_size}-v{_RESTAIN_VERSION}{source.suffix}"


def ensure_restained_slide(source: Path, cache_dir: Path | None = None) -> Path:
    """A cached IHC-like restaining of the Aperio SVS ``source``, written on first use.

    Kept next to the fetched samples (``default_cache_dir()``), written under a temporary
    name and then renamed, so a reader never sees a half-written file.
    """
    source = Path(source)
    cache = cache_dir or default_cache_dir()
    name = restained_slide_name(source)
    target = cache / name
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".{name}.{os.getpid()}.partial"
    try:
        _write_restained(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
