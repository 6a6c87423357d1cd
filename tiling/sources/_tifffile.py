"""The tifffile backend: Aperio SVS, OME-TIFF (SubIFD pyramids too) and plain or tiled TIFF.

``read_region`` decodes only the stored tiles (or strips) that a region touches: their compressed
bytes are read with ``os.pread`` (no shared file position, so thread-safe) and decoded in a thread
pool, where tifffile's per-segment decoder runs imagecodecs without the GIL. The same bytes are
offered as raw tiles, so a pyramid builder can pass JPEG tiles through or decode them itself.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import tifffile

from tiling.box import Box
from tiling.errors import SlideReadError
from tiling.pixels import composite_rgba
from tiling.sources._tiff_metadata import read_tiff_metadata
from tiling.sources.base import (
    WHITE,
    Backend,
    BackendOpenError,
    RawTileLayout,
    RGBArray,
    SlideDescription,
    SlideSource,
    filled,
    is_tiff_magic,
    l_from_l0,
    read_magic,
)

__all__ = ["BACKEND", "NAME", "TiffFileSource", "can_read", "default_decode_threads"]

NAME = "tifffile"

_COMPRESSION_NAMES = {
    "NONE": "none",
    "JPEG": "jpeg",
    "OJPEG": "ojpeg",
    "LZW": "lzw",
    "ADOBE_DEFLATE": "deflate",
    "DEFLATE": "deflate",
    "PACKBITS": "packbits",
    "APERIO_JP2000_YCBC": "jpeg2000",
    "APERIO_JP2000_RGB": "jpeg2000",
    "JPEG2000": "jpeg2000",
    "WEBP": "webp",
    "JPEGXL": "jpegxl",
    "ZSTD": "zstd",
}

# Vendor flavours of TIFF that OpenSlide understands better (levels, offsets, associated images).
_VENDOR_FLAGS = (
    "is_ndpi",
    "is_scn",
    "is_philips",
    "is_bif",
    "is_qpi",
    "is_stk",
    "is_lsm",
    "is_indica",
)


def default_decode_threads() -> int:
    """How many threads decode tiles when the caller does not say: up to 4."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Level:
    """One pyramid level: its page and how it is cut into segments (tiles, or strips)."""

    page: tifffile.TiffPage
    width: int
    height: int
    tiled: bool
    segment_width: int
    segment_height: int
    columns: int
    rows: int
    samples: int
    decode: Callable[..., Any]

    @classmethod
    def from_page(cls, page: tifffile.TiffPage) -> _Level:
        if page.dtype != np.uint8:
            raise ValueError(f"{page.dtype} samples (only 8-bit is supported)")
        if page.samplesperpixel not in (1, 3, 4):
            raise ValueError(f"{page.samplesperpixel} samples per pixel")
        if page.samplesperpixel > 1 and page.planarconfig != tifffile.PLANARCONFIG.CONTIG:
            raise ValueError("separate colour planes")
        if page.imagedepth != 1:
            raise ValueError("volumetric tiles")
        compression = int(page.compression)
        if compression != 1 and compression not in tifffile.TIFF.DECOMPRESSORS:
            raise ValueError(f"unsupported TIFF compression {compression}")
        photometric = tifffile.PHOTOMETRIC(page.photometric)
        if photometric not in (
            tifffile.PHOTOMETRIC.RGB,
            tifffile.PHOTOMETRIC.YCBCR,
            tifffile.PHOTOMETRIC.MINISBLACK,
        ):
            raise ValueError(f"photometric {photometric.name}")
        width, height = int(page.imagewidth), int(page.imagelength)
        if page.is_tiled:
            segment_width, segment_height = int(page.tilewidth), int(page.tilelength)
        else:
            segment_width = width
            segment_height = min(int(page.rowsperstrip) or height, height)
        columns = math.ceil(width / segment_width)
        rows = math.ceil(height / segment_height)
        if len(page.dataoffsets) < columns * rows:
            raise ValueError(f"{len(page.dataoffsets)} segments, expected {columns * rows}")
        # Creating the decoder checks the compression, and keeps a cached property from being
        # first computed by racing threads.
        decode = page.decode
        return cls(
            page=page,
            width=width,
            height=height,
            tiled=bool(page.is_tiled),
            segment_width=segment_width,
            segment_height=segment_height,
            columns=columns,
            rows=rows,
            samples=int(page.samplesperpixel),
            decode=decode,
        )


def _to_rgb(pixels: npt.NDArray[np.uint8], background: tuple[int, int, int]) -> RGBArray:
    """Decoded ``(h, w, samples)`` to RGB; an alpha channel is composited on ``background``."""
    samples = pixels.shape[2]
    if samples == 3:
        return pixels
    if samples == 1:
        return np.repeat(pixels, 3, axis=2)
    return composite_rgba(pixels, background)


