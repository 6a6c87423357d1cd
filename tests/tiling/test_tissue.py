"""Background detection on real tissue and on glass."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiling.sources import open_slide
from tiling.tissue import BackgroundDetector


def test_glass_is_background_and_tissue_is_not(cmu_small_region: Path) -> None:
    detector = BackgroundDetector()
    glass = np.full((256, 256, 3), 242, dtype=np.uint8)
    glass[::7, ::5] = 236
    assert detector.is_background(glass)
    with open_slide(cmu_small_region) as slide:
        tissue = slide.read_region((1000, 1500), 0, (256, 256))
    assert not detector.is_background(tissue)


def test_a_small_stained_fragment_is_tissue() -> None:
    tile = np.full((256, 256, 3), 245, dtype=np.uint8)
    tile[100:112, 100:112] = (180, 90, 160)
    assert not BackgroundDetector().is_background(tile)
