"""The Pillow backend: small JPEG and PNG images (photos of gross specimens, screenshots).

The whole image is decoded once at open into an RGB array; regions are slices of it. Images
above ``MAX_SIDE_PX`` are refused: they belong in a tiled format.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from tiling.errors import SlideReadError, TilingError
from tiling.sources.base import (
    WHITE,
    Backend,
    BackendOpenError,
    RawTileLayout,
    RGBArray,
    SlideSourceBase,
    clip_region,
    filled,
    read_magic,
)

NAME = "pillow"
MAX_SIDE_PX = 20_000
_FORMATS = {"JPEG": "jpeg", "PNG": "png"}
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))


class PillowSource(SlideSourceBase):
    """A single-level JPEG or PNG image, held in memory."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._closed = False
        try:
            with warnings.catch_warnings():
                # Our own size limit below replaces Pillow's decompression-bomb warning.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(self._path) as image:
                    if image.format not in _FORMATS:
                        raise BackendOpenError(
                            self._path, NAME, f"{image.format} images are not read by Pillow here"
                        )
                    width, height = image.size
                    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
                        raise BackendOpenError(
                            self._path,
                            NAME,
                            f"{width}x{height} px is too large for the Pillow backend "
                            f"(at most {MAX_SIDE_PX} px a side)",
                        )
                    self._format_name = _FORMATS[image.format]
                    dpi = image.info.get("dpi")
                    self._pixels = self._to_rgb(image)
        except BackendOpenError:
            raise
        except Image.DecompressionBombError as exc:
            raise BackendOpenError(
                self._path, NAME, f"too large for the Pillow backend: {exc}"
            ) from exc
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three on bad files
            raise BackendOpenError(self._path, NAME, str(exc) or type(exc).__name__) from exc
        self._mpp = self._mpp_from_dpi(dpi)
        self._properties = MappingProxyType(
            {"pillow.format": self._format_name, "pillow.mode": "RGB"}
        )
        self._lock = threading.Lock()

    @staticmethod
    def _to_rgb(image: Image.Image) -> RGBArray:
        if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
            rgba = np.asarray(image.convert("RGBA"))
            alpha = rgba[..., 3:4].astype(np.uint16)
            bg = np.asarray(WHITE, dtype=np.uint16)
            return ((rgba[..., :3] * alpha + bg * (255 - alpha) + 127) // 255).astype(np.uint8)
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))

    @staticmethod
    def _mpp_from_dpi(dpi: object) -> tuple[float, float] | None:
        if not isinstance(dpi, tuple) or len(dpi) != 2:
            return None
        try:
            dpi_x, dpi_y = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
        if dpi_x <= 0 or dpi_y <= 0:
            return None
        return 25400.0 / dpi_x, 25400.0 / dpi_y

    @property
    def path(self) -> str:
        return self._path

    @property
    def format_name(self) -> str:
        return self._format_name

    @property
    def dimensions(self) -> tuple[int, int]:
        height, width = self._pixels.shape[:2]
        return width, height

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return (self.dimensions,)

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return (1.0,)

    @property
    def mpp(self) -> tuple[float, float] | None:
        return self._mpp

    @property
    def objective_power(self) -> float | None:
        return None

    @property
    def bounds(self) -> tuple[int, int, int, int] | None:
        return None

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        return WHITE

    @property
    def properties(self) -> Mapping[str, str]:
        return self._properties

    @property
    def associated_image_names(self) -> tuple[str, ...]:
        return ()

    def associated_image(self, name: str) -> RGBArray:
        """Plain images have no associated images; always raises SlideReadError."""
        raise SlideReadError(f"slide {self._path!r} has no associated image {name!r}")

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """A copy of ``size`` pixels at ``location``; outside the image is white."""
        self._check_region(level, size)
        if self._closed:
            raise SlideReadError(f"slide {self._path!r} is closed")
        x, y = location
        width, height = size
        clipped = clip_region(location, size, self.dimensions)
        if clipped == (x, y, x + width, y + height):
            return self._pixels[y : y + height, x : x + width].copy()
        out = filled(size, WHITE)
        if clipped is not None:
            x0, y0, x1, y1 = clipped
            out[y0 - y : y1 - y, x0 - x : x1 - x] = self._pixels[y0:y1, x0:x1]
        return out

    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """Always None: a JPEG or PNG is not stored in tiles."""
        return None

    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """Not available with Pillow; raises TilingError."""
        raise TilingError(
            f"slide {self._path!r}: the pillow backend has no raw tile access "
            f"(level {level}, tile {column},{row})"
        )

    def close(self) -> None:
        """Mark the image closed; later reads raise SlideReadError."""
        with self._lock:
            self._closed = True


def can_read(path: Path) -> int:
    """70 for JPEG and PNG (by their magic bytes), 0 otherwise."""
    magic = read_magic(path, 8)
    return 70 if any(magic.startswith(prefix) for prefix, _ in _MAGIC) else 0


def _open(path: Path, decode_threads: int | None) -> PillowSource:
    return PillowSource(path)


BACKEND = Backend(
    name=NAME,
    description="Pillow: small JPEG and PNG images, decoded whole",
    extensions=(".jpg", ".jpeg", ".png"),
    can_read=can_read,
    open=_open,
)
