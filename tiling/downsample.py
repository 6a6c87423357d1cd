"""2x2 downsampling of a Deep Zoom level into the level below it."""

from __future__ import annotations

import numpy as np

from tiling.sources.base import RGBArray


def halve(image: RGBArray) -> RGBArray:
    """Average each 2x2 block of pixels into one (rounded), as libvips' dzsave does.

    The result is ``ceil(width / 2)`` by ``ceil(height / 2)``, the Deep Zoom level size rule: an
    odd last row or column is averaged from the pixels that exist (it is repeated once).
    """
    height, width = image.shape[:2]
    if height == 1 and width == 1:
        return image
    if height % 2 or width % 2:
        image = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        height, width = image.shape[:2]
    # View pairs of rows as one axis and pairs of pixels as six samples: two additions on
    # views, no gathering copies. This is the hot loop of every level below full resolution.
    pairs = np.ascontiguousarray(image).reshape(height // 2, 2, width // 2, 6)
    rows = np.add(pairs[:, 0], pairs[:, 1], dtype=np.uint16)
    total = np.add(rows[..., :3], rows[..., 3:])
    total += 2
    total >>= 2
    return total.astype(np.uint8)


def halve_reference(image: RGBArray) -> RGBArray:
    """The same 2x2 mean in plain numpy: the specification ``halve`` is tested against."""
    height, width = image.shape[:2]
    if height % 2:
        image = np.concatenate([image, image[-1:]], axis=0)
    if width % 2:
        image = np.concatenate([image, image[:, -1:]], axis=1)
    total = image[0::2, 0::2].astype(np.uint16)
    total += image[1::2, 0::2]
    total += image[0::2, 1::2]
    total += image[1::2, 1::2]
    total += 2
    total >>= 2
    return total.astype(np.uint8)
