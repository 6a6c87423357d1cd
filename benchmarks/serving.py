"""Benchmark: Deep Zoom tile serving by the Coupe app, against OpenSlide's DeepZoomGenerator.

Run ``python -m benchmarks.serving`` (``--quick`` for a smoke run on a small slide). The app
runs under uvicorn on 127.0.0.1 (a free port) with two server processes, as ``coupe serve`` runs
it on this 2-core machine (one per core), on a temporary data folder
with two slides showing the same generated Aperio SVS (``ensure_synthetic_slide``): one with a
pre-built pyramid, one without (tiles rendered on the fly). The baseline, in the same run, is
``benchmarks/_deepzoom_server.py``: OpenSlide's ``DeepZoomGenerator`` behind a minimal
``ThreadingHTTPServer``. Both serve tile 254, overlap 1, JPEG Q75.

Clients are ``--clients`` threads with one keep-alive connection each, on loopback, sharing one
list of tile addresses: distinct addresses drawn at random from the three full-resolution-most
Deep Zoom levels (where nearly all of a slide's tiles are), so a first pass is uncached and a
second pass over the same list is cached. The app's requests carry a bearer token, verified
on every tile against its server-side session, and go through the access check in the
database on every tile, as the viewer's do; the baseline has no authentication at all.
Each pass stops after its requests or ``--seconds``. Results: ``serving.json`` and
``serving.md`` in ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from services.security import hash_password
from services.settings import Settings
from services.storage import pyramid_paths
from tiling.deepzoom import deepzoom_geometry
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import ensure_synthetic_slide
from tiling.sources import open_slide
from worklist.accounts import NewUser, create_user
from worklist.actor import Actor
from worklist.db import make_engine
from worklist.enums import PyramidStatus, Role
from worklist.migrate import upgrade_engine
from worklist.operations import (
    BlockIntake,
    CaseIntake,
    SlideIntake,
    SpecimenIntake,
    intake_case,
    set_pyramid_status,
)
from worklist.region import default_region
from worklist.seeding import import_region

_BENCH_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _BENCH_DIR.parent
SERVER_PROCESSES = 2
"""Coupe runs as `coupe serve` does on this 2-core machine: one server process per core."""
_SECRET = "benchmark-secret-key-not-for-production"
_PASSWORD = "benchmark password 1"
TARGETS = {
    "prebuilt_p99_ms": 50.0,
    "prebuilt_tiles_per_s": 500.0,
    "rendered_uncached_p99_ms": 250.0,
}


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def prepare_data(data_dir: Path, slide: Path) -> tuple[int, int]:
    """Seed a data folder: the region, a user, two slides of ``slide``, one pyramid built.

    Returns (pre-built slide id, on-the-fly slide id).
    """
    settings = Settings(data_dir=data_dir, secret_key=_SECRET)  # type: ignore[arg-type]
    for folder in (settings.data_dir, settings.pyramid_dir, settings.slide_dir):
        folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade_engine(engine)
        import_region(engine=engine, actor=Actor.system(), region=default_region())
        create_user(
            engine=engine,
            actor=Actor.system(),
            user=NewUser(
                username="bench",
                display_name="Bench",
                password_hash=hash_password(_PASSWORD),
                role=Role.PATHOLOGIST,
                department_code=None,
                pathologist_code="HMC-01",
            ),
        )
        slide_ids = []
        for number in range(2):
            slides = [SlideIntake(file_path=str(slide))]
            intake_case(
                engine=engine,
                actor=Actor.system(),
                case=CaseIntake(
                    department="HMC",
                    patient_pseudonym=f"PSN-BENCH-{number}",
                    tumour_group="gastro-intestinal",
                    category=2,
                    specimens=[SpecimenIntake("A", blocks=[BlockIntake("A1", slides=slides)])],
                ),
            )
            slide_ids.append(number + 1)
        prebuilt_id, rendered_id = slide_ids
        paths = pyramid_paths(settings, prebuilt_id)
        build_pyramid(slide, paths.directory, PyramidOptions(), name=paths.name)
        set_pyramid_status(engine=engine, slide_id=prebuilt_id, status=PyramidStatus.READY)
    finally:
        engine.dispose()
    return prebuilt_id, rendered_id


def _wait_until_up(
    port: int, path: str, process: subprocess.Popen[bytes], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no answer on 127.0.0.1:{port}{path} within {timeout_s:.0f} s")


@contextmanager
def running(command: Sequence[str], port: int, probe: str, env: dict[str, str]) -> Iterator[None]:
    """Run a server process until the ``with`` block ends."""
    process = subprocess.Popen(
        list(command), cwd=_REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_until_up(port, probe, process, timeout_s=60)
        yield
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        if process.returncode not in (0, -15) and stderr:
            sys.stderr.write(stderr.decode(errors="replace")[-2000:])


def sign_in(port: int) -> str:
    """A bearer token for the benchmark user."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"username": "bench", "password": _PASSWORD})
    connection.request("POST", "/auth/login", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    payload = json.loads(answer.read())
    connection.close()
    if answer.status != 200:
        raise RuntimeError(f"sign-in failed: {answer.status} {payload}")
    token: str = payload["access_token"]
    return token


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


def tile_addresses(slide: Path, count: int, seed: int) -> tuple[list[str], list[str]]:
    """Distinct tile addresses, shuffled: (from the three highest levels, from the rest)."""
    with open_slide(slide) as source:
        geometry = deepzoom_geometry(
            level_dimensions=source.level_dimensions,
            level_downsamples=source.level_downsamples,
        )
    top = geometry.level_count - 1
    rng = random.Random(seed)
    high: list[str] = []
    low: list[str] = []
    for level in range(geometry.level_count):
        for column, row in geometry.tiles(level):
            (high if level >= top - 2 else low).append(f"{level}/{column}_{row}.jpeg")
    rng.shuffle(high)
    rng.shuffle(low)
    return high[:count], low


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }


