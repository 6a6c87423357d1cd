"""What a Deep Zoom pyramid *is*: the one specification of its tiles.

A ``TileSpec`` says how a slide is cut into tiles (size, overlap, whether only the non-empty
bounds are tiled), how the tiles are encoded (format, quality) and which backend reads the
slide. The builder (``tiling.pyramid.PyramidOptions``), the build manifest that makes a
build resumable (``tiling.manifest.BuildManifest``) and the tile server all embed this one
object, so a tile rendered on the fly and a tile written by the builder agree by construction.

How a build *runs* (worker threads, a cluster, an archive afterwards) is no part of it: see
``tiling.pyramid.BuildRun``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tiling.deepzoom import DeepZoomGeometry, deepzoom_geometry
from tiling.encode import TileEncoder, TileFormat
from tiling.sources import SlideSource, backend_names

__all__ = ["TileSpec"]


@dataclass(frozen=True)
class TileSpec:
    """How tiles are cut and encoded. The defaults are those of OpenSlide's Deep Zoom tools.

    ``backend`` forces a slide reader (``None``: the registry picks one by sniffing the file).
    Invalid values raise ``ValueError`` naming the value.
    """

    tile_size_px: int = 254
    overlap_px: int = 1
    tile_format: TileFormat = "jpeg"
    quality: int = 75
    limit_bounds: bool = False
    backend: str | None = None

    def __post_init__(self) -> None:
        if self.tile_size_px < 1:
            raise ValueError(f"tile size must be at least 1 px, not {self.tile_size_px}")
        if not 0 <= self.overlap_px < self.tile_size_px:
            raise ValueError(
                f"overlap must be at least 0 and less than the tile size "
                f"({self.tile_size_px} px), not {self.overlap_px}"
            )
        if self.backend is not None and self.backend not in backend_names():
            raise ValueError(
                f"slide reader {self.backend!r} is not one of {', '.join(backend_names())}"
            )
        self.encoder  # noqa: B018  # validates format and quality

    @property
    def encoder(self) -> TileEncoder:
        """The encoder for tiles of this spec."""
        return TileEncoder(self.tile_format, self.quality)

    def geometry(self, source: SlideSource) -> DeepZoomGeometry:
        """The Deep Zoom geometry of ``source`` cut by this spec (OpenSlide's tile grid)."""
        return deepzoom_geometry(
            level_dimensions=source.level_dimensions,
            level_downsamples=source.level_downsamples,
            tile_size_px=self.tile_size_px,
            overlap_px=self.overlap_px,
            limit_bounds=self.limit_bounds,
            bounds=source.bounds,
        )

    def to_json(self) -> dict[str, Any]:
        """The spec as a JSON object (for the build manifest)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TileSpec:
        """A spec from ``to_json``'s object; ``ValueError``/``TypeError`` when it is not one."""
        return cls(**data)
