"""The slide abstraction every backend implements, modelled on OpenSlide's ``AbstractSlide``.

A backend opens a file, describes it once in a frozen ``SlideDescription`` (path, format,
levels, resolution, bounds, background, properties, associated images) and hands that to
``SlideSource.__init__``; the base class answers every descriptive property from it. What a
backend must itself provide is marked ``@abstractmethod`` (reading pixels, associated images,
raw tiles, closing), so a backend that forgets one fails when it is instantiated.

Coordinates follow ``tiling.deepzoom``: ``l0_`` pixels of slide level 0, ``l_`` pixels of the
level read.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from tiling.box import Box
from tiling.closing import ClosesOnExit
from tiling.deepzoom import best_level_for_downsample
from tiling.errors import SlideReadError, TilingError, UnsupportedSlideError
from tiling.pixels import RGBArray, filled

__all__ = [
    "WHITE",
    "Backend",
    "BackendOpenError",
    "NoRawTiles",
    "RGBArray",
    "RawTileLayout",
    "SlideDescription",
    "SlideSource",
    "filled",
    "is_tiff_magic",
    "l_from_l0",
    "read_magic",
]

WHITE: tuple[int, int, int] = (255, 255, 255)


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


@dataclass(frozen=True)
class SlideDescription:
    """What a backend learns about a slide when it opens it; it does not change afterwards.

    ``level_dimensions`` are (width, height) of every level, level 0 first, and
    ``level_downsamples`` each level's downsample from level 0. ``mpp`` is microns per pixel
    (x, y) at level 0, ``bounds`` the non-empty region in level-0 pixels; both None when the
    file does not say. ``background_rgb`` fills transparent and out-of-image areas.
    """

    path: str
    format_name: str
    level_dimensions: tuple[tuple[int, int], ...]
    level_downsamples: tuple[float, ...]
    mpp: tuple[float, float] | None = None
    objective_power: float | None = None
    bounds: Box | None = None
    background_rgb: tuple[int, int, int] = WHITE
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    associated_image_names: tuple[str, ...] = ()


def _reopen(kind: Callable[..., SlideSource], path: str, options: dict[str, Any]) -> SlideSource:
    """Unpickle a source: open its file again, with the backend and options it had."""
    return kind(path, **options)


class SlideSource(ClosesOnExit, ABC):
    """A whole-slide image, opened for reading.

    Pixel coordinates ``location`` are in level-0 pixels (as in OpenSlide), sizes in pixels of
    the requested level. Regions outside the image, and transparent areas, come back filled with
    the slide's background colour; arrays are always RGB uint8. A source pickles as its path:
    unpickling opens the file again (so a source can travel to a dask worker).
    """

    backend_name: ClassVar[str]
    """The registry name of the backend, e.g. ``"openslide"``."""

    def __init__(self, description: SlideDescription) -> None:
        self._description = description
        self._closed = False
        self._close_lock = threading.Lock()

    # --- What the backend must provide ---------------------------------------------------

    @abstractmethod
    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> RGBArray:
        """Read ``size`` pixels of ``level`` whose top left is ``location`` in level-0 pixels."""

    @abstractmethod
    def associated_image(self, name: str) -> RGBArray:
        """Read one associated image as RGB; ``SlideReadError`` for a name the slide lacks."""

    @abstractmethod
    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """The compressed-tile layout of ``level``, or None when tiles are not accessible."""

    @abstractmethod
    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """The compressed bytes of one stored tile (see ``raw_tile_layout``); thread-safe."""

    @abstractmethod
    def close(self) -> None:
        """Release the file; safe to call twice. Later reads raise ``SlideReadError``."""

    # --- Answered from the description ---------------------------------------------------

    @property
    def description(self) -> SlideDescription:
        """Everything known about the slide since it was opened."""
        return self._description

    @property
    def path(self) -> str:
        """The file this slide was opened from."""
        return self._description.path

    @property
    def format_name(self) -> str:
        """The slide format, e.g. ``"aperio"``, ``"generic-tiff"``, ``"ome-tiff"``."""
        return self._description.format_name

    @property
    def dimensions(self) -> tuple[int, int]:
        """(width, height) of level 0 in pixels."""
        return self._description.level_dimensions[0]

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        """(width, height) of every level, level 0 first."""
        return self._description.level_dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        """Downsample factor of every level relative to level 0."""
        return self._description.level_downsamples

    @property
    def mpp(self) -> tuple[float, float] | None:
        """Microns per pixel (x, y) at level 0, or None when the file does not say."""
        return self._description.mpp

    @property
    def objective_power(self) -> float | None:
        """The scanner's objective magnification, or None when unknown."""
        return self._description.objective_power

    @property
    def bounds(self) -> Box | None:
        """The non-empty region in level-0 pixels, when known."""
        return self._description.bounds

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        """The colour that fills transparent and out-of-image areas."""
        return self._description.background_rgb

    @property
    def properties(self) -> Mapping[str, str]:
        """Format-specific metadata as strings."""
        return self._description.properties

    @property
    def associated_image_names(self) -> tuple[str, ...]:
        """Names of the associated images (label, macro, thumbnail, ...)."""
        return self._description.associated_image_names

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The level whose downsample is the largest not above ``downsample`` (OpenSlide's rule)."""
        return best_level_for_downsample(self.level_downsamples, downsample)

    # --- Shared behaviour ----------------------------------------------------------------

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __reduce__(self) -> tuple[Callable[..., SlideSource], tuple[Any, ...]]:
        return (_reopen, (type(self), self.path, self._reopen_options()))

    def _reopen_options(self) -> dict[str, Any]:
        """Keyword arguments besides the path that reopen this slide the same way."""
        return {}

    def _mark_closed(self) -> bool:
        """Mark the slide closed; True for the first call only (the one that releases)."""
        with self._close_lock:
            was_open = not self._closed
            self._closed = True
        return was_open

    def _check_open(self) -> None:
        if self._closed:
            raise SlideReadError(f"slide {self.path!r} is closed")

    def _check_region(self, level: int, size: tuple[int, int]) -> None:
        if not 0 <= level < len(self.level_dimensions):
            raise SlideReadError(f"slide {self.path!r} has no level {level}")
        if size[0] < 0 or size[1] < 0:
            raise SlideReadError(f"slide {self.path!r}: negative region size {size}")

    def _no_associated_image(self, name: str) -> SlideReadError:
        return SlideReadError(f"slide {self.path!r} has no associated image {name!r}")


class NoRawTiles:
    """For backends that give no access to stored compressed tiles."""

    backend_name: ClassVar[str]
    path: str

    def raw_tile_layout(self, level: int) -> RawTileLayout | None:
        """Always None: this backend gives no access to the stored compressed tiles."""
        return None

    def read_raw_tile(self, level: int, column: int, row: int) -> bytes:
        """Not available with this backend; raises TilingError."""
        raise TilingError(
            f"slide {self.path!r}: the {self.backend_name} backend has no raw tile access "
            f"(level {level}, tile {column},{row})"
        )


# --- Shared helpers for the backends (not part of the SlideSource contract) -------------------


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


def l_from_l0(l0_location: tuple[int, int], l0_l_downsample: float) -> tuple[int, int]:
    """A level-0 location in pixels of a level whose downsample is ``l0_l_downsample``.

    Rounded to the nearest pixel, not floored: callers (Deep Zoom) compute level-0 locations as
    ``int(l_x * downsample)``, and rounding recovers ``l_x`` exactly where flooring loses one.
    """
    l0_x, l0_y = l0_location
    return (
        math.floor(l0_x / l0_l_downsample + 0.5),
        math.floor(l0_y / l0_l_downsample + 0.5),
    )
