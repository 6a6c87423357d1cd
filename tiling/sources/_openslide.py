"""The OpenSlide backend: every format the OpenSlide C library reads.

Pixels are read through ``openslide.lowlevel`` straight into a numpy buffer and composited in
numpy: OpenSlide returns premultiplied ARGB, and going through PIL (``Image.frombuffer``, then
``convert("RGB")``) costs more than the read itself on large regions.
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import openslide
from openslide import lowlevel

from tiling.errors import SlideReadError, TilingError
from tiling.sources.base import (
    WHITE,
    Backend,
    BackendOpenError,
    RawTileLayout,
    RGBArray,
    SlideSourceBase,
    filled,
)

NAME = "openslide"

# Byte positions of R, G, B, A inside a native-endian uint32 ARGB pixel.
_RGBA_BYTES = (2, 1, 0, 3) if sys.byteorder == "little" else (1, 2, 3, 0)

# The lowlevel functions that fill a caller's buffer; private in openslide-python, so looked up
# once and replaced by the public (PIL) path if a release renames them.
_read_region_into = getattr(lowlevel, "_read_region", None)
_read_associated_into = getattr(lowlevel, "_read_associated_image", None)


def composite_argb(argb: npt.NDArray[np.uint32], background: tuple[int, int, int]) -> RGBArray:
    """Premultiplied native-endian ARGB ``(h, w)`` onto ``background``, as RGB ``(h, w, 3)``.

    ``out = c + round((255 - a) * bg / 255)``; premultiplication (``c <= a``) keeps it in range.
    Channels are copied one at a time: numpy gathers a reordered 3-of-4-byte view ~5x slower.
    """
    height, width = argb.shape
    channels = argb.view(np.uint8).reshape(height, width, 4)
    r, g, b, a = _RGBA_BYTES
    alpha = channels[..., a]
    out = np.empty((height, width, 3), dtype=np.uint8)
    if alpha.size == 0 or int(alpha.min()) == 255:
        for i, byte in enumerate((r, g, b)):
            out[..., i] = channels[..., byte]
        return out
    transparency = 255 - alpha.astype(np.uint16)
    for i, (byte, bg) in enumerate(zip((r, g, b), background, strict=True)):
        fill = transparency if bg == 255 else (transparency * bg + 127) // 255
        out[..., i] = channels[..., byte] + fill
    return out


def _parse_color(value: str | None) -> tuple[int, int, int]:
    if value is None or len(value) != 6:
        return WHITE
    try:
        rgb = int(value, 16)
    except ValueError:
        return WHITE
    return (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF


def _float_property(properties: Mapping[str, str], key: str) -> float | None:
    try:
        value = float(properties[key])
    except (KeyError, ValueError):
        return None
    return value if value > 0 else None


class OpenSlideSource(SlideSourceBase):
    """A slide read by the OpenSlide C library (SVS, NDPI, MRXS, SCN, BIF, Philips, DICOM, ...)."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        try:
            self._slide = openslide.OpenSlide(self._path)
        except openslide.OpenSlideUnsupportedFormatError as exc:
            raise BackendOpenError(self._path, NAME, "not a format OpenSlide detects") from exc
        except (openslide.OpenSlideError, OSError, ValueError) as exc:
            raise BackendOpenError(self._path, NAME, str(exc) or type(exc).__name__) from exc
        self._lock = threading.Lock()
        self._closed = False
        try:
            properties = dict(self._slide.properties)
            self._level_dimensions = tuple(self._slide.level_dimensions)
            self._level_downsamples = tuple(float(d) for d in self._slide.level_downsamples)
            self._associated_names = tuple(self._slide.associated_images.keys())
        except openslide.OpenSlideError as exc:
            self._slide.close()
            raise BackendOpenError(self._path, NAME, str(exc)) from exc
        self._properties = MappingProxyType(properties)
        self._format_name = properties.get(openslide.PROPERTY_NAME_VENDOR, "unknown")
        self._background = _parse_color(properties.get(openslide.PROPERTY_NAME_BACKGROUND_COLOR))
        mpp_x = _float_property(properties, openslide.PROPERTY_NAME_MPP_X)
        mpp_y = _float_property(properties, openslide.PROPERTY_NAME_MPP_Y)
        self._mpp = (mpp_x, mpp_y) if mpp_x is not None and mpp_y is not None else None
        self._objective = _float_property(properties, openslide.PROPERTY_NAME_OBJECTIVE_POWER)
        self._bounds = self._parse_bounds(properties)

    @staticmethod
    def _parse_bounds(properties: Mapping[str, str]) -> tuple[int, int, int, int] | None:
        keys = (
            openslide.PROPERTY_NAME_BOUNDS_X,
            openslide.PROPERTY_NAME_BOUNDS_Y,
            openslide.PROPERTY_NAME_BOUNDS_WIDTH,
            openslide.PROPERTY_NAME_BOUNDS_HEIGHT,
        )
        try:
            x, y, w, h = (int(properties[key]) for key in keys)
        except (KeyError, ValueError):
            return None
        return x, y, w, h

    @property
    def path(self) -> str:
        return self._path

    @property
    def format_name(self) -> str:
        return self._format_name

    @property
    def dimensions(self) -> tuple[int, int]:
        return self._level_dimensions[0]

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return self._level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return self._level_downsamples

    @property
    def mpp(self) -> tuple[float, float] | None:
        return self._mpp

    @property
    def objective_power(self) -> float | None:
        return self._objective

    @property
    def bounds(self) -> tuple[int, int, int, int] | None:
        return self._bounds

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        return self._background

    @property
    def properties(self) -> Mapping[str, str]:
        return self._properties

    @property
    def associated_image_names(self) -> tuple[str, ...]:
        return self._associated_names

    def associated_image(self, name: str) -> RGBArray:
        """Read one associated image as RGB, composited on the background colour."""
        if name not in self._associated_names:
            raise SlideReadError(f"slide {self._path!r} has no associated image {name!r}")
        self._check_open()
        try:
            if _read_associated_into is None:
                image = self._slide.associated_images[name]
                return self._composite_pil(image)
            width, height = lowlevel.get_associated_image_dimensions(self._slide._osr, name)
            argb = np.empty((height, width), dtype=np.uint32)
            _read_associated_into(self._slide._osr, name, _pointer(argb))
        except (openslide.OpenSlideError, ValueError) as exc:
            raise SlideReadError(
                f"slide {self._path!r}: cannot read associated image {name!r}: {exc}"
            ) from exc
        return composite_argb(argb, self._background)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """Read ``size`` pixels of ``level`` at level-0 ``location``, RGB on the background."""
        self._check_region(level, size)
        self._check_open()
        width, height = size
        if width == 0 or height == 0:
            return filled(size, self._background)
        x, y = location
        try:
            if _read_region_into is None:
                image = self._slide.read_region((x, y), level, (width, height))
                return self._composite_pil(image)
            argb = np.empty((height, width), dtype=np.uint32)
            _read_region_into(self._slide._osr, _pointer(argb), x, y, level, width, height)
        except (openslide.OpenSlideError, ValueError) as exc:
            raise SlideReadError(
                f"slide {self._path!r}: cannot read level {level} region at {location} "
                f"of size {size}: {exc}"
            ) from exc
        return composite_argb(argb, self._background)

    def _composite_pil(self, image: object) -> RGBArray:
        # Public-API fallback: PIL un-premultiplies to RGBA; composite that, still vectorised.
        rgba = np.asarray(image, dtype=np.uint8)
        alpha = rgba[..., 3:4].astype(np.uint16)
        background = np.asarray(self._background, dtype=np.uint16)
        out = (rgba[..., :3] * alpha + background * (255 - alpha) + 127) // 255
        return out.astype(np.uint8)

    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """Always None: OpenSlide gives no access to the stored compressed tiles."""
        return None

    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """Not available with OpenSlide; raises TilingError."""
        raise TilingError(
            f"slide {self._path!r}: the openslide backend has no raw tile access "
            f"(level {level}, tile {column},{row})"
        )

    def close(self) -> None:
        """Release the OpenSlide handle; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._slide.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SlideReadError(f"slide {self._path!r} is closed")


def _pointer(buffer: npt.NDArray[np.uint32]) -> ctypes._Pointer[ctypes.c_uint32]:
    return buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32))


def can_read(path: Path) -> int:
    """80 for anything OpenSlide detects (the tifffile backend outbids it where it is faster)."""
    try:
        vendor = openslide.OpenSlide.detect_format(path)
    except (openslide.OpenSlideError, OSError, ValueError):
        return 0
    return 80 if vendor else 0


def _open(path: Path, decode_threads: int | None) -> OpenSlideSource:
    return OpenSlideSource(path)


BACKEND = Backend(
    name=NAME,
    description="OpenSlide C library: SVS, NDPI, MRXS, SCN, BIF, Philips, Ventana, DICOM, TIFF",
    extensions=(".svs", ".ndpi", ".vms", ".vmu", ".mrxs", ".scn", ".bif", ".tif", ".tiff", ".dcm"),
    can_read=can_read,
    open=_open,
)
