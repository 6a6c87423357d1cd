"""The serving benchmarks' timed passes: clients fetching tile addresses, and what each cost.

:func:`run_pass` is ``--clients`` threads with one keep-alive connection each, on loopback,
sharing one list of addresses; :func:`timed_pass` adds the CPU that the API processes, the
proxy and the clients spent per tile. :mod:`benchmarks.serving` and
:mod:`benchmarks.serving_floor` time their passes with them.
"""

from __future__ import annotations

import http.client
import resource
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from benchmarks._proxy import ServerSet

__all__ = ["Pass", "percentile", "run_pass", "timed_pass"]


@dataclass
class Pass:
    """One timed pass of the clients over a list of tile URLs."""

    scenario: str
    server: str
    requests: int
    ok: int
    errors: int
    wall_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    tiles_per_s: float
    mean_kb: float
    setup: str = ""
    repeat: int = 0
    # CPU time (user + system) per tile served, of the API processes, the proxy and the
    # client threads (this process): where the machine's two cores went during the pass.
    server_cpu_ms_per_tile: float | None = None
    proxy_cpu_ms_per_tile: float | None = None
    client_cpu_ms_per_tile: float | None = None


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_pass(
    *,
    scenario: str,
    server: str,
    port: int,
    urls: Sequence[str],
    headers: dict[str, str],
    clients: int,
    seconds: float,
) -> Pass:
    """Fetch every URL once with ``clients`` concurrent keep-alive connections."""
    lock = threading.Lock()
    position = 0
    latencies_s: list[float] = []
    sizes: list[int] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    def client() -> None:
        nonlocal position, errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if position >= len(urls):
                        return
                    url = urls[position]
                    position += 1
                started = time.perf_counter()
                try:
                    connection.request("GET", url, headers=headers)
                    answer = connection.getresponse()
                    body = answer.read()
                    ok = answer.status == 200
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    ok, body = False, b""
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        latencies_s.append(elapsed)
                        sizes.append(len(body))
                    else:
                        errors += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    ordered = sorted(latencies_s)
    return Pass(
        scenario=scenario,
        server=server,
        requests=len(ordered) + errors,
        ok=len(ordered),
        errors=errors,
        wall_s=round(wall_s, 3),
        p50_ms=round(1000 * percentile(ordered, 0.50), 2),
        p90_ms=round(1000 * percentile(ordered, 0.90), 2),
        p99_ms=round(1000 * percentile(ordered, 0.99), 2),
        max_ms=round(1000 * (ordered[-1] if ordered else 0.0), 2),
        tiles_per_s=round(len(ordered) / wall_s, 1) if wall_s > 0 else 0.0,
        mean_kb=round(statistics.fmean(sizes) / 1024, 1) if sizes else 0.0,
    )


def _tree_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes and their live children have used so far."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            members = [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for member in members:
            try:
                times = member.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += times.user + times.system
    return total


def _own_cpu_s() -> float:
    """This process's CPU seconds: the client threads (the servers are other processes)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_pass(servers: ServerSet, *, setup: str, repeat: int, **options: Any) -> Pass:
    """:func:`run_pass` against ``servers``, with the CPU each side spent per tile."""
    proxy = [servers.proxy_pid] if servers.proxy_pid is not None else []
    before = _tree_cpu_s(servers.api_pids), _tree_cpu_s(proxy), _own_cpu_s()
    result = run_pass(port=servers.port, **options)
    after = _tree_cpu_s(servers.api_pids), _tree_cpu_s(proxy), _own_cpu_s()
    spent = [
        (end - start) * 1000 / result.ok if result.ok else None
        for start, end in zip(before, after, strict=True)
    ]
    result.setup, result.repeat = setup, repeat
    result.server_cpu_ms_per_tile = _rounded(spent[0])
    result.proxy_cpu_ms_per_tile = _rounded(spent[1]) if proxy else None
    result.client_cpu_ms_per_tile = _rounded(spent[2])
    print(
        f"{setup:20} {result.scenario:34} {result.ok:5d} ok {result.errors:3d} err  "
        f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  "
        f"{result.tiles_per_s:7.1f} tiles/s",
        flush=True,
    )
    return result


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
