"""TIFFs whose directories claim more than the file holds are refused before any backend reads
them: cut-short copies (``test_registry``) and hostile images (here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from tiling.errors import ImplausibleSlideError, UnsupportedSlideError
from tiling.samples import fetch_sample
from tiling.sources import _openslide, _tifffile, open_slide
from tiling.sources._tiff_extent import MIN_JUDGED_PX, _union_length, inspect_tiff

from .hostile_tiffs import write_huge_header_tiff, write_offset_reuse_tiff


@pytest.mark.parametrize("backend", [_tifffile.BACKEND, _openslide.BACKEND])
def test_the_hostile_files_fool_the_readers_themselves(tmp_path: Path, backend: object) -> None:
    # Why the check is ours: both readers take these files as the slides they claim to be.
    for write in (write_offset_reuse_tiff, write_huge_header_tiff):
        path = write(tmp_path / f"{write.__name__}.tif")
        assert path.stat().st_size < 1_000_000
        with backend.open(path, None) as slide:  # type: ignore[attr-defined]
            assert slide.dimensions[0] >= 50_000


@pytest.mark.parametrize("backend", [None, "tifffile", "openslide"])
def test_tiles_that_all_reuse_one_offset_are_refused(tmp_path: Path, backend: str | None) -> None:
    path = write_offset_reuse_tiff(tmp_path / "reuse.tif")
    with pytest.raises(ImplausibleSlideError) as raised:
        open_slide(path, backend=backend)
    message = str(raised.value)
    assert "reuse.tif" in message
    assert "claims an image of 50,000 x 50,000 px" in message
    assert "its 38,416 tiles (38,416 of them at the same offset) hold only" in message
    assert "a damaged or crafted file" in message
    assert isinstance(raised.value, UnsupportedSlideError)


@pytest.mark.parametrize("backend", [None, "tifffile", "openslide"])
def test_a_million_by_million_header_is_refused(tmp_path: Path, backend: str | None) -> None:
    path = write_huge_header_tiff(tmp_path / "huge.tif")
    with pytest.raises(ImplausibleSlideError, match=r"1,000,000 x 1,000,000 px but its 60,025 "):
        open_slide(path, backend=backend)


def test_a_huge_header_with_its_old_tile_table_is_refused_by_us(tmp_path: Path) -> None:
    path = tmp_path / "patched.tif"
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    tifffile.imwrite(path, image, tile=(256, 256), photometric="rgb", compression="jpeg")
    with tifffile.TiffFile(path, mode="r+") as tiff:
        tiff.pages.first.tags["ImageWidth"].overwrite(1_000_000)
        tiff.pages.first.tags["ImageLength"].overwrite(1_000_000)
    with pytest.raises(ImplausibleSlideError, match=r"its 4 tiles hold only"):
        open_slide(path)


def test_shared_tiles_with_real_data_beside_them_are_accepted(tmp_path: Path) -> None:
    # tifftools and large_image store identical tiles once: shared offsets are no crime.
    side = 10_240
    tile_px = 256
    rng = np.random.default_rng(2)
    noise = rng.integers(0, 255, (tile_px, tile_px, 3), dtype=np.uint8)
    per_row = side // tile_px

    def tiles():  # type: ignore[no-untyped-def]
        for index in range(per_row * per_row):
            yield noise if index % per_row < per_row // 4 else None

    path = tmp_path / "shared.tif"
    tifffile.imwrite(
        path, tiles(), shape=(side, side, 3), dtype=np.uint8, tile=(tile_px, tile_px),
        photometric="rgb", compression="jpeg",
    )  # fmt: skip
    with tifffile.TiffFile(path, mode="r+") as tiff:
        tags = tiff.pages.first.tags
        offsets = list(tags["TileOffsets"].value)
        counts = list(tags["TileByteCounts"].value)
        blank = (offsets[0], counts[0])
        # Three quarters of the tiles point to one: a deduplicated background.
        tags["TileOffsets"].overwrite([o or blank[0] for o in offsets])
        tags["TileByteCounts"].overwrite([c or blank[1] for c in counts])
    assert side * side >= MIN_JUDGED_PX
    inspection = inspect_tiff(path)
    assert inspection is not None and inspection.implausible is None
    with open_slide(path) as slide:
        assert slide.dimensions == (side, side)


@pytest.mark.parametrize(
    "name", ["CMU-1-Small-Region.svs", "small.svs", "boxes.tiff", "unreadable.svs"]
)
def test_real_tiffs_are_not_taken_for_hostile(name: str) -> None:
    inspection = inspect_tiff(fetch_sample(name))
    assert inspection is not None
    assert inspection.overrun is None and inspection.implausible is None


def test_union_length_counts_overlapping_ranges_once() -> None:
    starts = np.array([10, 0, 12, 100, 100], dtype=np.uint64)
    ends = np.array([20, 5, 15, 110, 105], dtype=np.uint64)
    assert _union_length(starts, ends) == 10 + 5 + 10
    assert _union_length(np.array([], dtype=np.uint64), np.array([], dtype=np.uint64)) == 0
