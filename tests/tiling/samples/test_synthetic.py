"""Synthetic slides: the formats OpenSlide and tifffile expect, and the real tissue in them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile
from numpy.typing import NDArray

from tiling.samples import (
    ensure_synthetic_slide,
    fetch_sample,
    synthetic_slide_name,
    write_aperio_svs,
    write_generic_tiff,
    write_ome_tiff,
)

SIZES = [(3001, 2017), (480, 720), (100, 70)]


@pytest.fixture(scope="module")
def real_tissue() -> NDArray[np.uint8]:
    with openslide.OpenSlide(fetch_sample("CMU-1-Small-Region.svs")) as slide:
        return np.asarray(slide.read_region((0, 0), 0, slide.dimensions).convert("RGB"))


def expected_plane(
    tissue: NDArray[np.uint8], unit_px: int, width_px: int, height_px: int
) -> NDArray[np.uint8]:
    """The tissue cropped to whole units, then copies alternately straight and flipped."""
    crop_h = tissue.shape[0] // unit_px * unit_px
    crop_w = tissue.shape[1] // unit_px * unit_px
    crop = tissue[:crop_h, :crop_w]
    pair = np.concatenate([crop, crop[::-1]], axis=0)
    pair = np.concatenate([pair, pair[:, ::-1]], axis=1)
    reps_y = -(-height_px // pair.shape[0])
    reps_x = -(-width_px // pair.shape[1])
    return np.tile(pair, (reps_y, reps_x, 1))[:height_px, :width_px]


def psnr_db(actual: NDArray[np.uint8], expected: NDArray[np.uint8]) -> float:
    mse = float(np.mean((actual.astype(np.float64) - expected.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def read_level0(path: Path) -> NDArray[np.uint8]:
    with openslide.OpenSlide(path) as slide:
        return np.asarray(slide.read_region((0, 0), 0, slide.dimensions).convert("RGB"))


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_aperio_svs_is_aperio_with_levels_mpp_and_associated_images(
    tmp_path: Path, real_tissue: NDArray[np.uint8], width_px: int, height_px: int
) -> None:
    path = write_aperio_svs(tmp_path / "slide.svs", width_px=width_px, height_px=height_px)

    with openslide.OpenSlide(path) as slide:
        assert slide.properties["openslide.vendor"] == "aperio"
        assert slide.level_dimensions == (
            (width_px, height_px),
            (max(1, width_px // 4), max(1, height_px // 4)),
            (max(1, width_px // 16), max(1, height_px // 16)),
        )
        assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.499)
        assert float(slide.properties["openslide.mpp-y"]) == pytest.approx(0.499)
        assert slide.properties["openslide.objective-power"] == "20"
        assert slide.properties["openslide.level[0].tile-width"] == "240"
        assert set(slide.associated_images) == {"thumbnail", "label", "macro"}
        assert slide.associated_images["label"].size == (387, 463)
        thumbnail = slide.associated_images["thumbnail"]
        assert max(thumbnail.size) <= 1024
        assert thumbnail.size[0] / thumbnail.size[1] == pytest.approx(
            width_px / height_px, rel=0.05
        )

    level0 = read_level0(path)
    assert psnr_db(level0, expected_plane(real_tissue, 240, width_px, height_px)) > 30
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].description.startswith(
            f"Aperio Image Library v12.0.0 \r\n{width_px}x{height_px} [0,0 "
        )
        assert "|MPP = 0.499" in tif.pages[0].description
        assert not tif.pages[1].is_tiled  # the thumbnail strip image, like a scanner's
        assert tif.series[0].levels[0].shape[:2] == (height_px, width_px)
        np.testing.assert_array_equal(tif.pages[0].asarray(), level0)


def test_aperio_svs_without_label_and_macro(tmp_path: Path) -> None:
    path = write_aperio_svs(
        tmp_path / "bare.svs", width_px=1000, height_px=800, label=False, macro=False
    )
    with openslide.OpenSlide(path) as slide:
        assert set(slide.associated_images) == {"thumbnail"}


def test_reduced_levels_are_downsampled_level0(tmp_path: Path) -> None:
    path = write_aperio_svs(tmp_path / "slide.svs", width_px=2400, height_px=1920)
    level0 = read_level0(path).astype(np.float64)
    with openslide.OpenSlide(path) as slide:
        level1 = np.asarray(slide.read_region((0, 0), 1, slide.level_dimensions[1]).convert("RGB"))
    h, w = level1.shape[:2]
    averaged = level0[: h * 4, : w * 4].reshape(h, 4, w, 4, 3).mean(axis=(1, 3))
    assert psnr_db(level1, averaged.round().astype(np.uint8)) > 30


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_generic_tiff_has_one_ifd_per_level(
    tmp_path: Path, real_tissue: NDArray[np.uint8], width_px: int, height_px: int
) -> None:
    path = write_generic_tiff(tmp_path / "slide.tiff", width_px=width_px, height_px=height_px)

    with openslide.OpenSlide(path) as slide:
        assert slide.properties["openslide.vendor"] == "generic-tiff"
        assert slide.level_count == 4
        assert slide.level_dimensions[0] == (width_px, height_px)
        assert slide.level_dimensions[3] == (max(1, width_px // 8), max(1, height_px // 8))
        assert float(slide.properties["openslide.mpp-x"]) == pytest.approx(0.499, rel=1e-3)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 4
        assert all(page.is_tiled and page.tilewidth == 256 for page in tif.pages)
    assert psnr_db(read_level0(path), expected_plane(real_tissue, 256, width_px, height_px)) > 30


@pytest.mark.parametrize(("width_px", "height_px"), SIZES)
def test_ome_tiff_keeps_its_pyramid_in_subifds(
    tmp_path: Path, real_tissue: NDArray[np.uint8], width_px: int, height_px: int
) -> None:
    path = write_ome_tiff(tmp_path / "slide.ome.tif", width_px=width_px, height_px=height_px)

    with openslide.OpenSlide(path) as slide:
        assert slide.level_count == 1
        assert slide.dimensions == (width_px, height_px)
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        assert len(tif.pages) == 1
        levels = tif.series[0].levels
        assert [level.shape[:2] for level in levels] == [
            (max(1, height_px // d), max(1, width_px // d)) for d in (1, 2, 4, 8)
        ]
        level0 = levels[0].asarray()
    assert psnr_db(level0, expected_plane(real_tissue, 256, width_px, height_px)) > 30


def test_tile_size_must_suit_jpeg_subsampling(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        write_generic_tiff(tmp_path / "x.tiff", width_px=100, height_px=100, tile_size_px=100)


def test_ensure_synthetic_slide_caches_atomically(tmp_path: Path) -> None:
    first = ensure_synthetic_slide("aperio-svs", 1000, 800, cache_dir=tmp_path)
    assert first == tmp_path / synthetic_slide_name("aperio-svs", 1000, 800)
    written = first.stat().st_mtime_ns

    again = ensure_synthetic_slide("aperio-svs", 1000, 800, cache_dir=tmp_path)

    assert again == first
    assert again.stat().st_mtime_ns == written
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no partial files left


@pytest.mark.parametrize("kind", ["generic-tiff", "ome-tiff"])
def test_ensure_synthetic_slide_other_kinds(tmp_path: Path, kind: str) -> None:
    path = ensure_synthetic_slide(kind, 700, 500, cache_dir=tmp_path)  # type: ignore[arg-type]
    with openslide.OpenSlide(path) as slide:
        assert slide.dimensions == (700, 500)


def test_unknown_kind_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthetic slide kind"):
        ensure_synthetic_slide("mrxs", 100, 100, cache_dir=tmp_path)  # type: ignore[arg-type]
