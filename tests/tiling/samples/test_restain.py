"""The IHC-like restaining: the same slide, page for page, with DAB on haematoxylin."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tiling.samples.restain import ensure_restained_slide, restain_he_as_ihc
from tiling.sources import open_slide


def test_glass_stays_white_eosin_turns_brown_haematoxylin_stays_blue() -> None:
    glass, eosin, haematoxylin = (245, 245, 245), (230, 90, 170), (60, 50, 140)
    out = restain_he_as_ihc(np.array([[glass, eosin, haematoxylin]], dtype=np.uint8))[0]
    assert (out[0] >= 240).all()
    red, green, blue = (int(v) for v in out[1])
    assert red > green > blue, "DAB is brown: red over green over blue"
    red, green, blue = (int(v) for v in out[2])
    assert blue > red, "the counterstain stays blue"


def test_the_restained_sample_is_the_same_slide_under_another_stain(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    restained = ensure_restained_slide(cmu_small_region, tmp_path)
    assert ensure_restained_slide(cmu_small_region, tmp_path) == restained  # cached
    with open_slide(cmu_small_region) as he, open_slide(restained) as ihc:
        assert ihc.format_name == he.format_name
        assert ihc.dimensions == he.dimensions
        assert ihc.mpp == he.mpp == (0.499, 0.499)
        assert ihc.associated_image_names == he.associated_image_names
        label_difference = np.abs(
            ihc.associated_image("label").astype(int) - he.associated_image("label").astype(int)
        )
        assert label_difference.mean() < 3, "the paper label is not restained"
        he_pixels = he.read_region((1000, 1200), 0, (800, 800)).astype(int)
        ihc_pixels = ihc.read_region((1000, 1200), 0, (800, 800)).astype(int)
    # H&E tissue is pink and purple; the restaining has brown DAB in it (red > green > blue).
    brown = (ihc_pixels[..., 0] > ihc_pixels[..., 1] + 10) & (
        ihc_pixels[..., 1] > ihc_pixels[..., 2] + 5
    )
    assert brown.mean() > 0.01
    assert np.abs(he_pixels - ihc_pixels).mean() > 10
