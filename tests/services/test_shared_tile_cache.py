"""The tile cache that API replicas share, against the real Redis (``COUPE_TEST_REDIS_URL``,
default ``redis://127.0.0.1:6379/0``). Without a reachable Redis the tests skip, saying why,
except with ``CI=true``: CI has one, so they must run there.

Every test keeps its keys under its own namespace and deletes them afterwards. A "replica" is a
``TileService`` of its own: its own caches, slides and connections, as another process has.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from services.app import create_app
from services.settings import Settings
from services.shared_tile_cache import (
    NAMESPACE,
    SharedTileCache,
    check_tile_cache_url,
)
from services.slide_cache import slide_key
from services.storage import pyramid_paths
from services.tiles import TileService
from tests.services.conftest import ServiceHarness
from tests.services.test_slides import add_slide, all_tiles, copy_sample
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import fetch_sample
from tiling.spec import TileSpec
from worklist.actor import Actor
from worklist.enums import Role
from worklist.region import default_region
from worklist.seeding import import_region

SLIDE_ID = 1  # the services below have no pyramid for it: every tile is rendered on the fly
# (level, column, row): full resolution (read straight from the slide) and two low levels
# (cut from the renderer's cached blocks).
ADDRESSES = [(12, 0, 0), (12, 3, 5), (11, 2, 2), (8, 0, 0), (4, 0, 0)]


# --- Redis, its keys, a proxy that can fail ----------------------------------------------------


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("COUPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {url} is unreachable ({exc}); set COUPE_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and Redis is required: {reason}")
        pytest.skip(reason)
    finally:
        client.close()
    return url


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:{NAMESPACE}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def slide_file(tmp_path: Path) -> Path:
    """A private copy of CMU-1-Small-Region (tests replace it)."""
    target = tmp_path / "slides" / "CMU-1-Small-Region.svs"
    target.parent.mkdir()
    shutil.copyfile(fetch_sample("CMU-1-Small-Region.svs"), target)
    return target


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", tile_cache_url=redis_url)


@pytest.fixture
def replicas(settings: Settings, namespace: str) -> Iterator[tuple[TileService, TileService]]:
    """Two tile services on the same settings and the same Redis, as two API processes."""

    def replica() -> TileService:
        url = str(settings.tile_cache_url)
        return TileService(settings, shared_cache=SharedTileCache(url, namespace=namespace))

    services = (replica(), replica())
    yield services
    for service in services:
        service.close()


class FlakyProxy:
    """A TCP proxy to Redis that can stop forwarding: ``down`` closes every connection (and
    each new one at once), ``hang`` accepts connections and never answers."""

    def __init__(self, redis_url: str) -> None:
        parts = redis.connection.parse_url(redis_url)  # type: ignore[no-untyped-call]
        self._target = (parts.get("host", "127.0.0.1"), parts.get("port", 6379))
        self.mode = "up"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/0"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for sock in self._sockets if sock.fileno() != -1) // 2

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode == "down":
            self._close_all()

    def close(self) -> None:
        self._listener.close()
        self._close_all()
        self._thread.join(timeout=2)

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "down":
                client.close()
                continue
            if self.mode == "hang":
                with self._lock:
                    self._sockets.append(client)
                continue
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                for sock in (source, sink):
                    if sock in self._sockets:
                        self._sockets.remove(sock)
            source.close()
            sink.close()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(redis_url)
    yield flaky
    flaky.close()


class Clock:
    """A monotonic clock the test moves by hand (the cache's back-off runs on it)."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def tile(service: TileService, path: Path, level: int, column: int, row: int) -> tuple[bytes, str]:
    answer = service.tile(SLIDE_ID, path, level, column, row, "jpeg")
    assert answer.data is not None
    return answer.data, answer.source


# --- Two replicas ------------------------------------------------------------------------------


def test_a_tile_rendered_by_one_replica_comes_to_the_other_from_redis_unrendered(
    replicas: tuple[TileService, TileService], slide_file: Path
) -> None:
    first, second = replicas
    for level, column, row in ADDRESSES:
        data, source = tile(first, slide_file, level, column, row)
        assert source == "rendered"
        again, source = tile(second, slide_file, level, column, row)
        assert (again, source) == (data, "cache"), (level, column, row)
    assert first.tiles_rendered == len(ADDRESSES)
    # The second replica rendered nothing: no tile, no block.
    assert second.tiles_rendered == 0
    assert second.renderer.blocks.nbytes == 0
    assert second.shared_cache is not None and second.shared_cache.stats.hits == len(ADDRESSES)
    # Now in its own cache: Redis is not asked again.
    tile(second, slide_file, *ADDRESSES[0])
    assert second.shared_cache.stats.hits == len(ADDRESSES)


@pytest.mark.slow
def test_two_app_replicas_on_one_database_serve_one_render_through_the_routes(
    tmp_path: Path, redis_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        run_background_workers=False,
        tile_cache_url=redis_url,
    )
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as other:
        harness = ServiceHarness(one, settings)
        import_region(engine=harness.engine, actor=Actor.system(), region=default_region())
        harness.add_user("hmc_path", Role.PATHOLOGIST, pathologist_code="HMC-01")
        headers = harness.headers("hmc_path")  # a session in the database: good on both
        one.cookies.clear()
        path = copy_sample(harness, "CMU-1-Small-Region.svs")
        slide_id = add_slide(harness, "HMC", path)
        url = f"/slides/{slide_id}_files/12/3_5.jpeg"
        first, second = one.get(url, headers=headers), other.get(url, headers=headers)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert first.headers["etag"] == second.headers["etag"]  # one browser cache entry
        tiles_one = one.app.state.coupe.tiles  # type: ignore[attr-defined]
        tiles_other = other.app.state.coupe.tiles  # type: ignore[attr-defined]
        assert (tiles_one.tiles_rendered, tiles_other.tiles_rendered) == (1, 0)
        key = tiles_one.shared_cache.key(slide_key(path, None), tiles_one.spec, 12, 3, 5)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.delete(key) == 1
    finally:
        client.close()


@pytest.mark.slow
def test_tiles_from_redis_are_the_bytes_build_pyramid_writes(
    replicas: tuple[TileService, TileService], slide_file: Path, tmp_path: Path
) -> None:
    first, second = replicas
    built = build_pyramid(
        slide_file, tmp_path / "pyramid", PyramidOptions(spec=first.spec), name="s"
    )
    tiles = all_tiles(built.files_dir, "jpeg")
    assert len(tiles) == built.geometry.tile_count
    for level, column, row, path in tiles:
        assert tile(first, slide_file, level, column, row) == (path.read_bytes(), "rendered")
    for level, column, row, path in tiles:
        assert tile(second, slide_file, level, column, row) == (path.read_bytes(), "cache")
    assert second.tiles_rendered == 0


def test_prebuilt_tiles_are_not_put_in_redis(
    replicas: tuple[TileService, TileService], slide_file: Path, redis_url: str, namespace: str
) -> None:
    first, _ = replicas
    paths = pyramid_paths(first.settings, SLIDE_ID)
    build_pyramid(slide_file, paths.directory, PyramidOptions(spec=first.spec), name=paths.name)
    for address in ADDRESSES:
        assert tile(first, slide_file, *address)[1] == "prebuilt"
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=namespace + "*")) == []
    finally:
        client.close()
    assert first.tiles_rendered == 0


