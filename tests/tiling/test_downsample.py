"""2x2 downsampling: the fast path equals the plain numpy specification."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tiling.downsample import halve, halve_reference


@settings(max_examples=100, deadline=None)
@given(height=st.integers(1, 70), width=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_halve_equals_reference(height: int, width: int, seed: int) -> None:
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    result = halve(image)
    assert result.shape == (-(-height // 2), -(-width // 2), 3)
    assert np.array_equal(result, halve_reference(image))


def test_odd_edge_pixels_average_what_exists() -> None:
    image = np.array([[[10, 20, 30], [50, 60, 70], [200, 100, 0]]], dtype=np.uint8)
    assert halve(image).tolist() == [[[30, 40, 50], [200, 100, 0]]]
