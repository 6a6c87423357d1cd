"""The Pillow backend: small JPEG and PNG images (photos of gross specimens, screenshots).

The whole image is decoded once at open into an RGB array; regions are slices of it. Images
above ``MAX_SIDE_PX`` are refused: they belong in a tiled format.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from tiling.box import Box
from tiling.pixels import composite_rgba, paste
from tiling.sources._tiff_metadata import resolution_mpp
from tiling.sources.base import (
    WHITE,
    Backend,
    BackendOpenError,
    NoRawTiles,
    RGBArray,
    SlideDescription,
    SlideSource,
    filled,
    read_magic,
)

__all__ = ["BACKEND", "MAX_SIDE_PX", "NAME", "PillowSource", "can_read"]

NAME = "pillow"
MAX_SIDE_PX = 20_000
_FORMATS = {"JPEG": "jpeg", "PNG": "png"}
_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))


class PillowSource(NoRawTiles, SlideSource):
    """A single-level JPEG or PNG image, held in memory."""

    backend_name = NAME

    def __init__(self, path: str | Path) -> None:
        path = str(path)
        try:
            with warnings.catch_warnings():
                # Our own size limit below replaces Pillow's decompression-bomb warning.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    if image.format not in _FORMATS:
                        raise BackendOpenError(
                            path, NAME, f"{image.format} images are not read by Pillow here"
                        )
                    width, height = image.size
                    if width > MAX_SIDE_PX or height > MAX_SIDE_PX:
                        raise BackendOpenError(
                            path,
                            NAME,
                            f"{width}x{height} px is too large for the Pillow backend "
                            f"(at most {MAX_SIDE_PX} px a side)",
                        )
                    format_name = _FORMATS[image.format]
                    dpi = image.info.get("dpi")
                    self._pixels = self._to_rgb(image)
        except BackendOpenError:
            raise
        except Image.DecompressionBombError as exc:
            raise BackendOpenError(path, NAME, f"too large for the Pillow backend: {exc}") from exc
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three on bad files
            raise BackendOpenError(path, NAME, str(exc) or type(exc).__name__) from exc
        super().__init__(
            SlideDescription(
                path=path,
                format_name=format_name,
                level_dimensions=((width, height),),
                level_downsamples=(1.0,),
                mpp=self._mpp_from_dpi(dpi),
                properties=MappingProxyType({"pillow.format": format_name, "pillow.mode": "RGB"}),
            )
        )

    @staticmethod
    def _to_rgb(image: Image.Image) -> RGBArray:
        if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
            return composite_rgba(np.asarray(image.convert("RGBA")), WHITE)
        return np.ascontiguousarray(np.asarray(image.convert("RGB")))

    @staticmethod
    def _mpp_from_dpi(dpi: object) -> tuple[float, float] | None:
        # Pillow reports a JPEG's JFIF density and a PNG's pHYs as dots per inch; 72 dpi from
        # an image program is no microscope's resolution (see resolution_mpp).
        if not isinstance(dpi, tuple) or len(dpi) != 2:
            return None
        try:
            dpi_x, dpi_y = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
        return resolution_mpp(dpi_x, dpi_y, "inch")

    def associated_image(self, name: str) -> RGBArray:
        """Plain images have no associated images; always raises SlideReadError."""
        raise self._no_associated_image(name)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """A copy of ``size`` pixels at ``location``; outside the image is white."""
        self._check_region(level, size)
        self._check_open()
        l0_region = Box(*location, *size)
        l0_image = Box(0, 0, *self.dimensions)
        if l0_region.intersection(l0_image) == l0_region:
            return self._pixels[l0_region.slices()].copy()
        out = filled(size, WHITE)
        paste(out, l0_region.origin, self._pixels, l0_image.origin)
        return out

    def close(self) -> None:
        """Mark the image closed; later reads raise SlideReadError."""
        self._mark_closed()


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
