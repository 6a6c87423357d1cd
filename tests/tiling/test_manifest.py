"""The build manifest: format 2 on disk (the spec nested), format 1 still read."""

from __future__ import annotations

import json
from pathlib import Path

from tiling.manifest import MANIFEST_NAME, BuildManifest
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.spec import TileSpec

MANIFEST = BuildManifest(
    slide_path="/slides/a.svs",
    slide_size_bytes=123,
    slide_mtime_ns=456,
    spec=TileSpec(tile_size_px=510, overlap_px=2, tile_format="png", backend="openslide"),
    background="skip",
    levels_per_block=2,
)

V1 = {
    "slide_path": "/slides/a.svs",
    "slide_size_bytes": 123,
    "slide_mtime_ns": 456,
    "tile_size_px": 510,
    "overlap_px": 2,
    "tile_format": "png",
    "quality": 75,
    "limit_bounds": False,
    "background": "skip",
    "levels_per_block": 2,
    "backend": "openslide",
    "format_version": 1,
}


def test_written_nested_as_format_2_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    MANIFEST.write(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format_version"] == 2
    assert data["spec"]["tile_size_px"] == 510
    assert "tile_size_px" not in data
    assert BuildManifest.read(path) == MANIFEST


def test_a_flat_format_1_manifest_reads_as_the_same_manifest(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    path.write_text(json.dumps(V1), encoding="utf-8")
    assert BuildManifest.read(path) == MANIFEST


def test_unknown_or_broken_manifests_count_as_none(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    assert BuildManifest.read(path) is None
    for text in ("{", "[]", json.dumps({**V1, "format_version": 3}), json.dumps({"spec": {}})):
        path.write_text(text, encoding="utf-8")
        assert BuildManifest.read(path) is None, text
    path.write_text(json.dumps({**V1, "tile_format": "gif"}), encoding="utf-8")
    assert BuildManifest.read(path) is None


def test_a_pyramid_with_a_format_1_manifest_is_not_rebuilt(
    boxes_tiff: Path, tmp_path: Path
) -> None:
    options = PyramidOptions(spec=TileSpec(tile_size_px=64))
    first = build_pyramid(boxes_tiff, tmp_path, options)
    path = first.files_dir / MANIFEST_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    flat = {key: value for key, value in data.items() if key != "spec"}
    path.write_text(json.dumps({**flat, **data["spec"], "format_version": 1}), encoding="utf-8")
    assert build_pyramid(boxes_tiff, tmp_path, options).already_complete


def test_differences_name_each_field_that_differs() -> None:
    other = BuildManifest(
        slide_path="/slides/a.svs",
        slide_size_bytes=123,
        slide_mtime_ns=456,
        spec=TileSpec(tile_size_px=254, overlap_px=2, tile_format="png", backend="openslide"),
        background="write",
        levels_per_block=2,
    )
    assert MANIFEST.differences(MANIFEST) == []
    assert MANIFEST.differences(other) == [
        "background 'write', not 'skip'",
        "tile_size_px 254, not 510",
    ]
