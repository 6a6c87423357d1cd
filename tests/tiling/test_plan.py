"""Build plans: every tile belongs to exactly one block, and blocks read what they need."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tiling.deepzoom import deepzoom_geometry
from tiling.plan import plan_build


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(1, 20_000),
    height=st.integers(1, 20_000),
    tile_size_px=st.sampled_from([1, 7, 64, 254, 256, 510]),
    overlap_px=st.integers(0, 4),
    levels_per_block=st.integers(1, 4),
)
def test_every_tile_is_written_by_exactly_one_block(
    width: int, height: int, tile_size_px: int, overlap_px: int, levels_per_block: int
) -> None:
    geometry = deepzoom_geometry(
        level_dimensions=[(width, height)],
        level_downsamples=[1.0],
        tile_size_px=tile_size_px,
        overlap_px=overlap_px,
    )
    if geometry.tile_count > 60_000 or overlap_px >= tile_size_px:
        return  # too slow to enumerate / refused by PyramidOptions
    plan = plan_build(geometry, levels_per_block=levels_per_block)
    owners: Counter[tuple[int, int, int]] = Counter()
    for block in plan.block_ids():
        stage = plan.stages[block[0]]
        for level in stage.written_levels():
            for column, row in plan.block_tiles(block, level):
                owners[(level, column, row)] += 1
                # The tile with its overlap lies inside what the block holds at that level.
                # An overlap wider than the last tile may reach past the level's edge; the
                # builder fills that with background, like OpenSlide's transparent pixels.
                z_tile = geometry.tile_box(level, column, row).clip(*geometry.z_dimensions[level])
                shift = stage.source_level - level
                z_read = plan.z_read_box(block)
                assert z_read.x >> shift <= z_tile.x
                assert z_read.y >> shift <= z_tile.y
                assert z_tile.x1 <= -(-z_read.x1 // (1 << shift))
                assert z_tile.y1 <= -(-z_read.y1 // (1 << shift))
    expected = {
        (level, column, row)
        for level in range(geometry.level_count)
        for column, row in geometry.tiles(level)
    }
    assert set(owners) == expected
    assert set(owners.values()) == {1}
    assert plan.stages[-1].is_final
    assert sum(plan.block_tile_count(b) for b in plan.block_ids()) == geometry.tile_count


def test_stages_chain_levels_and_inputs() -> None:
    geometry = deepzoom_geometry(
        level_dimensions=[(50_000, 40_000)], level_downsamples=[1.0], tile_size_px=254
    )
    plan = plan_build(geometry, levels_per_block=3)
    assert [s.source_level for s in plan.stages] == [16, 13, 10]
    assert [s.blocks for s in plan.stages] == [(25, 20), (4, 3), (1, 1)]
    # A second-stage block reads its 8 x 8 first-stage blocks plus a ring for the margin.
    assert len(plan.input_blocks((1, 1, 1))) == 10 * 10
    assert plan.input_blocks((0, 3, 3)) == []
