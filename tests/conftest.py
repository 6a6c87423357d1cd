"""Shared fixtures: the real sample slides, fetched once into the user cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiling.samples import fetch_sample


@pytest.fixture(scope="session")
def cmu_small_region() -> Path:
    """CMU-1-Small-Region.svs: a real H&E Aperio slide (2220 x 2967, 240 px JPEG tiles)."""
    return fetch_sample("CMU-1-Small-Region.svs")


@pytest.fixture(scope="session")
def boxes_tiff() -> Path:
    """boxes.tiff: a generic tiled TIFF pyramid with non-power-of-two downsamples."""
    return fetch_sample("boxes.tiff")
