"""Baseline (b): OpenSlide's DeepZoomGenerator driven by a pool of worker processes.

Each worker opens its own OpenSlide and DeepZoomGenerator once, then renders the tiles it is
handed and saves them as JPEG into a DZI layout. Run as a script:
``python benchmarks/_deepzoom_tile_baseline.py SLIDE OUT_DIR --workers 2``.
Prints one JSON line: the number of tiles written.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections.abc import Iterator
from pathlib import Path

import openslide
from openslide.deepzoom import DeepZoomGenerator

_worker_dz: DeepZoomGenerator | None = None
_worker_files: Path | None = None
_worker_quality = 75


def _init_worker(
    slide_path: str, tile_size_px: int, overlap_px: int, files_dir: str, quality: int
) -> None:
    global _worker_dz, _worker_files, _worker_quality
    _worker_dz = DeepZoomGenerator(
        openslide.OpenSlide(slide_path), tile_size=tile_size_px, overlap=overlap_px
    )
    _worker_files = Path(files_dir)
    _worker_quality = quality


def _write_tile(task: tuple[int, int, int]) -> int:
    level, col, row = task
    assert _worker_dz is not None and _worker_files is not None
    tile = _worker_dz.get_tile(level, (col, row))
    tile.save(_worker_files / str(level) / f"{col}_{row}.jpeg", quality=_worker_quality)
    return 1


def _tasks(dz: DeepZoomGenerator) -> Iterator[tuple[int, int, int]]:
    for level in range(dz.level_count):
        cols, rows = dz.level_tiles[level]
        for row in range(rows):
            for col in range(cols):
                yield level, col, row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("slide")
    parser.add_argument("out_dir")
    parser.add_argument("--name", default="slide")
    parser.add_argument("--tile-size", type=int, default=254)
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--quality", type=int, default=75)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    out_dir = Path(args.out_dir)
    files_dir = out_dir / f"{args.name}_files"
    with openslide.OpenSlide(args.slide) as slide:
        dz = DeepZoomGenerator(slide, tile_size=args.tile_size, overlap=args.overlap)
        for level in range(dz.level_count):
            (files_dir / str(level)).mkdir(parents=True, exist_ok=True)
        (out_dir / f"{args.name}.dzi").write_text(dz.get_dzi("jpeg"))
        tasks = list(_tasks(dz))

    # fork: workers start at once and share nothing but the arguments; each opens its own slide.
    context = multiprocessing.get_context("fork")
    init_args = (args.slide, args.tile_size, args.overlap, str(files_dir), args.quality)
    with context.Pool(args.workers, initializer=_init_worker, initargs=init_args) as pool:
        written = sum(pool.imap_unordered(_write_tile, tasks, chunksize=32))
    json.dump({"tiles": written}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
