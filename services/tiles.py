"""Deep Zoom tiles for the slide routes: from the pre-built pyramid, or rendered on the fly.

A slide whose pyramid has been built (``pyramid_paths``) is served from its files. Until then
tiles are rendered from the slide file by ``tiling.render.TileRenderer``, exactly as
``tiling.pyramid`` renders them, so a tile does not change when the pyramid appears. This module
adds what HTTP needs: tile addresses, ETags and Cache-Control, the pyramid descriptor, and
bounded caches of open slides, encoded tiles and rendered blocks. With a tile cache URL
(``COUPE_TILE_CACHE_URL``) tiles rendered on the fly are shared with the other API processes
through Redis (``services.shared_tile_cache``): a tile is looked for in this process's cache,
then in Redis, and only then rendered.

Everything here blocks (file reads, decoding, encoding): call it from worker threads, never
on the event loop. The service closes every slide when the app stops.
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
from services.shared_tile_cache import SharedTileCache
from services.slide_cache import CachedSlide, SlideCache, SlideKey, slide_key
from services.storage import PyramidPaths, pyramid_paths
from tiling.caches import ByteLRU, SingleFlight
from tiling.deepzoom import DZI_XMLNS, DeepZoomGeometry, TileNotFoundError, deepzoom_geometry
from tiling.encode import TileEncoder
from tiling.errors import SlideReadError
from tiling.manifest import MANIFEST_NAME, BuildManifest
from tiling.pixels import RGBArray
from tiling.render import BLOCK_PX, DIRECT_MAX_SHIFT, TileRenderer
from tiling.spec import TileSpec

__all__ = [
    "PREBUILT_CACHE_CONTROL",
    "RENDERED_CACHE_CONTROL",
    "AssociatedImageNotFoundError",
    "SlideFacts",
    "TileResponse",
    "TileService",
    "etag_matches",
    "parse_tile_address",
]

PREBUILT_CACHE_CONTROL = "private, max-age=31536000, immutable"
RENDERED_CACHE_CONTROL = "private, max-age=3600"
MEDIA_TYPES: dict[str, str] = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_THUMBNAIL_READ_MAX_PX = 4096


class AssociatedImageNotFoundError(ResourceNotFoundError):
    """The slide has no associated image of that name (many scanners write no label)."""


@dataclass(frozen=True)
class TileResponse:
    """An encoded tile and the HTTP caching it deserves; ``data`` is None for a 304.

    ``source`` says where the bytes came from, for the metrics: ``"prebuilt"`` (a pyramid
    file), ``"rendered"`` (rendered on the fly for this request) or ``"cache"`` (rendered
    earlier, by this process or, with a shared tile cache, another).
    """

    data: bytes | None
    media_type: str
    etag: str
    cache_control: str
    prebuilt: bool
    source: str = "prebuilt"


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
    """Tiles, descriptors, metadata and images of slides, for one running app.

    ``shared_cache`` is the tile cache shared with other processes (default: one on
    ``settings.tile_cache_url`` when set); the service closes it with itself.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        spec: TileSpec | None = None,
        max_open_slides: int = 16,
        block_px: int = BLOCK_PX,
        direct_max_shift: int = DIRECT_MAX_SHIFT,
        shared_cache: SharedTileCache | None = None,
    ) -> None:
        self.settings = settings
        self.spec = spec or TileSpec()
        cache_bytes = settings.tile_cache_mb * 1024 * 1024
        # Encoded tiles are small and many; blocks are few and large: half the budget each.
        self._tiles: ByteLRU[Hashable, bytes] = ByteLRU(cache_bytes // 2)
        self._blocks: ByteLRU[Hashable, RGBArray] = ByteLRU(cache_bytes - cache_bytes // 2)
        self.renderer = TileRenderer(
            self._blocks, SingleFlight(), block_px=block_px, direct_max_shift=direct_max_shift
        )
        self._slides = SlideCache(max_open_slides)
        self._pyramids: dict[int, _Pyramid] = {}
        self._pyramid_lock = threading.Lock()
        if shared_cache is None and settings.tile_cache_url is not None:
            shared_cache = SharedTileCache(settings.tile_cache_url)
        self.shared_cache = shared_cache
        self._rendered_count = 0
        self._count_lock = threading.Lock()

    @property
    def tiles_rendered(self) -> int:
        """How many tiles this service has rendered (not found in a cache) since it started."""
        return self._rendered_count

    def close(self) -> None:
        """Close every open slide, drop the caches and close the shared cache's connections."""
        self._slides.close()
        self._tiles.clear()
        self._blocks.clear()
        if self.shared_cache is not None:
            self.shared_cache.close()

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
        """A JPEG of the whole slide whose longer side is at most ``max_px``.

        Kept in the tile cache under the slide file's identity (a changed file is a new key):
        the case page's strip asks for every slide's thumbnail, and making one reads a whole
        level (~0.1 s), as long as several tiles of the first view take to serve.
        """
        with self._slides.lease(_require(slide_id, slide_file), self.spec.backend) as opened:
            key = (opened.key, "thumbnail", max_px)
            cached = self._tiles.get(key)
            if cached is not None:
                return cached
            data = _encode_jpeg(_fit(self._thumbnail_pixels(opened, max_px), max_px))
        self._tiles.put(key, data, len(data))
        return data

    def _thumbnail_pixels(self, opened: CachedSlide, max_px: int) -> RGBArray:
        """The whole slide's pixels from its smallest level (or Deep Zoom level) near
        ``max_px``: what the thumbnail is reduced from."""
        source = opened.source
        width, height = source.dimensions
        scale = max_px / max(width, height)
        downsample = 1 / scale if scale < 1 else 1.0
        level = source.get_best_level_for_downsample(downsample)
        l_width, l_height = source.level_dimensions[level]
        if max(l_width, l_height) <= _THUMBNAIL_READ_MAX_PX:
            pixels = source.read_region((0, 0), level, (l_width, l_height))
        else:
            # The largest Deep Zoom level no wider or taller than max_px, from blocks.
            geometry = _geometry(opened, self.spec)
            z_level = max(
                z_level
                for z_level, (z_width, z_height) in enumerate(geometry.z_dimensions)
                if max(z_width, z_height) <= max(max_px, 1)
            )
            pixels = self.renderer.level(source, opened.key, geometry, z_level)
        return pixels

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
        return self._render_tile(slide_file, spec, level, column, row)[0]

    def _render_tile(
        self, slide_file: Path, spec: TileSpec, level: int, column: int, row: int
    ) -> tuple[bytes, str]:
        """The encoded tile and its source: ``"cache"`` or ``"rendered"`` (now)."""
        # A cached tile needs no open slide: its file's identity (a stat) finds it.
        slide = slide_key(slide_file, spec.backend)
        cached = self._cached_tile(slide, spec, level, column, row)
        if cached is not None:
            return cached, "cache"
        with self._slides.lease(slide_file, spec.backend) as opened:
            slide = opened.key  # the file as opened, should it have changed since
            geometry = _geometry(opened, spec)
            _check_address(geometry, level, column, row)

            def render() -> bytes:
                pixels = self.renderer.tile(opened.source, slide, geometry, level, column, row)
                with self._count_lock:
                    self._rendered_count += 1
                return spec.encoder.encode(pixels)

            if self.shared_cache is None:
                data, rendered = render(), True
            else:
                shared_key = self.shared_cache.key(slide, spec, level, column, row)
                data, rendered = self.shared_cache.render_once(shared_key, render)
        self._tiles.put((slide, spec, level, column, row), data, len(data))
        return data, "rendered" if rendered else "cache"

    def _cached_tile(
        self, slide: SlideKey, spec: TileSpec, level: int, column: int, row: int
    ) -> bytes | None:
        """The tile from this process's cache, else from the shared one (kept here too)."""
        key = (slide, spec, level, column, row)
        data = self._tiles.get(key)
        if data is not None or self.shared_cache is None:
            return data
        data = self.shared_cache.get(self.shared_cache.key(slide, spec, level, column, row))
        if data is not None:
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
            return TileResponse(None, media_type, etag, RENDERED_CACHE_CONTROL, False, "cache")
        data, source = self._render_tile(path, spec, level, column, row)
        return TileResponse(data, media_type, etag, RENDERED_CACHE_CONTROL, False, source)


def _geometry(opened: CachedSlide, spec: TileSpec) -> DeepZoomGeometry:
    return opened.geometry(spec)


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
