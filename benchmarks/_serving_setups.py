"""The serving benchmark's setups: how many API processes, direct or behind a proxy, sharing
a Redis tile cache or logging every request, and the servers that run one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks._proxy import ServerSet, behind_proxy, direct

__all__ = ["PROXIES", "Setup", "api_servers", "empty_tile_cache", "parse_setups"]

PROXIES = ("caddy",)


@dataclass(frozen=True)
class Setup:
    """How the API runs: ``processes`` server processes, directly or behind ``proxy``."""

    processes: int
    proxy: str | None = None
    tile_cache_url: str | None = None
    """A Redis the processes share tiles rendered on the fly through (COUPE_TILE_CACHE_URL)."""
    access_log: bool = False
    """uvicorn logs every request (info level), as ``coupe serve`` runs it today."""

    @property
    def name(self) -> str:
        shared = ", Redis tile cache" if self.tile_cache_url else ""
        logged = ", access log" if self.access_log else ""
        return f"{self.proxy or 'direct'}, {self.processes} processes{shared}{logged}"


@contextmanager
def api_servers(setup: Setup, env: dict[str, str]) -> Iterator[ServerSet]:
    """The API as ``setup`` says, until the ``with`` block ends (its shared tile cache
    emptied first: "uncached" means uncached in every repeat)."""
    if setup.tile_cache_url is not None:
        empty_tile_cache(setup.tile_cache_url)
        env = {**env, "COUPE_TILE_CACHE_URL": setup.tile_cache_url}
    if setup.proxy is None:
        with direct(setup.processes, env=env, access_log=setup.access_log) as servers:
            yield servers
    elif setup.proxy == "caddy":
        with behind_proxy(setup.processes, env=env, access_log=setup.access_log) as servers:
            yield servers
    else:
        raise ValueError(f"unknown proxy {setup.proxy!r}; known: {', '.join(PROXIES)}")


def empty_tile_cache(url: str) -> int:
    """Delete Coupe's tile entries from the Redis at ``url``; how many there were."""
    import redis

    from services.shared_tile_cache import NAMESPACE

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=NAMESPACE + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def parse_setups(
    processes: str,
    proxy: str | None,
    tile_cache_url: str | None = None,
    access_log: bool = False,
) -> list[Setup]:
    """``--processes 2,4 --proxy caddy`` -> direct 2 (for comparison), caddy 2, caddy 4; with
    a tile cache URL, the most processes once more, sharing that cache; with ``access_log``,
    the first direct setup once more, logging every request."""
    counts = [int(part) for part in processes.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise ValueError("--processes takes counts of at least 1, e.g. 2,4")
    if proxy is None:
        setups = [Setup(count) for count in counts]
    else:
        setups = [Setup(counts[0]), *(Setup(count, proxy) for count in counts)]
    if tile_cache_url is not None:
        setups.append(Setup(max(counts), proxy, tile_cache_url))
    if access_log:
        setups.append(Setup(counts[0], access_log=True))
    return setups
