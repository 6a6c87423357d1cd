"""A tile cache that several API processes share, in Redis (``COUPE_TILE_CACHE_URL``).

Each API process keeps its own cache of encoded tiles (``TileService``); behind a load balancer
a tile rendered on the fly by one replica would be rendered again by every other. With a tile
cache URL the replicas also look in Redis, and the one that renders a tile puts it there.

- *Keys* name the exact tile: the slide file's identity (path, modification time, size and
  backend, as ``services.slide_cache.slide_key`` says it, so a replaced or re-scanned file never
  serves old tiles), the whole ``TileSpec``, level, column and row; hashed to a fixed length
  under ``coupe:tile:v1:``. Pre-built pyramid tiles never go here: they are files already.
- *Memory*: entries expire after ``TILE_TTL_S``; bounding Redis is the operator's part: give it
  ``maxmemory`` and ``maxmemory-policy allkeys-lru`` (with Redis's default ``noeviction`` a full
  Redis refuses writes, and this cache then stands aside as for any other error).
- *One render per tile*: a replica that misses takes a short lock (``SET NX PX``) while it
  renders; another replica asking meanwhile polls for the value for at most ``WAIT_S``, then
  renders itself. A renderer that fails lets go of the lock, so nobody waits for nothing.
- *Redis down or slow never stops tiles*: sockets time out after ``SOCKET_TIMEOUT_S``, nothing
  is retried; after an error the cache is left alone for a back-off (1 s, doubling to 60 s)
  and tiles are rendered as without it; a warning is logged at most once a minute.

Thread-safe: the Redis client keeps a pool of connections.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from services.slide_cache import SlideKey
from tiling.spec import TileSpec

__all__ = [
    "NAMESPACE",
    "SOCKET_TIMEOUT_S",
    "TILE_TTL_S",
    "WAIT_S",
    "SharedTileCache",
    "SharedTileCacheStats",
    "check_tile_cache_url",
]

NAMESPACE = "coupe:tile:v1:"
"""Prefix of every key; ``v1`` changes when what a key means or a value holds does."""
TILE_TTL_S = 7 * 24 * 3600
"""How long a tile stays: a week covers a case being looked at again at the next sign-out
meeting; by then its pyramid is usually built and the tile is a file anyway."""
SOCKET_TIMEOUT_S = 0.1
"""Connect and read timeout: a render on the fly takes tens of ms, so waiting longer than this
for the cache would be slower than doing without it."""
LOCK_MS = 2000
"""How long a render lock lives if its holder dies: longer than any render of one tile."""
WAIT_S = 0.5
"""How long a replica waits for another's render before it renders the tile itself."""
POLL_S = 0.005
"""Between looks for a tile another replica is rendering."""
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
WARNING_INTERVAL_S = 60.0

_SCHEMES = ("redis", "rediss", "unix")
_RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0
"""

_log = logging.getLogger(__name__)
T = TypeVar("T")


def check_tile_cache_url(url: str) -> str:
    """``url`` when it is a Redis URL (``redis://``, ``rediss://``, ``unix://``), else a
    ``ValueError`` that names the scheme (never the URL: it may hold a password)."""
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES:
        raise ValueError(
            f"COUPE_TILE_CACHE_URL must be a redis://, rediss:// or unix:// URL, "
            f"not {scheme + '://' if scheme else 'one without a scheme'}"
        )
    try:
        redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(f"COUPE_TILE_CACHE_URL is not a valid {scheme}:// URL: {exc}") from None
    return url


def _display(url: str) -> str:
    """The URL without user name or password, for log lines."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


@dataclass
class SharedTileCacheStats:
    """What the cache did since it was made (for tests and measurements): tiles found, not
    found, stored, waits for another's render and tiles found after one; Redis errors; calls
    skipped while backing off."""

    hits: int = 0
    misses: int = 0
    stores: int = 0
    waits: int = 0
    waited_hits: int = 0
    errors: int = 0
    skipped: int = 0


class _Breaker:
    """After a failure, keeps callers away from Redis for a back-off that doubles per failure."""

    def __init__(self, clock: Callable[[], float], display: str) -> None:
        self._clock = clock
        self._display = display
        self._lock = threading.Lock()
        self._open_until = float("-inf")
        self._backoff_s = FIRST_BACKOFF_S
        self._warned_at = float("-inf")

    def closed(self) -> bool:
        """Whether Redis may be tried now."""
        return self._clock() >= self._open_until

    def succeeded(self) -> None:
        with self._lock:
            self._backoff_s = FIRST_BACKOFF_S

    def failed(self, exc: Exception) -> None:
        with self._lock:
            now = self._clock()
            backoff_s = self._backoff_s
            self._open_until = now + backoff_s
            self._backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)
            warn = now - self._warned_at >= WARNING_INTERVAL_S
            if warn:
                self._warned_at = now
        if warn:
            _log.warning(
                "tile cache %s failed (%s: %s): tiles are rendered without it; "
                "trying again in %.0f s",
                self._display,
                type(exc).__name__,
                exc,
                backoff_s,
            )


