"""Planning a pyramid build: which tasks read what and write which tiles, from geometry alone.

The builder reads the full-resolution Deep Zoom level in square *blocks* of
``tile_size_px * 2**levels_per_block`` pixels. Each block task downsamples its pixels 2x2 at a
time through ``levels_per_block`` levels and writes the tiles of each; the Deep Zoom tile grids
nest exactly (a block holds ``2**j`` x ``2**j`` tiles ``j`` levels down), so no tile is shared by
two blocks. To give the edge tiles their overlap, a block reads a margin of
``overlap_px * 2**levels_per_block`` pixels around its core; margins are multiples of
``2**levels_per_block``, so downsampled margins agree exactly with the neighbours' pixels.

What is left after one *stage* (the blocks' cores ``levels_per_block`` levels down, one tile
each) is the source of the next stage, which repeats the same scheme, until a level fits in a
single block, which then finishes every level down to 1x1. Memory per task is bounded by the
block size; nothing holds a whole level.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from tiling.box import Box
from tiling.deepzoom import DeepZoomGeometry

__all__ = ["BlockId", "BuildPlan", "Stage", "plan_build"]

BlockId = tuple[int, int, int]
"""(stage index, block column, block row)."""


@dataclass(frozen=True)
class Stage:
    """One pass over a Deep Zoom level cut into blocks."""

    index: int
    source_level: int
    lowest_level: int
    writes_source_level: bool
    block_size_px: int
    margin_px: int
    z_size: tuple[int, int]
    blocks: tuple[int, int]

    @property
    def is_final(self) -> bool:
        """The last stage is a single block that finishes the pyramid down to level 0."""
        return self.lowest_level == 0

    def written_levels(self) -> range:
        """The Deep Zoom levels this stage writes tiles for, highest first."""
        top = self.source_level if self.writes_source_level else self.source_level - 1
        return range(top, self.lowest_level - 1, -1)

    def block_ids(self) -> Iterator[BlockId]:
        """Every block of this stage, row by row."""
        for b_row in range(self.blocks[1]):
            for b_col in range(self.blocks[0]):
                yield (self.index, b_col, b_row)


@dataclass(frozen=True)
class BuildPlan:
    """The stages and blocks of one pyramid build."""

    geometry: DeepZoomGeometry
    levels_per_block: int
    stages: tuple[Stage, ...]

    @property
    def block_count(self) -> int:
        """Number of block tasks in the whole build."""
        return sum(s.blocks[0] * s.blocks[1] for s in self.stages)

    def block_ids(self) -> Iterator[BlockId]:
        """Every block of every stage, in stage order."""
        for stage in self.stages:
            yield from stage.block_ids()

    def z_core_box(self, block: BlockId, level: int) -> Box:
        """A block's own pixels at Deep Zoom ``level``, clipped to the level."""
        stage = self.stages[block[0]]
        shift = stage.source_level - level
        z_width, z_height = self.geometry.z_dimensions[level]
        if stage.is_final:
            return Box(0, 0, z_width, z_height)
        z_span = stage.block_size_px >> shift
        return Box(block[1] * z_span, block[2] * z_span, z_span, z_span).clip(z_width, z_height)

    def z_read_box(self, block: BlockId) -> Box:
        """What a block reads at its stage's source level: core plus margin, within the level."""
        stage = self.stages[block[0]]
        z_core = self.z_core_box(block, stage.source_level)
        z_width, z_height = stage.z_size
        margin = stage.margin_px
        return Box.from_corners(
            max(0, z_core.x - margin),
            max(0, z_core.y - margin),
            min(z_width, z_core.x1 + margin),
            min(z_height, z_core.y1 + margin),
        )

    def block_tiles(self, block: BlockId, level: int) -> Iterator[tuple[int, int]]:
        """The (column, row) of every tile at ``level`` that ``block`` writes."""
        z_core = self.z_core_box(block, level)
        tile = self.geometry.tile_size_px
        t_columns, t_rows = self.geometry.t_dimensions[level]
        if z_core.is_empty:
            return
        for t_row in range(z_core.y // tile, min(t_rows, math.ceil(z_core.y1 / tile))):
            for t_col in range(z_core.x // tile, min(t_columns, math.ceil(z_core.x1 / tile))):
                yield (t_col, t_row)

    def block_tile_count(self, block: BlockId) -> int:
        """How many tiles ``block`` writes, over all its levels."""
        stage = self.stages[block[0]]
        return sum(
            sum(1 for _ in self.block_tiles(block, level)) for level in stage.written_levels()
        )

    def input_blocks(self, block: BlockId) -> list[BlockId]:
        """The previous stage's blocks whose cores ``block`` reads (none for the first stage)."""
        stage_index = block[0]
        if stage_index == 0:
            return []
        previous = self.stages[stage_index - 1]
        # The previous stage's cores are one tile each at this stage's source level.
        tile = self.geometry.tile_size_px
        z_read = self.z_read_box(block)
        b_cols = range(z_read.x // tile, min(previous.blocks[0], math.ceil(z_read.x1 / tile)))
        b_rows = range(z_read.y // tile, min(previous.blocks[1], math.ceil(z_read.y1 / tile)))
        return [(stage_index - 1, b_col, b_row) for b_row in b_rows for b_col in b_cols]


def plan_build(geometry: DeepZoomGeometry, *, levels_per_block: int = 3) -> BuildPlan:
    """Cut a pyramid build into stages of blocks (see the module docstring)."""
    if levels_per_block < 1:
        raise ValueError(f"levels_per_block must be at least 1, not {levels_per_block}")
    block_size_px = geometry.tile_size_px << levels_per_block
    margin_px = geometry.overlap_px << levels_per_block
    stages: list[Stage] = []
    source_level = geometry.level_count - 1
    while True:
        z_width, z_height = geometry.z_dimensions[source_level]
        blocks = (math.ceil(z_width / block_size_px), math.ceil(z_height / block_size_px))
        final = blocks == (1, 1)
        stages.append(
            Stage(
                index=len(stages),
                source_level=source_level,
                lowest_level=0 if final else source_level - levels_per_block,
                writes_source_level=not stages,
                block_size_px=block_size_px,
                margin_px=margin_px,
                z_size=(z_width, z_height),
                blocks=blocks,
            )
        )
        if final:
            return BuildPlan(geometry, levels_per_block, tuple(stages))
        source_level -= levels_per_block
