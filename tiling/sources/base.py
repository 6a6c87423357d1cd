"""The slide abstraction every backend implements, modelled on OpenSlide's ``AbstractSlide``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from tiling.errors import SlideReadError, UnsupportedSlideError

RGBArray = npt.NDArray[np.uint8]
"""An image as a ``(height, width, 3)`` uint8 array, RGB."""


@dataclass(frozen=True)
class RawTileLayout:
    """How a slide level is stored as compressed tiles, for decoding without the backend.

    ``jpeg_tables`` are the shared JPEG tables of abbreviated streams (TIFF tag 347), if any;
    ``colorspace`` tells the decoder how the samples are stored ("rgb" or "ycbcr").
    """

    tile_width_px: int
    tile_height_px: int
    columns: int
    rows: int
    compression: str
    jpeg_tables: bytes | None
    colorspace: str


@runtime_checkable
class SlideSource(Protocol):
    """A whole-slide image, opened for reading.

    Pixel coordinates ``location`` are in level-0 pixels (as in OpenSlide), sizes in pixels of
    the requested level. Regions outside the image, and transparent areas, come back filled with
    the slide's background colour; arrays are always RGB uint8.
    """

    @property
    def path(self) -> str:
        """The file this slide was opened from."""
        ...

    @property
    def format_name(self) -> str:
        """The slide format, e.g. ``"aperio"``, ``"generic-tiff"``, ``"ome-tiff"``."""
        ...

    @property
    def dimensions(self) -> tuple[int, int]:
        """(width, height) of level 0 in pixels."""
        ...

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(width, height) of every level, level 0 first."""
        ...

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        """Downsample factor of every level relative to level 0."""
        ...

    @property
    def mpp(self) -> tuple[float, float] | None:
        """Microns per pixel (x, y) at level 0, or None when the file does not say."""
        ...

    @property
    def objective_power(self) -> float | None:
        """The scanner's objective magnification, or None when unknown."""
        ...

    @property
    def bounds(self) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the non-empty region in level-0 pixels, when known."""
        ...

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        """The colour that fills transparent and out-of-image areas."""
        ...

    @property
    def properties(self) -> Mapping[str, str]:
        """Format-specific metadata as strings."""
        ...

    @property
    def associated_image_names(self) -> tuple[str, ...]:
        """Names of the associated images (label, macro, thumbnail, ...)."""
        ...

    def associated_image(self, name: str) -> RGBArray:
        """Read one associated image as RGB."""
        ...

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """Read ``size`` pixels of ``level`` whose top left is ``location`` in level-0 pixels."""
        ...

    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """The compressed-tile layout of ``level``, or None when tiles are not accessible."""
        ...

    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """The compressed bytes of one stored tile (see ``raw_tile_layout``); thread-safe."""
        ...

    def close(self) -> None:
        """Release the file."""
        ...

    def __enter__(self) -> SlideSource: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The level whose downsample is the largest not above ``downsample`` (OpenSlide's rule)."""
        ...


# --- Shared helpers for the backends (not part of the SlideSource contract) -------------------

WHITE: tuple[int, int, int] = (255, 255, 255)


class BackendOpenError(UnsupportedSlideError):
    """A backend could not open a file; ``reason`` is the short cause, for the registry."""

    def __init__(self, path: str, backend: str, reason: str) -> None:
        super().__init__(f"cannot open slide {path!r} with {backend}: {reason}")
        self.path = path
        self.backend = backend
        self.reason = reason


@dataclass(frozen=True)
class Backend:
    """What a backend module declares: its name, what it prefers, and how to open a file.

    ``can_read(path)`` returns a preference score, 0 when the backend cannot read the file;
    it sniffs the content and must never raise.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    can_read: Callable[[Path], int]
    open: Callable[[Path, int | None], SlideSource]


def read_magic(path: Path, size: int = 16) -> bytes:
    """The first ``size`` bytes of ``path``, or b"" when it cannot be read."""
    try:
        with path.open("rb") as f:
            return f.read(size)
    except OSError:
        return b""


def is_tiff_magic(magic: bytes) -> bool:
    """Whether ``magic`` starts a classic TIFF or a BigTIFF file, either byte order."""
    return magic[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def level_location(location: tuple[int, int], downsample: float) -> tuple[int, int]:
    """A level-0 location in pixels of a level with ``downsample``.

    Rounded to the nearest pixel, not floored: callers (Deep Zoom) compute level-0 locations as
    ``int(l_x * downsample)``, and rounding recovers ``l_x`` exactly where flooring loses one.
    """
    l0_x, l0_y = location
    return math.floor(l0_x / downsample + 0.5), math.floor(l0_y / downsample + 0.5)


def clip_region(
    l_location: tuple[int, int], l_size: tuple[int, int], l_dimensions: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The part of a region inside the level as ``(x0, y0, x1, y1)`` in level pixels, or None."""
    l_x, l_y = l_location
    l_w, l_h = l_size
    x0, y0 = max(l_x, 0), max(l_y, 0)
    x1, y1 = min(l_x + l_w, l_dimensions[0]), min(l_y + l_h, l_dimensions[1])
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def filled(size: tuple[int, int], rgb: tuple[int, int, int]) -> RGBArray:
    """A ``(height, width, 3)`` array of one colour."""
    width, height = size
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[...] = rgb
    return out


class SlideSourceBase:
    """Behaviour every backend shares: context manager, level lookup, argument checks."""

    @property
    def path(self) -> str:
        raise NotImplementedError

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        raise NotImplementedError

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The level whose downsample is the largest not above ``downsample`` (OpenSlide's rule)."""
        downsamples = self.level_downsamples
        if downsample < downsamples[0]:
            return 0
        for level in range(1, len(downsamples)):
            if downsample < downsamples[level]:
                return level - 1
        return len(downsamples) - 1

    def _check_region(self, level: int, size: tuple[int, int]) -> None:
        if not 0 <= level < len(self.level_dimensions):
            raise SlideReadError(f"slide {self.path!r} has no level {level}")
        if size[0] < 0 or size[1] < 0:
            raise SlideReadError(f"slide {self.path!r}: negative region size {size}")
