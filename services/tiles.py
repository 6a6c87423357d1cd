"""Deep Zoom tiles for the slide routes: from the pre-built pyramid, or rendered on the fly.

A slide whose pyramid has been built (``pyramid_paths``) is served from its files. Until then
tiles are rendered from the slide file exactly as ``tiling.pyramid`` renders them, so a tile
does not change when the pyramid appears: the full-resolution Deep Zoom level is read from
slide level 0 and every lower level is its 2x2 mean (``tiling.downsample.halve``), applied level
by level. Halving is local, so any aligned piece of a level can be computed on its own:

- a tile at most ``DIRECT_MAX_SHIFT`` levels below full resolution is rendered from the minimal
  full-resolution region under it (at most 4x4 tiles' worth of pixels);
- lower levels are cut into square *blocks* of ``BLOCK_PX`` pixels; a block is the halved
  mosaic of its (up to) 2x2 blocks one level up, and blocks are cached, so the low-resolution
  end of a slide is read once and then served from memory.

Everything here blocks (file reads, decoding, encoding): call it from worker threads, never
on the event loop. Open slides, rendered tiles and blocks are held in bounded caches; the
service closes every slide when the app stops.
"""

from __future__ import annotations

import hashlib
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from services.errors import ResourceNotFoundError
from services.settings import Settings
from services.slide_cache import (
    ByteLRU,
    CachedSlide,
    ExpiringCache,
    SingleFlight,
    SlideCache,
    slide_key,
)
from services.storage import PyramidPaths, pyramid_paths
from tiling.deepzoom import DZI_XMLNS, DeepZoomGeometry, TileNotFoundError, deepzoom_geometry
from tiling.downsample import halve
from tiling.encode import TileEncoder
from tiling.errors import SlideReadError
from tiling.manifest import MANIFEST_NAME, BuildManifest
from tiling.sources import RGBArray, SlideSource
from tiling.spec import TileSpec

__all__ = [
    "BLOCK_PX",
    "DIRECT_MAX_SHIFT",
    "PREBUILT_CACHE_CONTROL",
    "RENDERED_CACHE_CONTROL",
    "AssociatedImageNotFoundError",
    "SlideFacts",
    "TileResponse",
    "TileService",
]

BLOCK_PX = 512
"""Side of the cached square blocks that low-resolution tiles are cut from."""
DIRECT_MAX_SHIFT = 2
"""Tiles up to this many levels below full resolution are rendered from the slide directly."""
PREBUILT_CACHE_CONTROL = "private, max-age=31536000, immutable"
RENDERED_CACHE_CONTROL = "private, max-age=3600"
TILE_ACCESS_TTL_S = 30.0
"""How long a user's checked access to a slide is trusted for its tiles (not its descriptor)."""
MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_THUMBNAIL_READ_MAX_PX = 4096


class AssociatedImageNotFoundError(ResourceNotFoundError):
    """The slide has no associated image of that name (many scanners write no label)."""


@dataclass(frozen=True)
class TileResponse:
    """An encoded tile and the HTTP caching it deserves; ``data`` is None for a 304."""

    data: bytes | None
    media_type: str
    etag: str
    cache_control: str
    prebuilt: bool


@dataclass(frozen=True)
class SlideFacts:
    """What the metadata route shows about a slide file."""

    width_px: int
    height_px: int
    mpp_um: tuple[float, float] | None
    objective_power: float | None
    format_name: str
    vendor: str | None
    slide_levels: tuple[tuple[int, int], ...]
    associated_image_names: tuple[str, ...]
    tile_size_px: int
    overlap_px: int
    tile_format: str
    level_count: int
    prebuilt: bool


@dataclass(frozen=True)
class _Pyramid:
    """A published pre-built pyramid, as its descriptor and manifest describe it."""

    stamp: int
    dzi_xml: str
    tile_format: str
    geometry: DeepZoomGeometry
    spec: TileSpec | None


def _read_pyramid(paths: PyramidPaths, stamp: int) -> _Pyramid:
    try:
        text = paths.dzi.read_text(encoding="utf-8")
        image = ET.fromstring(text)
        size = image.find(f"{{{DZI_XMLNS}}}Size")
        if size is None:
            raise ValueError("no Size element")
        geometry = deepzoom_geometry(
            level_dimensions=[(int(size.attrib["Width"]), int(size.attrib["Height"]))],
            level_downsamples=[1.0],
            tile_size_px=int(image.attrib["TileSize"]),
            overlap_px=int(image.attrib["Overlap"]),
        )
        tile_format = image.attrib["Format"]
    except (OSError, ValueError, KeyError, ET.ParseError) as exc:
        raise SlideReadError(f"pyramid descriptor {str(paths.dzi)!r} is unreadable: {exc}") from exc
    manifest = BuildManifest.read(paths.files_dir / MANIFEST_NAME)
    spec = manifest.spec if manifest is not None else None
    return _Pyramid(stamp, text, tile_format, geometry, spec)


