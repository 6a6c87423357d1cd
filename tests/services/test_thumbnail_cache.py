"""Slide thumbnails are made once per slide file and size, then served from the tile cache:
the case page's strip asks for every slide's thumbnail, and making one reads a whole level."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.settings import Settings
from services.tiles import TileService
from tiling.samples import fetch_sample


@pytest.fixture
def tiles(tmp_path: Path) -> Iterator[TileService]:
    service = TileService(Settings(data_dir=tmp_path / "data"))
    try:
        yield service
    finally:
        service.close()


def test_a_thumbnail_is_made_once_per_file_and_size(
    tiles: TileService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slide = tmp_path / "cmu.svs"
    shutil.copyfile(fetch_sample("CMU-1-Small-Region.svs"), slide)
    made: list[int] = []
    making = TileService._thumbnail_pixels

    def counted(self: TileService, opened: Any, max_px: int) -> Any:
        made.append(max_px)
        return making(self, opened, max_px)

    monkeypatch.setattr(TileService, "_thumbnail_pixels", counted)
    first = tiles.thumbnail(7, slide, 160)
    assert first[:2] == b"\xff\xd8"
    assert tiles.thumbnail(7, slide, 160) == first
    assert made == [160]
    tiles.thumbnail(7, slide, 300)  # another size is another thumbnail
    assert made == [160, 300]

    # The file replaced (a rescan under the same name): made anew, not served from before.
    stat = slide.stat()
    os.utime(slide, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert tiles.thumbnail(7, slide, 160) == first  # same pixels, made again
    assert made == [160, 300, 160]