def measure(
    slide: Path, *, clients: int, requests: int, seconds: float, seed: int
) -> dict[str, object]:
    """Run every pass; the report as a JSON-ready dict."""
    high, low = tile_addresses(slide, requests, seed)
    passes: list[Pass] = []
    with tempfile.TemporaryDirectory(prefix="coupe-serving-") as tmp:
        data_dir = Path(tmp) / "data"
        build_started = time.perf_counter()
        prebuilt_id, rendered_id = prepare_data(data_dir, slide)
        build_s = time.perf_counter() - build_started
        coupe_port, baseline_port = free_port(), free_port()
        env = {
            **os.environ,
            "COUPE_DATA_DIR": str(data_dir),
            "COUPE_SECRET_KEY": _SECRET,
            "COUPE_RUN_BACKGROUND_WORKERS": "false",
        }
        coupe = [
            sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(coupe_port),
            "--log-level", "warning", "--no-access-log", "--workers", str(SERVER_PROCESSES),
        ]  # fmt: skip
        baseline = [
            sys.executable, str(_BENCH_DIR / "_deepzoom_server.py"), str(slide), str(baseline_port)
        ]  # fmt: skip
        with (
            running(coupe, coupe_port, "/health", env),
            running(baseline, baseline_port, "/slide.dzi", env),
        ):
            token = sign_in(coupe_port)
            auth = {"Authorization": f"Bearer {token}"}
            # Warm both servers up (imports, slide opened), as a viewer's first request does.
            warm_up = [
                (
                    "coupe",
                    coupe_port,
                    [f"/slides/{i}.dzi" for i in (prebuilt_id, rendered_id)],
                    auth,
                ),
                ("baseline", baseline_port, ["/slide.dzi"], {}),
            ]
            for server, port, urls, headers in warm_up:
                run_pass(
                    scenario="warm-up", server=server, port=port, urls=urls, headers=headers,
                    clients=1, seconds=seconds,
                )  # fmt: skip
            plan: list[tuple[str, str, int, int | None, list[str], dict[str, str]]] = [
                ("pre-built, first request", "coupe", coupe_port, prebuilt_id, high, auth),
                ("pre-built, repeated", "coupe", coupe_port, prebuilt_id, high, auth),
                ("on the fly, uncached", "coupe", coupe_port, rendered_id, high, auth),
                ("on the fly, cached", "coupe", coupe_port, rendered_id, high, auth),
                ("DeepZoomGenerator, first request", "baseline", baseline_port, None, high, {}),
                ("DeepZoomGenerator, repeated", "baseline", baseline_port, None, high, {}),
                ("on the fly, low levels, cold", "coupe", coupe_port, rendered_id, low, auth),
                ("DeepZoomGenerator, low levels", "baseline", baseline_port, None, low, {}),
            ]
            for scenario, server, port, slide_id, addresses, headers in plan:
                prefix = f"/slides/{slide_id}_files/" if slide_id is not None else "/slide_files/"
                urls = [prefix + address for address in addresses]
                result = run_pass(
                    scenario=scenario, server=server, port=port, urls=urls, headers=headers,
                    clients=clients, seconds=seconds,
                )  # fmt: skip
                passes.append(result)
                print(
                    f"{scenario:36} {result.ok:5d} ok {result.errors:3d} err  "
                    f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  "
                    f"{result.tiles_per_s:7.1f} tiles/s",
                    flush=True,
                )
    by_name = {p.scenario: p for p in passes}
    prebuilt = by_name["pre-built, first request"]
    uncached = by_name["on the fly, uncached"]
    with open_slide(slide) as source:
        width, height = source.dimensions
    return {
        "benchmark": "serving",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "slide": {"name": slide.name, "width_px": width, "height_px": height},
        "pyramid_build_s": round(build_s, 2),
        "clients": clients,
        "requests_per_pass": requests,
        "seconds_per_pass_max": seconds,
        "targets": TARGETS,
        "met": {
            "prebuilt_p99_ms": prebuilt.p99_ms < TARGETS["prebuilt_p99_ms"],
            "prebuilt_tiles_per_s": prebuilt.tiles_per_s > TARGETS["prebuilt_tiles_per_s"],
            "rendered_uncached_p99_ms": uncached.p99_ms < TARGETS["rendered_uncached_p99_ms"],
        },
        "passes": [asdict(p) for p in passes],
    }