def test_a_replaced_or_touched_slide_file_is_rendered_again(
    replicas: tuple[TileService, TileService], slide_file: Path, tmp_path: Path
) -> None:
    first, second = replicas
    address = (8, 0, 0)  # a tile both slides have
    old, _ = tile(first, slide_file, *address)
    # Re-scanned: the same bytes with a new modification time are another identity.
    stat = slide_file.stat()
    os.utime(slide_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert tile(second, slide_file, *address) == (old, "rendered")
    # Another slide in its place (another size too): its own pixels, never the old slide's.
    shutil.copyfile(fetch_sample("boxes.tiff"), slide_file)
    plain = TileService(Settings(data_dir=tmp_path / "plain"))
    try:
        data, source = tile(second, slide_file, *address)
        assert source == "rendered" and data != old
        assert data == plain.render_tile(slide_file, plain.spec, *address)
    finally:
        plain.close()


def test_keys_name_every_part_of_a_tile_and_have_a_fixed_length(
    settings: Settings, slide_file: Path, namespace: str
) -> None:
    cache = SharedTileCache(str(settings.tile_cache_url), namespace=namespace)
    try:
        slide = slide_key(slide_file, None)
        spec = TileSpec()
        base = cache.key(slide, spec, 12, 3, 5)
        variants = {
            cache.key((slide[0] + "x", *slide[1:]), spec, 12, 3, 5),
            cache.key((slide[0], slide[1] + 1, *slide[2:]), spec, 12, 3, 5),
            cache.key((*slide[:2], slide[2] + 1, slide[3]), spec, 12, 3, 5),
            cache.key((*slide[:3], "openslide"), spec, 12, 3, 5),
            cache.key(slide, TileSpec(quality=80), 12, 3, 5),
            cache.key(slide, TileSpec(tile_size_px=256), 12, 3, 5),
            cache.key(slide, TileSpec(overlap_px=0), 12, 3, 5),
            cache.key(slide, TileSpec(tile_format="png"), 12, 3, 5),
            cache.key(slide, TileSpec(limit_bounds=True), 12, 3, 5),
            cache.key(slide, spec, 11, 3, 5),
            cache.key(slide, spec, 12, 5, 3),
            cache.key(slide, spec, 12, 3, 6),
        }
        assert base not in variants and len(variants) == 12
        assert {len(key) for key in variants} == {len(base)} == {len(namespace) + 40}
        assert base.startswith(namespace) and base == cache.key(slide, TileSpec(), 12, 3, 5)
        assert NAMESPACE == "coupe:tile:v1:"
    finally:
        cache.close()


def at_once(services: tuple[TileService, ...], path: Path, address: tuple[int, ...]) -> list[str]:
    """The sources of one tile asked of every service at the same moment, sorted."""
    start = threading.Barrier(len(services))
    sources: list[str] = []

    def ask(service: TileService) -> None:
        start.wait()
        sources.append(tile(service, path, *address)[1])

    threads = [threading.Thread(target=ask, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(sources)


def test_two_replicas_asking_for_one_tile_at_once_render_it_once(
    replicas: tuple[TileService, TileService], slide_file: Path
) -> None:
    for address in ADDRESSES:
        assert at_once(replicas, slide_file, address) == ["cache", "rendered"], address
    assert sum(service.tiles_rendered for service in replicas) == len(ADDRESSES)


# --- The render lock ---------------------------------------------------------------------------


def _rendering(
    cache: SharedTileCache, key: str, render: Callable[[], bytes]
) -> tuple[threading.Thread, list[object]]:
    """``cache.render_once(key, render)`` in a thread; the list gets its answer or its error."""
    answers: list[object] = []

    def run() -> None:
        try:
            answers.append(cache.render_once(key, render))
        except Exception as exc:
            answers.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait for ``condition`` (a step of another thread), failing after ``timeout_s``: the
    order of the steps is made certain, not guessed with a sleep."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.005)


@pytest.fixture
def two_caches(redis_url: str, namespace: str) -> Iterator[tuple[SharedTileCache, SharedTileCache]]:
    caches = (
        SharedTileCache(redis_url, namespace=namespace),
        SharedTileCache(redis_url, namespace=namespace, wait_s=5.0),
    )
    yield caches
    for cache in caches:
        cache.close()


def test_a_replica_waits_for_the_render_another_holds_the_lock_for(
    two_caches: tuple[SharedTileCache, SharedTileCache],
) -> None:
    first, second = two_caches
    key = first.namespace + "waits"
    may_finish = threading.Event()

    rendering = threading.Event()

    def slow_render() -> bytes:
        rendering.set()  # the lock is taken before the render starts
        may_finish.wait(5)
        return b"tile"

    holder, held = _rendering(first, key, slow_render)
    _until(rendering.is_set, "the first replica renders, holding the lock")
    waiter, waited = _rendering(second, key, lambda: pytest.fail("rendered twice"))
    _until(lambda: second.stats.waits == 1, "the second replica waits")
    may_finish.set()
    holder.join()
    waiter.join()
    assert held == [(b"tile", True)]
    assert waited == [(b"tile", False)]
    assert second.stats.waited_hits == 1


def test_a_render_that_fails_lets_the_waiting_replica_render_at_once(
    two_caches: tuple[SharedTileCache, SharedTileCache],
) -> None:
    first, second = two_caches  # the second would wait 5 s
    key = first.namespace + "fails"
    may_fail = threading.Event()

    rendering = threading.Event()

    def failing_render() -> bytes:
        rendering.set()
        may_fail.wait(5)
        raise OSError("the slide could not be read")

    holder, held = _rendering(first, key, failing_render)
    _until(rendering.is_set, "the first replica renders, holding the lock")
    waiter, waited = _rendering(second, key, lambda: b"second")
    _until(lambda: second.stats.waits == 1, "the second replica waits")
    started = time.perf_counter()
    may_fail.set()
    holder.join()
    waiter.join()
    assert isinstance(held[0], OSError)
    assert waited == [(b"second", True)]
    assert time.perf_counter() - started < 2.0


def test_a_replica_waits_a_bounded_time_then_renders_itself(redis_url: str, namespace: str) -> None:
    holder_cache = SharedTileCache(redis_url, namespace=namespace)
    waiter_cache = SharedTileCache(redis_url, namespace=namespace, wait_s=0.2)
    may_finish = threading.Event()

    rendering = threading.Event()

    def slow_render() -> bytes:
        rendering.set()
        may_finish.wait(5)
        return b"late"

    try:
        holder, held = _rendering(holder_cache, namespace + "slow", slow_render)
        _until(rendering.is_set, "the first replica renders, holding the lock")
        started = time.perf_counter()
        assert waiter_cache.render_once(namespace + "slow", lambda: b"own") == (b"own", True)
        assert 0.2 <= time.perf_counter() - started < 1.5
        may_finish.set()
        holder.join()
        assert held == [(b"late", True)]
    finally:
        holder_cache.close()
        waiter_cache.close()


# --- Redis down, slow, back ---------------------------------------------------------------------


def test_with_redis_down_tiles_are_rendered_quickly_and_one_warning_is_logged(
    tmp_path: Path, slide_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = TileService(Settings(data_dir=tmp_path / "plain"))
    down = TileService(Settings(data_dir=tmp_path / "data", tile_cache_url="redis://127.0.0.1:1/0"))
    try:
        with caplog.at_level(logging.WARNING, logger="services.shared_tile_cache"):
            started = time.perf_counter()
            for address in ADDRESSES:
                data, source = tile(down, slide_file, *address)
                assert source == "rendered"
                assert data == plain.render_tile(slide_file, plain.spec, *address)
            assert tile(down, slide_file, *ADDRESSES[0])[1] == "cache"  # its own cache still works
            assert time.perf_counter() - started < 5.0
        warnings = [record for record in caplog.records if "tile cache" in record.getMessage()]
        assert len(warnings) == 1
        assert "redis://127.0.0.1:1/0" in warnings[0].getMessage()
        assert down.shared_cache is not None
        assert down.shared_cache.stats.errors >= 1 and down.shared_cache.stats.skipped >= 1
    finally:
        plain.close()
        down.close()


def test_a_redis_that_does_not_answer_costs_one_short_timeout(
    settings: Settings, proxy: FlakyProxy, slide_file: Path, namespace: str
) -> None:
    proxy.set_mode("hang")
    cache = SharedTileCache(proxy.url, namespace=namespace, clock=Clock())  # time stands still
    service = TileService(settings, shared_cache=cache)
    try:
        started = time.perf_counter()
        assert tile(service, slide_file, *ADDRESSES[0])[1] == "rendered"
        assert time.perf_counter() - started < 1.0  # one 0.1 s timeout
        # Backing off, the cache is not tried: no more timeouts.
        for address in ADDRESSES[1:]:
            assert tile(service, slide_file, *address)[1] == "rendered"
        assert service.shared_cache is not None
        assert service.shared_cache.stats.errors == 1
    finally:
        service.close()


def test_the_cache_is_tried_again_after_a_back_off_and_warns_once_a_minute(
    redis_url: str, proxy: FlakyProxy, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    cache = SharedTileCache(proxy.url, namespace=namespace, clock=clock)
    direct = redis.Redis.from_url(redis_url)
    key = namespace + "back"
    direct.set(key, b"tile")
    try:
        with caplog.at_level(logging.WARNING, logger="services.shared_tile_cache"):
            assert cache.get(key) == b"tile"
            proxy.set_mode("down")
            assert cache.get(key) is None and cache.stats.errors == 1
            assert cache.get(key) is None and cache.stats.skipped == 1  # backing off: not tried
            clock.now_s += 1.0
            assert cache.get(key) is None and cache.stats.errors == 2  # tried, failed: 2 s now
            clock.now_s += 1.0
            assert cache.get(key) is None and cache.stats.skipped == 2
            proxy.set_mode("up")
            clock.now_s += 1.0
            assert cache.get(key) == b"tile"  # back
            assert len(caplog.records) == 1  # two failures within a minute: one warning
            proxy.set_mode("down")
            clock.now_s += 60.0
            assert cache.get(key) is None
            assert len(caplog.records) == 2
    finally:
        cache.close()
        direct.close()


def test_closing_the_service_closes_its_connections(
    settings: Settings, proxy: FlakyProxy, slide_file: Path, namespace: str
) -> None:
    service = TileService(settings, shared_cache=SharedTileCache(proxy.url, namespace=namespace))
    tile(service, slide_file, *ADDRESSES[0])
    assert proxy.open_connections >= 1
    service.close()
    deadline = time.monotonic() + 2
    while proxy.open_connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.open_connections == 0


# --- Settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://user:secret@cache:6379/0", "not http://"),
        ("cache:6379", "not cache://"),
        ("127.0.0.1:6379", "one without a scheme"),
        ("redis://:secret@cache:port/0", "not a valid redis:// URL"),
    ],
)
def test_a_tile_cache_url_that_is_not_redis_is_refused_at_start(
    tmp_path: Path, url: str, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        check_tile_cache_url(url)
    assert "secret" not in str(refused.value)
    with pytest.raises(ValueError, match=says):
        TileService(Settings(data_dir=tmp_path, tile_cache_url=url))


@pytest.mark.parametrize(
    "url", ["redis://cache:6379/0", "rediss://:pw@cache:6380/2", "unix:///run/redis.sock?db=1"]
)
def test_redis_urls_are_accepted(url: str) -> None:
    assert check_tile_cache_url(url) == url


def test_the_settings_url_alone_makes_the_shared_cache(
    settings: Settings, slide_file: Path, tmp_path: Path
) -> None:
    first, second = TileService(settings), TileService(settings)
    try:
        # A tile of its own (a file in this test's folder): the real namespace stays clean.
        data, source = tile(first, slide_file, *ADDRESSES[0])
        assert source == "rendered"
        assert tile(second, slide_file, *ADDRESSES[0]) == (data, "cache")
    finally:
        assert first.shared_cache is not None
        key = first.shared_cache.key(slide_key(slide_file, None), first.spec, *ADDRESSES[0])
        assert key.startswith(NAMESPACE)
        direct = redis.Redis.from_url(str(settings.tile_cache_url))
        assert direct.ttl(key) > 6 * 24 * 3600
        direct.delete(key)
        direct.close()
        first.close()
        second.close()
