"""RGB pixel arrays and the two ways pieces of them are put together: fill and paste.

An image is a ``(height, width, 3)`` uint8 array. Pieces of one plane (a slide level, a Deep
Zoom level) are combined by *pasting*: each piece knows where its top left pixel sits in the
plane, and whatever part of it falls inside the target is copied there. Backends paste decoded
tiles into a region, the builder pastes the previous stage's cores into a block, the renderer
pastes cached blocks into a tile.

It imports only ``tiling.box``, so every other module can use it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tiling.box import Box

__all__ = ["RGBArray", "composite_rgba", "filled", "paste"]

RGBArray = npt.NDArray[np.uint8]
"""An image as a ``(height, width, 3)`` uint8 array, RGB."""


def filled(size: tuple[int, int], rgb: tuple[int, int, int]) -> RGBArray:
    """A ``(height, width, 3)`` array of one colour; ``size`` is (width, height)."""
    width, height = size
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[...] = rgb
    return out


def paste(
    out: npt.NDArray[np.uint8],
    out_origin: tuple[int, int],
    part: npt.NDArray[np.uint8],
    part_origin: tuple[int, int],
) -> Box | None:
    """Copy the part of ``part`` that lies inside ``out`` into ``out``.

    Origins are the positions of each array's top left pixel in the same plane. Returns the
    box copied (in that plane), or None when the two do not overlap.
    """
    out_box = Box(*out_origin, out.shape[1], out.shape[0])
    part_box = Box(*part_origin, part.shape[1], part.shape[0])
    common = out_box.intersection(part_box)
    if common is not None:
        out[common.slices(out_origin)] = part[common.slices(part_origin)]
    return common


def composite_rgba(rgba: npt.NDArray[np.uint8], background: tuple[int, int, int]) -> RGBArray:
    """Straight (not premultiplied) RGBA ``(h, w, 4)`` onto ``background``, as RGB, rounded."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    bg = np.asarray(background, dtype=np.uint16)
    return ((rgba[..., :3] * alpha + bg * (255 - alpha) + 127) // 255).astype(np.uint8)
