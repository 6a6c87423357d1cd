"""2x2 downsampling of a Deep Zoom level into the level below it."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from tiling.pixels import RGBArray

__all__ = ["halve", "halve_reference"]


def halve(image: RGBArray) -> RGBArray:
    """Average each 2x2 block of pixels into one (rounded), as libvips' dzsave does.

    The result is ``ceil(width / 2)`` by ``ceil(height / 2)``, the Deep Zoom level size rule: an
    odd last row or column is averaged from the pixels that exist (it is repeated once).
    """
    height, width = image.shape[:2]
    if height == 1 and width == 1:
        return image
    _opencv_single_threaded()
    if height % 2 or width % 2:
        image = np.asarray(
            cv2.copyMakeBorder(
                np.ascontiguousarray(image), 0, height % 2, 0, width % 2, cv2.BORDER_REPLICATE
            ),
            np.uint8,
        )
        height, width = image.shape[:2]
    # OpenCV's area resize at exactly 1/2 is the rounded 2x2 mean, in SIMD: about 14x faster
    # than numpy on this hot loop of every level below full resolution (measured, 2048 px).
    return np.asarray(
        cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA), np.uint8
    )


@functools.cache
def _opencv_single_threaded() -> None:
    """Run OpenCV's loops on the calling thread (process-wide, once).

    Callers already spread their work over threads (a block, a tile per thread), and OpenCV's
    own pool busy-waits with sched_yield between calls: in a pyramid build on two cores its
    idle threads made ~29,000 sched_yield calls, competing with the codecs for the CPU.
    """
    cv2.setNumThreads(1)


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