class SharedTileCache:
    """Encoded tiles in Redis at ``url``, shared by every process given the same URL.

    ``namespace`` prefixes every key (tests give each run its own); ``clock`` is the monotonic
    clock the back-off and the warnings are timed on. Every method returns as without a cache
    when Redis fails.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = NAMESPACE,
        timeout_s: float = SOCKET_TIMEOUT_S,
        wait_s: float = WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_tile_cache_url(url)
        self.namespace = namespace
        self.wait_s = wait_s
        self.stats = SharedTileCacheStats()
        self._stats_lock = threading.Lock()
        self._breaker = _Breaker(clock, _display(url))
        # No retries: a retry is another timeout a tile request would wait out.
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._release = self._client.register_script(_RELEASE)

    def close(self) -> None:
        """Close every connection to Redis."""
        self._client.close()
        self._client.connection_pool.disconnect()

    def key(self, slide: SlideKey, spec: TileSpec, level: int, column: int, row: int) -> str:
        """The Redis key of one tile of one version of a slide file, cut and encoded by ``spec``."""
        identity = json.dumps([list(slide), spec.to_json(), level, column, row], sort_keys=True)
        return self.namespace + hashlib.blake2b(identity.encode(), digest_size=20).hexdigest()

    def get(self, key: str) -> bytes | None:
        """The tile at ``key``, or None (not there, or Redis unavailable)."""
        data = self._call(lambda: self._client.get(key))
        if not isinstance(data, bytes):
            self._count("misses")
            return None
        self._count("hits")
        return data

    def render_once(self, key: str, render: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The tile at ``key``, rendered by ``render`` and stored unless another process has
        it or renders it now; ``True`` with the bytes when ``render`` ran here."""
        token = secrets.token_hex(8)
        lock = key + ":lock"
        # Taking the lock and looking again in one round trip: a render that finished since
        # the first look is found, not repeated.

        def take_lock_and_look(pipe: Pipeline) -> None:
            pipe.set(lock, token, nx=True, px=LOCK_MS)
            pipe.get(key)

        answer = self._pipelined(take_lock_and_look)
        taken = answer is not None and bool(answer[0])
        if answer is not None:
            if isinstance(answer[1], bytes):
                self._let_go(lock, token, taken)
                self._count("hits")
                return answer[1], False
            if not taken:
                self._count("waits")
                waited = self._wait_for(key, lock)
                if waited is not None:
                    self._count("waited_hits")
                    return waited, False
        try:
            data = render()
        except BaseException:
            self._let_go(lock, token, taken)
            raise

        def store(pipe: Pipeline) -> None:
            pipe.set(key, data, ex=TILE_TTL_S)
            self._release(keys=[lock], args=[token], client=pipe)

        if self._pipelined(store) is not None:
            self._count("stores")
        return data, True

    # --- Redis, behind the breaker ------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def _wait_for(self, key: str, lock: str) -> bytes | None:
        """The tile once another process has stored it; None when it let go or took too long."""

        def look(pipe: Pipeline) -> None:
            pipe.get(key)
            pipe.exists(lock)

        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            answer = self._pipelined(look)
            if answer is None:
                return None
            data, locked = answer
            if isinstance(data, bytes):
                return data
            if not locked:
                return None  # the renderer failed or died: render it here
        return None

    def _let_go(self, lock: str, token: str, taken: bool) -> None:
        if taken:
            self._call(lambda: self._release(keys=[lock], args=[token]))

    def _pipelined(self, queue: Callable[[Pipeline], object]) -> list[Any] | None:
        """The answers to the commands ``queue`` puts in a pipeline, sent in one round trip."""

        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            queue(pipe)
            return list(pipe.execute())

        return self._call(run)

    def _call(self, operation: Callable[[], T]) -> T | None:
        if not self._breaker.closed():
            self._count("skipped")
            return None
        try:
            result = operation()
        except redis.RedisError as exc:
            self._count("errors")
            self._breaker.failed(exc)
            return None
        self._breaker.succeeded()
        return result