class TiffFileSource(SlideSource):
    """A TIFF slide read with tifffile: Aperio SVS, OME-TIFF, or plain/pyramidal TIFF."""

    backend_name = NAME

    def __init__(self, path: str | Path, *, decode_threads: int | None = None) -> None:
        path = str(path)
        threads = decode_threads if decode_threads is not None else default_decode_threads()
        if threads < 1:
            raise ValueError(f"decode_threads must be at least 1, not {threads}")
        self._lock = threading.Lock()
        try:
            self._tiff = tifffile.TiffFile(path)
        except Exception as exc:  # a broken file can fail anywhere in the parser
            raise BackendOpenError(path, NAME, _reason(exc)) from exc
        try:
            description = self._inspect(path)
        except Exception as exc:
            self._tiff.close()
            raise BackendOpenError(path, NAME, _reason(exc)) from exc
        super().__init__(description)
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._fd_lock = threading.Lock()  # only for platforms without os.pread
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="coupe-tiff-decode")
        self._threads = threads

    def _inspect(self, path: str) -> SlideDescription:
        tiff = self._tiff
        if not tiff.series:
            raise ValueError("no image series")
        series = tiff.series[0]
        if series.axes not in ("YX", "YXS"):
            raise ValueError(f"image axes {series.axes!r} (expected a 2-D RGB or grey image)")
        pages = [level.keyframe for level in series.levels]
        if any(len(level.pages) != 1 for level in series.levels):
            raise ValueError("levels of more than one plane")
        if tiff.is_svs:
            # As OpenSlide: every tiled directory is a level (tifffile would take a tiled second
            # directory for the thumbnail); the stripped ones are associated images.
            pages = [
                page for page in tiff.pages if isinstance(page, tifffile.TiffPage) and page.is_tiled
            ]
        levels = sorted(
            (_Level.from_page(page) for page in pages),
            key=lambda level: level.width * level.height,
            reverse=True,
        )
        self._levels = tuple(levels)
        base = levels[0]
        metadata = read_tiff_metadata(tiff, len(levels))
        self._associated = metadata.associated
        return SlideDescription(
            path=path,
            format_name=metadata.format_name,
            level_dimensions=tuple((level.width, level.height) for level in levels),
            # OpenSlide's rule for formats that do not state downsamples: the mean of both ratios.
            level_downsamples=(
                1.0,
                *(
                    (base.width / level.width + base.height / level.height) / 2
                    for level in levels[1:]
                ),
            ),
            mpp=metadata.mpp_um,
            objective_power=metadata.objective_power,
            properties=MappingProxyType(metadata.properties),
            associated_image_names=tuple(metadata.associated),
        )

    def _reopen_options(self) -> dict[str, Any]:
        return {"decode_threads": self._threads}

    def associated_image(self, name: str) -> RGBArray:
        """Read one associated image (label, macro, thumbnail) as RGB."""
        series = self._associated.get(name)
        if series is None:
            raise self._no_associated_image(name)
        self._check_open()
        try:
            with self._lock:  # tifffile's own file handle is not safe to share
                pixels = np.asarray(series.asarray())
        except Exception as exc:
            raise SlideReadError(
                f"slide {self.path!r}: cannot read associated image {name!r}: {_reason(exc)}"
            ) from exc
        if pixels.dtype != np.uint8:
            raise SlideReadError(
                f"slide {self.path!r}: associated image {name!r} has {pixels.dtype} samples"
            )
        if pixels.ndim == 2:
            pixels = pixels[..., np.newaxis]
        return np.ascontiguousarray(_to_rgb(pixels, WHITE))

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """Read ``size`` pixels of ``level`` at level-0 ``location``, decoding only the tiles
        (or strips) the region touches; outside the image is white."""
        self._check_region(level, size)
        self._check_open()
        info = self._levels[level]
        l_region = Box(*l_from_l0(location, self.level_downsamples[level]), *size)
        l_inside = l_region.intersection(Box(0, 0, info.width, info.height))
        if l_inside is None:
            return filled(size, WHITE)
        if l_inside == l_region:
            out = np.empty((l_region.height, l_region.width, 3), dtype=np.uint8)
        else:
            out = filled(size, WHITE)
        segment_width, segment_height = info.segment_width, info.segment_height
        segments = [
            (column, row)
            for row in range(l_inside.y // segment_height, (l_inside.y1 - 1) // segment_height + 1)
            for column in range(l_inside.x // segment_width, (l_inside.x1 - 1) // segment_width + 1)
        ]

        def paste_segment(segment: tuple[int, int]) -> None:
            column, row = segment
            l_x, l_y = column * segment_width, row * segment_height
            l_segment = Box(l_x, l_y, segment_width, segment_height)
            # The part of this segment inside the region; never None for a listed segment.
            l_part = l_segment.intersection(l_inside) or l_inside
            pixels = self._decode_segment(info, column, row)
            target = out[l_part.slices(l_region.origin)]
            if pixels is None:
                target[...] = WHITE
                return
            part = pixels[l_part.slices(l_segment.origin)]
            if part.shape[:2] != target.shape[:2]:
                raise ValueError(f"segment {column},{row} decoded to {pixels.shape[:2]}")
            target[...] = _to_rgb(part, WHITE)

        try:
            if len(segments) == 1 or self._threads == 1:
                for segment in segments:
                    paste_segment(segment)
            else:
                # list() re-raises the first failure from the workers.
                list(self._executor.map(paste_segment, segments))
        except Exception as exc:
            raise SlideReadError(
                f"slide {self.path!r}: cannot read level {level} region at {location} "
                f"of size {size}: {_reason(exc)}"
            ) from exc
        return out

    def _decode_segment(self, info: _Level, column: int, row: int) -> npt.NDArray[np.uint8] | None:
        index = row * info.columns + column
        offset = int(info.page.dataoffsets[index])
        count = int(info.page.databytecounts[index])
        if count == 0:
            return None  # a tile the scanner never wrote: background
        data = self._read_at(offset, count)
        decoded = info.decode(data, index, jpegtables=info.page.jpegtables)[0]
        if decoded is None:
            return None
        pixels: npt.NDArray[np.uint8] = np.asarray(decoded)
        return pixels.reshape(pixels.shape[-3:])

    def _read_at(self, offset: int, count: int) -> bytes:
        if hasattr(os, "pread"):
            data = os.pread(self._fd, count, offset)
        else:  # pragma: no cover - Windows
            with self._fd_lock:
                os.lseek(self._fd, offset, os.SEEK_SET)
                data = os.read(self._fd, count)
        if len(data) != count:
            raise OSError(f"file ends at {offset + len(data)}, expected {count} bytes at {offset}")
        return data

    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """The compressed-tile layout of ``level``, or None for a level stored in strips."""
        self._check_region(level, (0, 0))
        info = self._levels[level]
        if not info.tiled:
            return None
        page = info.page
        compression = tifffile.COMPRESSION(page.compression).name
        if page.photometric == tifffile.PHOTOMETRIC.YCBCR:
            colorspace = "ycbcr"
        elif info.samples == 1:
            colorspace = "gray"
        else:
            colorspace = "rgb"
        return RawTileLayout(
            tile_width_px=info.segment_width,
            tile_height_px=info.segment_height,
            columns=info.columns,
            rows=info.rows,
            compression=_COMPRESSION_NAMES.get(compression, compression.lower()),
            jpeg_tables=page.jpegtables or None,
            colorspace=colorspace,
        )

    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """The stored bytes of one tile (b"" for a tile never written); thread-safe."""
        layout = self.raw_tile_layout(level)
        if layout is None:
            raise SlideReadError(f"slide {self.path!r}: level {level} is not tiled")
        if not (0 <= column < layout.columns and 0 <= row < layout.rows):
            raise SlideReadError(
                f"slide {self.path!r}: level {level} has no tile {column},{row} "
                f"(grid {layout.columns}x{layout.rows})"
            )
        self._check_open()
        page = self._levels[level].page
        index = row * layout.columns + column
        try:
            return self._read_at(int(page.dataoffsets[index]), int(page.databytecounts[index]))
        except OSError as exc:
            raise SlideReadError(
                f"slide {self.path!r}: cannot read level {level} tile {column},{row}: {exc}"
            ) from exc

    def close(self) -> None:
        """Stop the decode threads and release the file; safe to call twice."""
        if not self._mark_closed():
            return
        self._executor.shutdown(wait=True)
        os.close(self._fd)
        self._tiff.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def can_read(path: Path) -> int:
    """90 for Aperio SVS, OME-TIFF and other plain TIFF (raw tiles make it the fastest path);
    10 for vendor TIFF flavours OpenSlide reads better; 0 for anything else."""
    if not is_tiff_magic(read_magic(path, 4)):
        return 0
    try:
        with tifffile.TiffFile(path) as tiff:
            if any(getattr(tiff, flag, False) for flag in _VENDOR_FLAGS):
                return 10
            if re.search(r"ventana|iScan", tiff.pages.first.description or "", re.IGNORECASE):
                return 10
            return 90
    except Exception:  # can_read must not raise on a broken file
        return 0


def _open(path: Path, decode_threads: int | None) -> TiffFileSource:
    return TiffFileSource(path, decode_threads=decode_threads)


BACKEND = Backend(
    name=NAME,
    description="tifffile + imagecodecs: Aperio SVS, OME-TIFF, plain and pyramidal TIFF; raw tiles",
    extensions=(".svs", ".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8"),
    can_read=can_read,
    open=_open,
)
