"""A rectangle of pixels, ``Box(x, y, width, height)``, in one coordinate plane.

Every box in ``tiling`` is this one type: slide bounds, tile boxes, the regions blocks read
and renderers cut. A box does not know its plane; the name of the variable holding it does,
with the prefixes of ``tiling.deepzoom`` (``l0_`` slide level 0, ``l_`` a slide level, ``z_``
a Deep Zoom level). The far edges ``x1``/``y1`` are exclusive, as in slicing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Box"]


@dataclass(frozen=True)
class Box:
    """``width`` x ``height`` pixels whose top left pixel is (``x``, ``y``)."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_corners(cls, x0: int, y0: int, x1: int, y1: int) -> Box:
        """The box from (``x0``, ``y0``) up to, not including, (``x1``, ``y1``)."""
        return cls(x0, y0, x1 - x0, y1 - y0)

    @property
    def x1(self) -> int:
        """The first column right of the box."""
        return self.x + self.width

    @property
    def y1(self) -> int:
        """The first row below the box."""
        return self.y + self.height

    @property
    def origin(self) -> tuple[int, int]:
        """(x, y) of the top left pixel."""
        return (self.x, self.y)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as ``read_region`` takes it."""
        return (self.width, self.height)

    @property
    def is_empty(self) -> bool:
        """Whether the box holds no pixel."""
        return self.width <= 0 or self.height <= 0

    def intersection(self, other: Box) -> Box | None:
        """The pixels in both boxes, or None when they do not overlap."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x1, other.x1), min(self.y1, other.y1)
        if x0 >= x1 or y0 >= y1:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def translate(self, dx: int, dy: int) -> Box:
        """The same box moved by (``dx``, ``dy``)."""
        return Box(self.x + dx, self.y + dy, self.width, self.height)

    def clip(self, width: int, height: int) -> Box:
        """The box cut at the right and bottom edges of a ``width`` x ``height`` plane."""
        return Box(
            self.x, self.y, min(self.width, width - self.x), min(self.height, height - self.y)
        )

    def slices(self, origin: tuple[int, int] = (0, 0)) -> tuple[slice, slice]:
        """``(rows, columns)`` of this box in an array whose top left pixel is ``origin``."""
        origin_x, origin_y = origin
        return (
            slice(self.y - origin_y, self.y1 - origin_y),
            slice(self.x - origin_x, self.x1 - origin_x),
        )
