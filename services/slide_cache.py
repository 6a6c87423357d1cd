"""The open slides of the tile service, bounded in number and thread-safe.

An open slide is *leased* for the length of a read: the cache may retire it (too many open, or
the app stopping) at any time, but closes it only once the last reader has let go, so no read
ever runs on a closed file handle.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tiling.deepzoom import DeepZoomGeometry
from tiling.errors import SlideNotFoundError, SlideReadError
from tiling.sources import SlideSource, open_slide
from tiling.spec import TileSpec

__all__ = ["CachedSlide", "SlideCache", "SlideKey", "slide_key"]


SlideKey = tuple[str, int, int, str | None]
"""(path, modification time in ns, size in bytes, backend): a replaced file is a new slide."""


@dataclass(eq=False)
class CachedSlide:
    """One open slide and what is derived from it once."""

    key: SlideKey
    source: SlideSource
    users: int = 0
    retired: bool = False
    geometries: dict[tuple[int, int, bool], DeepZoomGeometry] = field(default_factory=dict)

    def geometry(self, spec: TileSpec) -> DeepZoomGeometry:
        """The slide's Deep Zoom geometry under ``spec``, computed once per tile grid."""
        key = (spec.tile_size_px, spec.overlap_px, spec.limit_bounds)
        geometry = self.geometries.get(key)
        if geometry is None:
            geometry = self.geometries[key] = spec.geometry(self.source)
        return geometry


class SlideCache:
    """Open slides, at most ``max_open`` kept; one in use is closed only when released."""

    def __init__(self, max_open: int) -> None:
        self._max_open = max(1, max_open)
        self._lock = threading.Lock()
        self._open: OrderedDict[SlideKey, CachedSlide] = OrderedDict()
        self._closed = False

    @contextmanager
    def lease(self, path: Path, backend: str | None) -> Iterator[CachedSlide]:
        """The open slide at ``path``, held open until the ``with`` block ends."""
        key = slide_key(path, backend)
        entry = self._acquire(key)
        if entry is None:
            source = open_slide(path, backend=backend)
            entry = self._insert(CachedSlide(key, source))
        try:
            yield entry
        finally:
            self._release(entry)

    def _acquire(self, key: SlideKey) -> CachedSlide | None:
        with self._lock:
            entry = self._open.get(key)
            if entry is not None:
                entry.users += 1
                self._open.move_to_end(key)
            return entry

    def _insert(self, fresh: CachedSlide) -> CachedSlide:
        to_close: list[SlideSource] = []
        with self._lock:
            existing = self._open.get(fresh.key)
            if existing is not None:  # another thread opened it meanwhile
                to_close.append(fresh.source)
                entry = existing
            else:
                entry = fresh
                if self._closed:
                    entry.retired = True  # serve this request, then close
                else:
                    self._open[fresh.key] = fresh
            entry.users += 1
            while len(self._open) > self._max_open:
                _, old = self._open.popitem(last=False)
                to_close.extend(self._retire(old))
        for source in to_close:
            source.close()
        return entry

    def _release(self, entry: CachedSlide) -> None:
        with self._lock:
            entry.users -= 1
            closing = entry.retired and entry.users == 0
        if closing:
            entry.source.close()

    @staticmethod
    def _retire(entry: CachedSlide) -> list[SlideSource]:
        entry.retired = True
        return [entry.source] if entry.users == 0 else []

    def close(self) -> None:
        """Close every slide (those in use as soon as their requests finish)."""
        to_close: list[SlideSource] = []
        with self._lock:
            self._closed = True
            while self._open:
                _, entry = self._open.popitem(last=False)
                to_close.extend(self._retire(entry))
        for source in to_close:
            source.close()


def slide_key(path: Path, backend: str | None) -> SlideKey:
    """The cache identity of the slide file at ``path``; a vanished file raises."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise SlideNotFoundError(f"slide file {str(path)!r} does not exist (any more)") from None
    except OSError as exc:
        raise SlideReadError(f"slide file {str(path)!r} cannot be read: {exc}") from exc
    return (str(path), stat.st_mtime_ns, stat.st_size, backend)
