"""One block task of a pyramid build: read, downsample level by level, write the tiles."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from tiling.box import Box
from tiling.downsample import halve
from tiling.encode import TileEncoder
from tiling.errors import PyramidBuildError
from tiling.pixels import RGBArray, paste
from tiling.plan import BlockId, BuildPlan
from tiling.render import read_halved
from tiling.sources import SlideSource, open_slide
from tiling.tile_files import write_batch, write_files
from tiling.tissue import BackgroundDetector

__all__ = [
    "BACKGROUND_MODES",
    "BackgroundMode",
    "BlockOutcome",
    "BuildContext",
    "close_cached_source",
    "open_cached_source",
    "run_block",
]

BackgroundMode = Literal["write", "skip", "share"]
BACKGROUND_MODES: tuple[str, ...] = ("write", "skip", "share")


@dataclass(frozen=True)
class BlockOutcome:
    """What one block task did; small, so it travels cheaply between dask workers."""

    block: BlockId
    tiles_written: int
    tiles_background: int
    bytes_written: int


@dataclass(frozen=True)
class BuildContext:
    """Everything a block task needs, picklable so it can run on a dask.distributed worker.

    Paths must be reachable from every worker (a shared file system on a cluster).
    """

    slide_path: str
    backend: str | None
    plan: BuildPlan
    encoder: TileEncoder
    background: BackgroundMode
    detector: BackgroundDetector
    background_rgb: tuple[int, int, int]
    files_dir: str
    cores_dir: str
    shared_dir: str

    def tile_path(self, level: int, column: int, row: int) -> str:
        """Where a tile goes in the Deep Zoom layout ``NAME_files/LEVEL/COL_ROW.EXT``."""
        return f"{self.files_dir}/{level}/{column}_{row}.{self.encoder.extension}"

    def core_path(self, block: BlockId) -> str:
        """Where a block leaves its lowest-level pixels for the next stage."""
        return f"{self.cores_dir}/{block[0]}_{block[1]}_{block[2]}.npy"


class _SourceCache:
    """Open slides kept per process: a dask worker runs many blocks of the same slide.

    Keyed by path, backend and modification time, so a replaced file is reopened; at most
    ``max_open`` slides stay open (least recently used closed first), so a long-lived worker
    that tiles thousands of slides does not collect file handles.
    """

    def __init__(self, max_open: int = 8) -> None:
        self._lock = threading.Lock()
        self._max_open = max_open
        self._sources: OrderedDict[tuple[str, str | None, int], SlideSource] = OrderedDict()

    def get(self, path: str, backend: str | None) -> SlideSource:
        key = (path, backend, os.stat(path).st_mtime_ns)
        evicted: list[SlideSource] = []
        with self._lock:
            source = self._sources.get(key)
            if source is None:
                source = open_slide(path, backend=backend, decode_threads=1)
                self._sources[key] = source
                while len(self._sources) > self._max_open:
                    evicted.append(self._sources.popitem(last=False)[1])
            self._sources.move_to_end(key)
        for old in evicted:
            old.close()
        return source

    def close(self, path: str) -> None:
        """Close every handle on ``path`` (other slides stay open for other builds)."""
        with self._lock:
            keys = [key for key in self._sources if key[0] == path]
            closing = [self._sources.pop(key) for key in keys]
        for source in closing:
            source.close()


# Module-level on purpose: tasks shipped to dask.distributed workers find it there. It holds
# nothing until a block runs, and builds close it when they finish.
_open_sources = _SourceCache()
_shared_lock = threading.Lock()


def open_cached_source(path: str, backend: str | None) -> SlideSource:
    """This process's open handle on ``path`` (reopened when the file changes)."""
    return _open_sources.get(path, backend)


def close_cached_source(path: str) -> None:
    """Close this process's handles on ``path`` once a build of it is over."""
    _open_sources.close(path)


def _read_source_region(context: BuildContext, block: BlockId) -> tuple[RGBArray, Box]:
    """The block's pixels (core and margin) at its stage's source level, and their box."""
    plan = context.plan
    z_read = plan.z_read_box(block)
    source_level = plan.stages[block[0]].source_level
    if block[0] == 0:
        source = open_cached_source(context.slide_path, context.backend)
        return read_halved(source, plan.geometry, source_level, z_read), z_read
    region = np.empty((z_read.height, z_read.width, 3), dtype=np.uint8)
    for input_block in plan.input_blocks(block):
        core = np.load(context.core_path(input_block))
        paste(region, z_read.origin, core, plan.z_core_box(input_block, source_level).origin)
    return region, z_read


