"""Bounded, thread-safe caches for the tile service: bytes-bounded LRU, single flight, open slides.

An open slide is *leased* for the length of a read: the cache may retire it (too many open, or
the app stopping) at any time, but closes it only once the last reader has let go, so no read
ever runs on a closed file handle.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from tiling.deepzoom import DeepZoomGeometry, deepzoom_geometry
from tiling.errors import SlideNotFoundError, SlideReadError
from tiling.sources import SlideSource, open_slide

__all__ = [
    "ByteLRU",
    "CachedSlide",
    "ExpiringCache",
    "SingleFlight",
    "SlideCache",
    "SlideKey",
    "slide_key",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ByteLRU(Generic[K, V]):
    """A thread-safe least-recently-used cache bounded by the summed size of its values."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """The bytes held now."""
        return self._bytes

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: K, value: V, size_bytes: int) -> None:
        """Keep ``value``; least recently used values go first. Too large a value is dropped."""
        if size_bytes > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size_bytes)
            self._bytes += size_bytes
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0


class SingleFlight(Generic[K, V]):
    """Computes a value once when many threads ask for the same key at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[K, Future[V]] = {}

    def run(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            running = self._running.get(key)
            owner = running is None
            if running is None:
                running = Future()
                self._running[key] = running
        if not owner:
            return running.result()
        try:
            value = compute()
        except BaseException as exc:
            running.set_exception(exc)
            raise
        else:
            running.set_result(value)
            return value
        finally:
            with self._lock:
                del self._running[key]


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

    def geometry(self, tile_size_px: int, overlap_px: int, limit_bounds: bool) -> DeepZoomGeometry:
        """The slide's Deep Zoom geometry for these options, computed once."""
        key = (tile_size_px, overlap_px, limit_bounds)
        geometry = self.geometries.get(key)
        if geometry is None:
            geometry = deepzoom_geometry(
                level_dimensions=self.source.level_dimensions,
                level_downsamples=self.source.level_downsamples,
                tile_size_px=tile_size_px,
                overlap_px=overlap_px,
                limit_bounds=limit_bounds,
                bounds=self.source.bounds,
            )
            self.geometries[key] = geometry
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


class ExpiringCache(Generic[K, V]):
    """A thread-safe map whose entries expire ``ttl_s`` after they were put; at most
    ``max_items`` are kept (the oldest go first)."""

    def __init__(self, ttl_s: float, max_items: int) -> None:
        self.ttl_s = ttl_s
        self.max_items = max(1, max_items)
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value for ``key`` while it is fresh, else None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                del self._items[key]
                return None
            return item[1]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``ttl_s`` seconds."""
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic() + self.ttl_s, value)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