def _etag(*parts: object) -> str:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, or ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


_ADDRESS = re.compile(r"^(?P<col>[0-9]{1,9})_(?P<row>[0-9]{1,9})\.(?P<ext>[a-z]{1,8})$")


def parse_tile_address(address: str) -> tuple[int, int, str]:
    """``"COL_ROW.EXT"`` as (column, row, extension); anything else is not a tile (404)."""
    match = _ADDRESS.match(address)
    if match is None:
        raise ResourceNotFoundError(f"{address!r} is not a tile name (expected COL_ROW.EXT)")
    return int(match["col"]), int(match["row"]), match["ext"]


class TileService:
    """Tiles, descriptors, metadata and images of slides, for one running app."""

    def __init__(
        self,
        settings: Settings,
        *,
        spec: TileSpec | None = None,
        max_open_slides: int = 16,
        block_px: int = BLOCK_PX,
        direct_max_shift: int = DIRECT_MAX_SHIFT,
    ) -> None:
        if block_px < 1 or direct_max_shift < 0:
            raise ValueError(f"block size {block_px} px and shift {direct_max_shift} are invalid")
        self.settings = settings
        self.block_px = block_px
        self.direct_max_shift = direct_max_shift
        self.spec = spec or TileSpec()
        cache_bytes = settings.tile_cache_mb * 1024 * 1024
        # Encoded tiles are small and many; blocks are few and large: half the budget each.
        self._tiles: ByteLRU[Hashable, bytes] = ByteLRU(cache_bytes // 2)
        self._blocks: ByteLRU[Hashable, RGBArray] = ByteLRU(cache_bytes - cache_bytes // 2)
        self._block_flight: SingleFlight[Hashable, RGBArray] = SingleFlight()
        self._slides = SlideCache(max_open_slides)
        self._pyramids: dict[int, _Pyramid] = {}
        # (user id, slide id) -> the slide file, for users whose access was just checked: a
        # viewer fetches hundreds of tiles a minute, and each need not ask the database again.
        # Values are 1-tuples: a slide not scanned yet has no file (None), which is no miss.
        self.tile_access: ExpiringCache[tuple[int, int], tuple[Path | None]] = ExpiringCache(
            TILE_ACCESS_TTL_S, max_items=100_000
        )
        self._pyramid_lock = threading.Lock()

    def close(self) -> None:
        """Close every open slide and drop the caches."""
        self._slides.close()
        self.tile_access.clear()
        self._tiles.clear()
        self._blocks.clear()

    # --- Pre-built pyramids -------------------------------------------------------------

    def pyramid(self, slide_id: int) -> _Pyramid | None:
        """The slide's published pyramid, or None while there is none."""
        paths = pyramid_paths(self.settings, slide_id)
        try:
            stamp = paths.dzi.stat().st_mtime_ns
        except FileNotFoundError:
            with self._pyramid_lock:
                self._pyramids.pop(slide_id, None)
            return None
        with self._pyramid_lock:
            known = self._pyramids.get(slide_id)
        if known is not None and known.stamp == stamp:
            return known
        pyramid = _read_pyramid(paths, stamp)
        with self._pyramid_lock:
            self._pyramids[slide_id] = pyramid
        return pyramid

    # --- What the routes ask for --------------------------------------------------------

    def descriptor(self, slide_id: int, slide_file: Path | None) -> str:
        """The ``.dzi`` XML: the pyramid's, or the one the pyramid will have."""
        pyramid = self.pyramid(slide_id)
        if pyramid is not None:
            return pyramid.dzi_xml
        spec = self.spec
        with self._slides.lease(_require(slide_id, slide_file), spec.backend) as opened:
            return _geometry(opened, spec).dzi_xml(spec.tile_format)

    def tile(
        self,
        slide_id: int,
        slide_file: Path | None,
        level: int,
        column: int,
        row: int,
        extension: str,
        *,
        if_none_match: str | None = None,
    ) -> TileResponse:
        """One tile by its Deep Zoom address; ``data`` is None when ``if_none_match`` matches."""
        pyramid = self.pyramid(slide_id)
        if pyramid is not None:
            _check_address(pyramid.geometry, level, column, row)
            _check_extension(pyramid.tile_format, extension)
            path = pyramid_paths(self.settings, slide_id).files_dir / str(level)
            path = path / f"{column}_{row}.{pyramid.tile_format}"
            etag = _etag("pyramid", slide_id, pyramid.stamp, level, column, row)
            media_type = MEDIA_TYPES.get(pyramid.tile_format, "application/octet-stream")
            if etag_matches(if_none_match, etag):
                return TileResponse(None, media_type, etag, PREBUILT_CACHE_CONTROL, True)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                # A background tile the build skipped: render it, with the pyramid's options.
                return self._rendered(
                    slide_id, slide_file, pyramid.spec or self.spec, level, column, row,
                    extension, if_none_match,
                )  # fmt: skip
            return TileResponse(data, media_type, etag, PREBUILT_CACHE_CONTROL, True)
        return self._rendered(
            slide_id, slide_file, self.spec, level, column, row, extension, if_none_match
        )

    def facts(self, slide_id: int, slide_file: Path | None) -> SlideFacts:
        """Size, resolution, format and associated images of the slide, and its tiling."""
        pyramid = self.pyramid(slide_id)
        spec = self.spec
        with self._slides.lease(_require(slide_id, slide_file), spec.backend) as opened:
            source = opened.source
            geometry = pyramid.geometry if pyramid is not None else _geometry(opened, spec)
            width, height = source.dimensions
            return SlideFacts(
                width_px=width,
                height_px=height,
                mpp_um=source.mpp,
                objective_power=source.objective_power,
                format_name=source.format_name,
                vendor=source.properties.get("openslide.vendor") or source.format_name,
                slide_levels=source.level_dimensions,
                associated_image_names=source.associated_image_names,
                tile_size_px=geometry.tile_size_px,
                overlap_px=geometry.overlap_px,
                tile_format=pyramid.tile_format if pyramid is not None else spec.tile_format,
                level_count=geometry.level_count,
                prebuilt=pyramid is not None,
            )

    def thumbnail(self, slide_id: int, slide_file: Path | None, max_px: int) -> bytes:
        """A JPEG of the whole slide whose longer side is at most ``max_px``."""
        with self._slides.lease(_require(slide_id, slide_file), self.spec.backend) as opened:
            source = opened.source
            width, height = source.dimensions
            scale = max_px / max(width, height)
            downsample = 1 / scale if scale < 1 else 1.0
            level = source.get_best_level_for_downsample(downsample)
            l_width, l_height = source.level_dimensions[level]
            if max(l_width, l_height) <= _THUMBNAIL_READ_MAX_PX:
                pixels = source.read_region((0, 0), level, (l_width, l_height))
            else:
                pixels = self._whole_level_under(opened, max(max_px, 1))
        return _encode_jpeg(_fit(pixels, max_px))

    def associated(self, slide_id: int, slide_file: Path | None, name: str) -> bytes:
        """An associated image (``label``, ``macro``) as JPEG; 404 when the slide has none."""
        with self._slides.lease(_require(slide_id, slide_file), self.spec.backend) as opened:
            if name not in opened.source.associated_image_names:
                raise AssociatedImageNotFoundError(f"slide {slide_id} has no {name} image")
            pixels = opened.source.associated_image(name)
        return _encode_jpeg(pixels)

    # --- Rendering ----------------------------------------------------------------------

    def render_tile(
        self, slide_file: Path, spec: TileSpec, level: int, column: int, row: int
    ) -> bytes:
        """The encoded tile at an address, exactly as ``build_pyramid`` with ``spec`` writes it."""
        with self._slides.lease(slide_file, spec.backend) as opened:
            key = (opened.key, spec, level, column, row)
            cached = self._tiles.get(key)
            if cached is not None:
                return cached
            geometry = _geometry(opened, spec)
            _check_address(geometry, level, column, row)
            data = spec.encoder.encode(self._tile_pixels(opened, geometry, level, column, row))
        self._tiles.put(key, data, len(data))
        return data

    def _rendered(
        self,
        slide_id: int,
        slide_file: Path | None,
        spec: TileSpec,
        level: int,
        column: int,
        row: int,
        extension: str,
        if_none_match: str | None,
    ) -> TileResponse:
        path = _require(slide_id, slide_file)
        _check_extension(spec.tile_format, extension)
        etag = _etag("rendered", slide_id, slide_key(path, spec.backend), spec, level, column, row)
        media_type = MEDIA_TYPES[spec.tile_format]
        if etag_matches(if_none_match, etag):
            return TileResponse(None, media_type, etag, RENDERED_CACHE_CONTROL, False)
        data = self.render_tile(path, spec, level, column, row)
        return TileResponse(data, media_type, etag, RENDERED_CACHE_CONTROL, False)

    def _tile_pixels(
        self, opened: CachedSlide, geometry: DeepZoomGeometry, level: int, column: int, row: int
    ) -> RGBArray:
        z_x, z_y, z_width, z_height = geometry.tile_box(level, column, row)
        level_width, level_height = geometry.z_dimensions[level]
        # An overlap wider than the last tile can reach past the level: clip, as the builder.
        box = (z_x, z_y, min(z_x + z_width, level_width), min(z_y + z_height, level_height))
        if geometry.level_count - 1 - level <= self.direct_max_shift:
            return _read_halved(opened.source, geometry, level, box)
        return self._from_blocks(opened, geometry, level, box)

    def _from_blocks(
        self,
        opened: CachedSlide,
        geometry: DeepZoomGeometry,
        level: int,
        box: tuple[int, int, int, int],
    ) -> RGBArray:
        """The pixels of ``box`` (x0, y0, x1, y1) at ``level``, cut from cached blocks."""
        x0, y0, x1, y1 = box
        b_cols = range(x0 // self.block_px, (x1 - 1) // self.block_px + 1)
        b_rows = range(y0 // self.block_px, (y1 - 1) // self.block_px + 1)
        if len(b_cols) == 1 and len(b_rows) == 1:
            block = self._block(opened, geometry, level, b_cols[0], b_rows[0])
            o_x, o_y = b_cols[0] * self.block_px, b_rows[0] * self.block_px
            return block[y0 - o_y : y1 - o_y, x0 - o_x : x1 - o_x]
        out = np.empty((y1 - y0, x1 - x0, 3), dtype=np.uint8)
        for b_row in b_rows:
            for b_col in b_cols:
                block = self._block(opened, geometry, level, b_col, b_row)
                _paste(out, (x0, y0), block, (b_col * self.block_px, b_row * self.block_px))
        return out

    def _block(
        self, opened: CachedSlide, geometry: DeepZoomGeometry, level: int, b_col: int, b_row: int
    ) -> RGBArray:
        """Block (``b_col``, ``b_row``) of ``level``: ``block_px`` square, clipped to the level.

        Only used more than ``direct_max_shift`` levels below full resolution. The pixels do
        not depend on the tile size or format, so every spec over the same slide shares them.
        """
        key = (opened.key, geometry.l0_offset, geometry.l0_dimensions, level, b_col, b_row)
        cached = self._blocks.get(key)
        if cached is not None:
            return cached

        def compute() -> RGBArray:
            again = self._blocks.get(key)
            if again is not None:
                return again
            pixels = self._compute_block(opened, geometry, level, b_col, b_row)
            pixels.flags.writeable = False
            self._blocks.put(key, pixels, pixels.nbytes)
            return pixels

        return self._block_flight.run(key, compute)

    def _compute_block(
        self, opened: CachedSlide, geometry: DeepZoomGeometry, level: int, b_col: int, b_row: int
    ) -> RGBArray:
        level_width, level_height = geometry.z_dimensions[level]
        x0, y0 = b_col * self.block_px, b_row * self.block_px
        x1, y1 = min(x0 + self.block_px, level_width), min(y0 + self.block_px, level_height)
        shift = geometry.level_count - 1 - level
        if shift <= self.direct_max_shift:
            # Near full resolution: read and halve (only the children of the first cached level
            # come here, once each, so they are not cached themselves).
            return _read_halved(opened.source, geometry, level, (x0, y0, x1, y1))
        # The 2x2 blocks one level up, as one mosaic, halved: exactly this block's pixels,
        # since block origins are even and only the level's own edge is odd.
        up_width, up_height = geometry.z_dimensions[level + 1]
        u_x1, u_y1 = min(2 * x1, up_width), min(2 * y1, up_height)
        mosaic = np.empty((u_y1 - 2 * y0, u_x1 - 2 * x0, 3), dtype=np.uint8)
        for up_row in range(2 * b_row, (u_y1 - 1) // self.block_px + 1):
            for up_col in range(2 * b_col, (u_x1 - 1) // self.block_px + 1):
                if shift - 1 <= self.direct_max_shift:
                    block = self._compute_block(opened, geometry, level + 1, up_col, up_row)
                else:
                    block = self._block(opened, geometry, level + 1, up_col, up_row)
                _paste(
                    mosaic,
                    (2 * x0, 2 * y0),
                    block,
                    (up_col * self.block_px, up_row * self.block_px),
                )
        pixels = halve(mosaic)
        if pixels.shape[:2] != (y1 - y0, x1 - x0):  # pragma: no cover - geometry invariant
            raise SlideReadError(f"block {b_col},{b_row} of level {level} came out wrong")
        return pixels

    def _whole_level_under(self, opened: CachedSlide, max_px: int) -> RGBArray:
        """The largest Deep Zoom level no wider or taller than ``max_px``, from blocks."""
        geometry = opened.geometry(
            self.spec.tile_size_px, self.spec.overlap_px, self.spec.limit_bounds
        )
        level = max(lvl for lvl, (w, h) in enumerate(geometry.z_dimensions) if max(w, h) <= max_px)
        width, height = geometry.z_dimensions[level]
        if geometry.level_count - 1 - level <= self.direct_max_shift:
            return _read_halved(opened.source, geometry, level, (0, 0, width, height))
        return self._from_blocks(opened, geometry, level, (0, 0, width, height))


def _geometry(opened: CachedSlide, spec: TileSpec) -> DeepZoomGeometry:
    return opened.geometry(spec.tile_size_px, spec.overlap_px, spec.limit_bounds)


def _require(slide_id: int, slide_file: Path | None) -> Path:
    if slide_file is None:
        raise ResourceNotFoundError(f"slide {slide_id} has not been scanned yet: no image")
    return slide_file


def _check_address(geometry: DeepZoomGeometry, level: int, column: int, row: int) -> None:
    try:
        geometry.tile_box(level, column, row)
    except TileNotFoundError as exc:
        raise ResourceNotFoundError(str(exc)) from None


def _check_extension(tile_format: str, extension: str) -> None:
    if extension != tile_format:
        raise ResourceNotFoundError(
            f"this slide's tiles are .{tile_format}, there are no .{extension} tiles"
        )


def _read_halved(
    source: SlideSource, geometry: DeepZoomGeometry, level: int, box: tuple[int, int, int, int]
) -> RGBArray:
    """``box`` (x0, y0, x1, y1) of Deep Zoom ``level``: the full-resolution region under it,
    halved once per level, as the pyramid builder makes it."""
    x0, y0, x1, y1 = box
    shift = geometry.level_count - 1 - level
    full_width, full_height = geometry.l0_dimensions
    # Aligned to 2**shift, ending there or at the level's edge: halving it gives the same
    # pixels as halving the whole level.
    l0_x0, l0_y0 = x0 << shift, y0 << shift
    l0_x1, l0_y1 = min(x1 << shift, full_width), min(y1 << shift, full_height)
    offset_x, offset_y = geometry.l0_offset
    pixels = source.read_region(
        (offset_x + l0_x0, offset_y + l0_y0), 0, (l0_x1 - l0_x0, l0_y1 - l0_y0)
    )
    for _ in range(shift):
        pixels = halve(pixels)
    return pixels


def _paste(
    out: RGBArray, out_origin: tuple[int, int], part: RGBArray, part_origin: tuple[int, int]
) -> None:
    """Copy the overlap of ``part`` into ``out``; origins are in the same level's pixels."""
    o_x, o_y = out_origin
    p_x, p_y = part_origin
    x0, y0 = max(o_x, p_x), max(o_y, p_y)
    x1 = min(o_x + out.shape[1], p_x + part.shape[1])
    y1 = min(o_y + out.shape[0], p_y + part.shape[0])
    if x0 < x1 and y0 < y1:
        target = out[y0 - o_y : y1 - o_y, x0 - o_x : x1 - o_x]
        target[...] = part[y0 - p_y : y1 - p_y, x0 - p_x : x1 - p_x]


def _fit(pixels: RGBArray, max_px: int) -> RGBArray:
    height, width = pixels.shape[:2]
    scale = max_px / max(width, height)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(
        cv2.resize(np.ascontiguousarray(pixels), size, interpolation=cv2.INTER_AREA), np.uint8
    )


def _encode_jpeg(pixels: RGBArray) -> bytes:
    return TileEncoder("jpeg", 85).encode(np.ascontiguousarray(pixels))