class _TileWriter:
    """Encodes one block's tiles and has them written, handling background tiles as asked.

    Tiles are encoded on the block's own thread (the codecs release the GIL, and a build
    runs one block per core), then written in batches by this process's writer thread
    (``tiling.tile_files``), so a slow file creation does not stall the pixel work.
    """

    _BATCH_TILES = 16

    def __init__(self, context: BuildContext) -> None:
        self.context = context
        self.written = 0
        self.background = 0
        self.bytes = 0
        self._batch: list[tuple[str, bytes]] = []
        self._pending: list[tuple[list[tuple[str, bytes]], Future[int]]] = []

    def write(self, level: int, column: int, row: int, tile: RGBArray) -> None:
        context = self.context
        path = context.tile_path(level, column, row)
        if context.background != "write" and context.detector.is_background(tile):
            self.background += 1
            if context.background == "skip":
                _remove_if_present(path)
                return
            shared = self._shared_background(tile.shape[1], tile.shape[0])
            _remove_if_present(path)
            os.link(shared, path)
            self.written += 1
            return
        self._batch.append((path, context.encoder.encode(tile)))
        self.written += 1
        if len(self._batch) >= self._BATCH_TILES:
            self._flush()

    def finish(self) -> None:
        """Wait until every tile is on disk; the first failure is raised."""
        self._flush()
        pending, self._pending = self._pending, []
        # Batches the writer has not started are written here rather than waited for idle;
        # taken newest first, away from the one the writer is about to pick up.
        taken = [batch for batch, future in reversed(pending) if future.cancel()]
        for batch in reversed(taken):
            self.bytes += write_batch(batch)
        for _, future in pending:
            if not future.cancelled():
                self.bytes += future.result()

    def _flush(self) -> None:
        if self._batch:
            self._pending.append((self._batch, write_files(self._batch)))
            self._batch = []

    def _shared_background(self, width_px: int, height_px: int) -> str:
        context = self.context
        shared = f"{context.shared_dir}/{width_px}x{height_px}.{context.encoder.extension}"
        with _shared_lock:
            if not os.path.exists(shared):
                blank = np.empty((height_px, width_px, 3), dtype=np.uint8)
                blank[:] = context.background_rgb
                partial = f"{shared}.{os.getpid()}.partial"
                Path(partial).write_bytes(context.encoder.encode(blank))
                os.replace(partial, shared)
        return shared


def _remove_if_present(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def run_block(context: BuildContext, block: BlockId, *_dependencies: object) -> BlockOutcome:
    """Build one block: every tile it owns at every level it covers.

    ``_dependencies`` are the outcomes of the blocks this one reads; they only order the
    tasks in the dask graph (the pixels travel through the core files).
    """
    plan = context.plan
    stage = plan.stages[block[0]]
    geometry = plan.geometry
    try:
        pixels, z_pixels = _read_source_region(context, block)
        z_origin = z_pixels.origin
        writer = _TileWriter(context)
        for level in range(stage.source_level, stage.lowest_level - 1, -1):
            if level < stage.source_level:
                pixels = halve(pixels)
                z_origin = (z_origin[0] // 2, z_origin[1] // 2)
            if level not in stage.written_levels():
                continue
            for column, row in plan.block_tiles(block, level):
                # Slicing clips a box that an overlap wider than the last tile pushes past the
                # level's edge, as OpenSlide's DeepZoomGenerator clips what it reads.
                z_tile = geometry.tile_box(level, column, row)
                writer.write(level, column, row, pixels[z_tile.slices(z_origin)])
        writer.finish()
        if not stage.is_final:
            z_core = plan.z_core_box(block, stage.lowest_level)
            core = pixels[z_core.slices(z_origin)]
            partial = context.core_path(block) + ".partial.npy"
            np.save(partial, np.ascontiguousarray(core))
            os.replace(partial, context.core_path(block))
    except PyramidBuildError:
        raise
    except Exception as exc:
        raise PyramidBuildError(
            f"block {block} of {context.slide_path!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return BlockOutcome(block, writer.written, writer.background, writer.bytes)
