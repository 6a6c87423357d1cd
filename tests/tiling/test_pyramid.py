"""The pyramid builder on real slides: layout, pixels, resume, background, archive, errors."""

from __future__ import annotations

import filecmp
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import openslide
import pytest
from openslide.deepzoom import DeepZoomGenerator

import tiling.plan
import tiling.pyramid
from tiling.archive import PyramidArchive
from tiling.box import Box
from tiling.errors import (
    ImplausibleSlideError,
    PyramidBuildError,
    PyramidExistsError,
    SlideTooLargeError,
    TilingError,
)
from tiling.manifest import MANIFEST_NAME
from tiling.pyramid import BuildRun, PyramidOptions, SlideLimits, build_pyramid
from tiling.samples import fetch_sample
from tiling.sources import open_slide
from tiling.spec import TileSpec

from .pyramid_helpers import decode, decode_bytes, mse, psnr_db, reference_levels, reference_tile
from .sources.hostile_tiffs import write_huge_header_tiff, write_offset_reuse_tiff


def tile_files(files_dir: Path) -> set[str]:
    """Relative paths of every tile under NAME_files."""
    return {
        f"{level.name}/{tile.name}"
        for level in files_dir.iterdir()
        if level.is_dir()
        for tile in level.iterdir()
    }


def assert_same_pyramid(a: Path, b: Path) -> None:
    files = tile_files(a)
    assert files == tile_files(b)
    mismatch = [f for f in files if not filecmp.cmp(a / f, b / f, shallow=False)]
    assert mismatch == []