def markdown(report: dict[str, object]) -> str:
    """The report as a markdown table."""
    slide = report["slide"]
    info = report["machine"]
    assert isinstance(slide, dict) and isinstance(info, dict)
    met = report["met"]
    assert isinstance(met, dict)
    lines = [
        f"# Tile serving benchmark ({str(report['date'])[:10]})",
        "",
        f"Slide {slide['width_px']}x{slide['height_px']} (generated Aperio SVS), tile 254, "
        f"overlap 1, JPEG Q75; {report['clients']} concurrent keep-alive clients on loopback, "
        f"up to {report['requests_per_pass']} distinct tiles per pass from the three highest "
        "levels (the low-level passes take every tile below them). The app verifies a bearer "
        "token and the user's access to the slide (both in the database) on every tile; "
        "the baseline (OpenSlide's DeepZoomGenerator behind http.server) checks nothing. "
        "Client threads run on the same machine as the servers and compete for its cores.",
        "",
        "| scenario | server | tiles | errors | p50 ms | p90 ms | p99 ms | max ms | tiles/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    passes = report["passes"]
    assert isinstance(passes, list)
    for p in passes:
        lines.append(
            f"| {p['scenario']} | {p['server']} | {p['ok']} | {p['errors']} | {p['p50_ms']} | "
            f"{p['p90_ms']} | {p['p99_ms']} | {p['max_ms']} | {p['tiles_per_s']} |"
        )
    lines += [
        "",
        "Targets: pre-built p99 < 50 ms ({}) and > 500 tiles/s ({}); on the fly uncached "
        "p99 < 250 ms ({}).".format(*("met" if met[k] else "missed" for k in TARGETS)),
        "",
        f"Machine: {info['cpu']}, {info['usable_cpus']} usable of {info['logical_cpus']} "
        f"logical CPUs, {info['ram_gb']} GB RAM, Python {info['python']}; "
        f"load average at the end {info['load_average']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="20000x15000", help="generated slide WIDTHxHEIGHT")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3001x2017, 200 tiles")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="tiles per pass at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per pass at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=_BENCH_DIR / "results")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where slides are kept")
    args = parser.parse_args(argv)
    size = "3001x2017" if args.quick else args.size
    width, height = (int(part) for part in size.lower().split("x"))
    requests = min(args.requests, 200) if args.quick else args.requests
    slide = ensure_synthetic_slide("aperio-svs", width, height, args.cache_dir)
    report = measure(
        slide, clients=args.clients, requests=requests, seconds=args.seconds, seed=args.seed
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serving.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "serving.md").write_text(markdown(report))
    print(f"wrote {args.out / 'serving.json'} and {args.out / 'serving.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
