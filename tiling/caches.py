"""Generic thread-safe caches: an LRU map bounded in bytes, single flight, expiring entries.

The tile renderer (``tiling.render``) keeps decoded blocks in a ``ByteLRU`` and computes each
block once however many threads ask for it at the same time (``SingleFlight``). Both are
given to it by the caller, which decides how much memory they may hold. ``ExpiringCache``
serves callers that may trust an answer only for a while (the app's tile access checks).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["ByteLRU", "ExpiringCache", "SingleFlight"]

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
        """``compute()``, or, while another thread computes ``key``, that thread's result."""
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

    def __len__(self) -> int:
        """How many entries are held (expired ones included until they are looked up)."""
        with self._lock:
            return len(self._items)