def test_writes_every_tile_of_the_geometry_with_its_exact_size(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    result = build_pyramid(cmu_small_region, tmp_path)
    geometry = result.geometry
    assert result.dzi_path == tmp_path / "CMU-1-Small-Region.dzi"
    expected = {
        f"{level}/{col}_{row}.jpeg"
        for level in range(geometry.level_count)
        for col, row in geometry.tiles(level)
    }
    assert tile_files(result.files_dir) == expected
    assert result.tiles_total == result.tiles_written == len(expected) == geometry.tile_count
    for level in (0, geometry.level_count // 2, geometry.level_count - 1):
        for col, row in geometry.tiles(level):
            z_tile = geometry.tile_box(level, col, row)
            tile = decode(result.files_dir / f"{level}/{col}_{row}.jpeg")
            assert tile.shape == (z_tile.height, z_tile.width, 3)
    dzg = DeepZoomGenerator(openslide.OpenSlide(cmu_small_region), 254, 1, False)
    assert result.dzi_path.read_text(encoding="utf-8") == dzg.get_dzi("jpeg")
    assert (result.files_dir / MANIFEST_NAME).exists()
    assert not list(tmp_path.glob(".*.building"))


@pytest.mark.parametrize(
    ("sample", "tile_size_px", "overlap_px", "levels_per_block"),
    [
        ("boxes.tiff", 8, 1, 2),
        ("boxes.tiff", 16, 3, 1),
        pytest.param("CMU-1-Small-Region.svs", 32, 2, 1, marks=pytest.mark.slow),  # ~10 s
        ("CMU-1-Small-Region.svs", 64, 1, 3),
    ],
)
def test_blocks_reproduce_the_whole_level_reference_pixel_for_pixel(
    sample: str, tile_size_px: int, overlap_px: int, levels_per_block: int, tmp_path: Path
) -> None:
    """Lossless tiles built block by block equal tiles cut from whole in-memory levels.

    Small tiles and blocks force several stages, margins and edge blocks on every level.
    """
    slide = fetch_sample(sample)
    options = PyramidOptions(
        spec=TileSpec(tile_size_px=tile_size_px, overlap_px=overlap_px, tile_format="png"),
        levels_per_block=levels_per_block,
    )
    result = build_pyramid(slide, tmp_path, options)
    geometry = result.geometry
    assert len(tiling.plan.plan_build(geometry, levels_per_block=levels_per_block).stages) > 1
    levels = reference_levels(slide, geometry)
    for level in range(geometry.level_count):
        for col, row in geometry.tiles(level):
            tile = decode(result.files_dir / f"{level}/{col}_{row}.png")
            expected = reference_tile(levels, geometry, level, col, row)
            assert np.array_equal(tile, expected), (level, col, row)


def _pixels(tiles: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([t.reshape(-1, 3) for t in tiles])


def test_agrees_with_openslide_deepzoom_generator(cmu_small_region: Path, tmp_path: Path) -> None:
    """Full resolution: OpenSlide's tiles within JPEG noise. Lower levels: within what the
    different filter explains (OpenSlide resamples with Lanczos, Coupe averages 2x2) plus the
    JPEG noise, the two errors adding up in mean squared error."""
    result = build_pyramid(cmu_small_region, tmp_path)
    geometry = result.geometry
    dzg = DeepZoomGenerator(openslide.OpenSlide(cmu_small_region), 254, 1, False)
    levels = reference_levels(cmu_small_region, geometry)
    top = geometry.level_count - 1
    for level in range(top, top - 6, -1):
        ours, theirs, theirs_jpeg, box_filtered = [], [], [], []
        for col, row in geometry.tiles(level):
            raw = dzg.get_tile(level, (col, row))
            buffer = io.BytesIO()
            raw.save(buffer, "JPEG", quality=75)
            tile = decode(result.files_dir / f"{level}/{col}_{row}.jpeg")
            # OpenSlide's thumbnail() may come out 1 px short at tiny levels: compare overlap.
            height, width = min(raw.height, tile.shape[0]), min(raw.width, tile.shape[1])
            ours.append(tile[:height, :width])
            theirs.append(np.asarray(raw)[:height, :width])
            theirs_jpeg.append(decode_bytes(buffer.getvalue())[:height, :width])
            reference = reference_tile(levels, geometry, level, col, row)
            box_filtered.append(reference[:height, :width])
        measured = psnr_db(_pixels(theirs), _pixels(ours))
        if level == top:
            assert psnr_db(_pixels(theirs_jpeg), _pixels(ours)) >= 45.0
            continue
        filter_mse = mse(_pixels(theirs), _pixels(box_filtered))
        jpeg_mse = mse(_pixels(box_filtered), _pixels(ours))
        explained = 10 * np.log10(255.0**2 / (filter_mse + jpeg_mse))
        assert measured >= explained - 1.0, (level, measured, explained)


def test_rebuild_with_same_options_does_nothing(cmu_small_region: Path, tmp_path: Path) -> None:
    first = build_pyramid(cmu_small_region, tmp_path)
    mtime = first.dzi_path.stat().st_mtime_ns
    second = build_pyramid(cmu_small_region, tmp_path)
    assert second.already_complete
    assert second.dzi_path.stat().st_mtime_ns == mtime


def test_rebuild_with_other_options_asks_for_overwrite_then_replaces(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    first = build_pyramid(cmu_small_region, tmp_path)
    mtime = first.dzi_path.stat().st_mtime_ns
    other = PyramidOptions(spec=TileSpec(tile_size_px=510, tile_format="png"))
    with pytest.raises(PyramidExistsError) as refused:
        build_pyramid(cmu_small_region, tmp_path, other)
    assert str(refused.value) == (
        f"pyramid {str(first.dzi_path)!r} exists, built with tile_size_px 254, not 510; "
        "tile_format 'jpeg', not 'png'"
    )
    assert isinstance(refused.value, FileExistsError)
    assert first.dzi_path.stat().st_mtime_ns == mtime
    result = build_pyramid(cmu_small_region, tmp_path, other, overwrite=True)
    assert not result.already_complete
    assert 'TileSize="510"' in result.dzi_path.read_text(encoding="utf-8")
    assert tile_files(result.files_dir) == {
        f"{level}/{c}_{r}.png"
        for level in range(result.geometry.level_count)
        for c, r in result.geometry.tiles(level)
    }


def test_a_pyramid_without_a_manifest_is_not_replaced_unasked(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    first = build_pyramid(cmu_small_region, tmp_path)
    (first.files_dir / MANIFEST_NAME).unlink()
    with pytest.raises(PyramidExistsError, match="not by Coupe, or with its manifest lost"):
        build_pyramid(cmu_small_region, tmp_path)
    assert not build_pyramid(cmu_small_region, tmp_path, overwrite=True).already_complete


def test_interrupted_build_leaves_no_descriptor_and_resumes(
    cmu_small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = PyramidOptions(spec=TileSpec(tile_size_px=128), levels_per_block=2)
    run = BuildRun(workers=1)
    clean = build_pyramid(cmu_small_region, tmp_path / "clean", options, run=run)
    real_run_block = tiling.pyramid.run_block
    calls = {"count": 0}

    def crash_on_fifth(context: Any, block: Any, *deps: Any) -> Any:
        calls["count"] += 1
        if calls["count"] == 5:
            raise OSError("disk unplugged")
        return real_run_block(context, block, *deps)

    monkeypatch.setattr(tiling.pyramid, "run_block", crash_on_fifth)
    out = tmp_path / "resumed"
    with pytest.raises(PyramidBuildError, match="disk unplugged"):
        build_pyramid(cmu_small_region, out, options, run=run)
    assert not (out / "CMU-1-Small-Region.dzi").exists()
    assert not (out / "CMU-1-Small-Region_files").exists()
    monkeypatch.setattr(tiling.pyramid, "run_block", real_run_block)
    resumed = build_pyramid(cmu_small_region, out, options, run=run)
    assert 4 <= resumed.blocks_resumed < resumed.blocks_total
    assert_same_pyramid(clean.files_dir, resumed.files_dir)


def test_background_tiles_can_be_skipped_or_shared(boxes_tiff: Path, tmp_path: Path) -> None:
    every = build_pyramid(
        boxes_tiff, tmp_path / "write", PyramidOptions(spec=TileSpec(tile_size_px=32))
    )
    skipped = build_pyramid(
        boxes_tiff,
        tmp_path / "skip",
        PyramidOptions(spec=TileSpec(tile_size_px=32), background="skip"),
    )
    shared = build_pyramid(
        boxes_tiff,
        tmp_path / "share",
        PyramidOptions(spec=TileSpec(tile_size_px=32), background="share"),
    )
    assert every.tiles_background == 0
    assert 0 < skipped.tiles_background < skipped.tiles_total
    assert skipped.tiles_written == skipped.tiles_total - skipped.tiles_background
    missing = tile_files(every.files_dir) - tile_files(skipped.files_dir)
    assert len(missing) == skipped.tiles_background
    assert tile_files(shared.files_dir) == tile_files(every.files_dir)
    inodes_by_shape: dict[tuple[int, ...], set[int]] = {}
    for name in missing:
        blank = decode(shared.files_dir / name)
        assert blank.min() >= 250
        assert decode(every.files_dir / name).shape == blank.shape
        inodes_by_shape.setdefault(blank.shape, set()).add((shared.files_dir / name).stat().st_ino)
    # One file per tile size, shared by every background tile of that size.
    assert all(len(inodes) == 1 for inodes in inodes_by_shape.values())
    assert len(inodes_by_shape) < len(missing)


def test_archive_holds_the_same_pyramid(cmu_small_region: Path, tmp_path: Path) -> None:
    result = build_pyramid(cmu_small_region, tmp_path, run=BuildRun(archive=True))
    assert result.archive_path == tmp_path / "CMU-1-Small-Region.zip"
    with PyramidArchive(result.archive_path) as archive:
        assert archive.dzi() == result.dzi_path.read_text(encoding="utf-8")
        for level in range(result.geometry.level_count):
            for col, row in result.geometry.tiles(level):
                path = result.files_dir / f"{level}/{col}_{row}.jpeg"
                assert archive.tile(level, col, row, "jpeg") == path.read_bytes()


def test_progress_reports_every_tile(cmu_small_region: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    result = build_pyramid(
        cmu_small_region,
        tmp_path,
        PyramidOptions(spec=TileSpec(tile_size_px=128)),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, result.tiles_total)
    assert seen[-1] == (result.tiles_total, result.tiles_total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("broken", ["unreadable.svs", "unopenable.tiff"])
def test_broken_slide_fails_with_a_clear_error_and_writes_nothing(
    broken: str, tmp_path: Path
) -> None:
    slide = fetch_sample(broken)
    with pytest.raises(TilingError, match=broken):
        build_pyramid(slide, tmp_path)
    assert not list(tmp_path.glob("*.dzi"))
    assert not list(tmp_path.glob("*_files"))


@pytest.mark.parametrize("write", [write_offset_reuse_tiff, write_huge_header_tiff])
def test_a_hostile_tiff_is_refused_before_any_tile_is_written(tmp_path: Path, write: Any) -> None:
    slide = write(tmp_path / "hostile.tif")
    out = tmp_path / "out"
    with pytest.raises(ImplausibleSlideError, match="a damaged or crafted file"):
        build_pyramid(slide, out)
    assert not out.exists()  # not even the output folder: refused before tiling starts


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (
            SlideLimits(max_pixels=2220 * 2967 - 1),
            r"slide '.*CMU-1-Small-Region.svs' is 2,220 x 2,967 px \(6,586,740 px\); "
            r"the limit is 6,586,739 px per slide",
        ),
        (
            SlideLimits(max_tiles=100),
            r"is 2,220 x 2,967 px and would make 1\d\d tiles of 254 px; "
            r"the limit is 100 tiles per slide",
        ),
    ],
)
def test_a_slide_over_the_limits_is_refused_with_its_size_before_any_tile(
    cmu_small_region: Path, tmp_path: Path, limits: SlideLimits, message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SlideTooLargeError, match=message):
        build_pyramid(cmu_small_region, out, limits=limits)
    assert not out.exists()
    within = SlideLimits(max_pixels=2220 * 2967, max_tiles=200)
    assert build_pyramid(cmu_small_region, out, limits=within).tiles_total <= 200


def test_slide_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_tiles must be at least 1"):
        SlideLimits(max_tiles=0)
    assert SlideLimits().max_pixels == 200_000 * 200_000


def test_a_second_build_of_the_same_pyramid_is_refused_while_one_runs(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    import fcntl

    tmp_path.mkdir(exist_ok=True)
    with (tmp_path / ".CMU-1-Small-Region.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(PyramidBuildError, match="being built by another process"):
            build_pyramid(cmu_small_region, tmp_path)


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [
        (TileSpec, {"tile_size_px": 0}),
        (TileSpec, {"overlap_px": -1}),
        (TileSpec, {"tile_size_px": 4, "overlap_px": 4}),
        (TileSpec, {"quality": 0}),
        (TileSpec, {"tile_format": "gif"}),
        (PyramidOptions, {"background": "hide"}),
        (PyramidOptions, {"levels_per_block": 0}),
        (BuildRun, {"workers": 0}),
    ],
)
def test_invalid_options_are_refused(kind: type, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        kind(**kwargs)


def test_an_output_folder_that_is_a_file_is_refused_by_name(
    cmu_small_region: Path, tmp_path: Path
) -> None:
    a_file = tmp_path / "pyramids"
    a_file.write_text("not a folder")
    with pytest.raises(PyramidBuildError, match="the output folder is a file, not a folder"):
        build_pyramid(cmu_small_region, a_file)
    with pytest.raises(PyramidBuildError, match=f"{str(a_file)!r} is a file, not a folder"):
        build_pyramid(cmu_small_region, a_file / "below")


def test_an_output_folder_root_cannot_write_is_refused_by_name(cmu_small_region: Path) -> None:
    # chmod stops no root (tests run as root); sysfs refuses new files to root as well.
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no sysfs here")
    with pytest.raises(PyramidBuildError, match="cannot write in the output folder '/sys/kernel'"):
        build_pyramid(cmu_small_region, "/sys/kernel")


def test_invalid_name_is_refused(cmu_small_region: Path, tmp_path: Path) -> None:
    with pytest.raises(PyramidBuildError, match="not a valid file name"):
        build_pyramid(cmu_small_region, tmp_path, name="../escape")


@pytest.mark.slow
def test_distributed_build_on_two_worker_processes_is_identical(
    cmu_small_region: Path, tmp_path: Path, dask_cluster: str
) -> None:
    options = PyramidOptions(spec=TileSpec(tile_size_px=128), levels_per_block=2)
    local = build_pyramid(cmu_small_region, tmp_path / "local", options)
    remote_run = BuildRun(scheduler_address=dask_cluster)
    remote = build_pyramid(cmu_small_region, tmp_path / "cluster", options, run=remote_run)
    assert remote.blocks_total == local.blocks_total > 4
    assert_same_pyramid(local.files_dir, remote.files_dir)
    assert os.path.exists(remote.dzi_path)


def test_overlap_past_the_level_edge_is_clipped_like_openslide(
    boxes_tiff: Path, tmp_path: Path
) -> None:
    """300 px wide with 299 px tiles: the last tile is 1 px, so the first tile's 2 px overlap
    would reach 1 px past the edge; OpenSlide's DeepZoomGenerator clips its read there."""
    options = PyramidOptions(spec=TileSpec(tile_size_px=299, overlap_px=2, tile_format="png"))
    result = build_pyramid(boxes_tiff, tmp_path, options)
    top = result.geometry.level_count - 1
    dzg = DeepZoomGenerator(openslide.OpenSlide(boxes_tiff), 299, 2, False)
    tile = decode(result.files_dir / f"{top}/0_0.png")
    assert dzg.get_tile_dimensions(top, (0, 0)) == (301, 250)
    assert np.array_equal(tile, np.asarray(dzg.get_tile(top, (0, 0))))
    assert tile.shape == (250, 300, 3)


def _generated(kind: str, width_px: int, height_px: int) -> Path:
    from tiling.samples.synthetic import ensure_synthetic_slide

    return ensure_synthetic_slide(kind, width_px, height_px)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("slide_factory", "backend"),
    [
        (lambda: fetch_sample("CMU-1-Small-Region.svs"), "openslide"),
        (lambda: fetch_sample("boxes.tiff"), "openslide"),
        (lambda: fetch_sample("boxes_0.dcm"), None),
        (lambda: fetch_sample("boxes.png"), None),
        (lambda: fetch_sample("small.svs"), None),
        (lambda: _generated("aperio-svs", 3001, 2017), None),
        (lambda: _generated("aperio-svs", 3001, 2017), "openslide"),
        (lambda: _generated("generic-tiff", 1999, 1001), None),
        (lambda: _generated("ome-tiff", 1250, 1731), None),
    ],
    ids=[
        "cmu-svs-openslide",
        "boxes-tiff-openslide",
        "dicom-openslide",
        "png-pillow",
        "small-svs-tifffile",
        "generated-svs-tifffile",
        "generated-svs-openslide",
        "generated-generic-tiff",
        "generated-ome-tiff",
    ],
)
def test_every_backend_builds_the_exact_pyramid(
    slide_factory: Any, backend: str | None, tmp_path: Path
) -> None:
    """Real fixtures and generated slides, through each backend: lossless tiles equal the
    in-memory reference read through the same backend, at every level."""
    slide = slide_factory()
    options = PyramidOptions(spec=TileSpec(tile_size_px=126, tile_format="png", backend=backend))
    result = build_pyramid(slide, tmp_path, options)
    geometry = result.geometry
    levels = reference_levels(slide, geometry, backend)
    for level in range(geometry.level_count):
        for col, row in geometry.tiles(level):
            tile = decode(result.files_dir / f"{level}/{col}_{row}.png")
            assert np.array_equal(tile, reference_tile(levels, geometry, level, col, row))


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="slide reader 'vips'"):
        TileSpec(backend="vips")


def test_limit_bounds_tiles_only_the_non_empty_region(
    cmu_small_region: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None of the fixture slides declares bounds, so this one is told to: the pyramid must
    then cover exactly that region, as OpenSlide's DeepZoomGenerator does with limit_bounds."""
    from tiling.sources import TiffFileSource

    bounds = Box(101, 203, 1500, 1999)
    monkeypatch.setattr(TiffFileSource, "bounds", property(lambda self: bounds))
    options = PyramidOptions(spec=TileSpec(tile_size_px=254, limit_bounds=True, tile_format="png"))
    result = build_pyramid(cmu_small_region, tmp_path, options)
    geometry = result.geometry
    assert geometry.l0_offset == (101, 203)
    assert geometry.z_dimensions[-1] == (1500, 1999)
    with open_slide(cmu_small_region) as slide:
        region = slide.read_region((101, 203), 0, (1500, 1999))
    top = geometry.level_count - 1
    for col, row in geometry.tiles(top):
        tile = decode(result.files_dir / f"{top}/{col}_{row}.png")
        assert np.array_equal(tile, region[geometry.tile_box(top, col, row).slices()])
