"""Benchmark: Deep Zoom tile serving by the Coupe app, against OpenSlide's DeepZoomGenerator.

Run ``python -m benchmarks.serving`` (``--quick`` for a smoke run on a small slide). The app
runs under uvicorn on 127.0.0.1 (a free port) with two server processes, as ``coupe serve`` runs
it on this 2-core machine (one per core); ``--processes 2,4 --proxy caddy`` adds N
single-process servers behind Caddy (``benchmarks/_proxy.py``), as a deployment runs them, and
``--repeats`` medians over fresh servers; ``--tile-cache-url redis://...`` adds the most
processes once more sharing that Redis tile cache (COUPE_TILE_CACHE_URL), ``--access-log`` the
first direct setup once more logging every request as ``coupe serve`` does. All on a temporary
data folder with two slides showing the same generated Aperio SVS (``ensure_synthetic_slide``):
one with a pre-built pyramid, one without (tiles rendered on the fly). The baseline, in the
same run, is ``benchmarks/_deepzoom_server.py``: OpenSlide's ``DeepZoomGenerator`` behind a
minimal ``ThreadingHTTPServer``. Both serve tile 254, overlap 1, JPEG Q75.

Clients are ``--clients`` threads with one keep-alive connection each, on loopback, sharing one
list of tile addresses: distinct addresses drawn at random from the three full-resolution-most
Deep Zoom levels (where nearly all of a slide's tiles are), so a first pass is uncached and a
second pass over the same list is cached. The app's requests carry a bearer token, verified
on every tile against its server-side session, and go through the access check in the
database on every tile, as the viewer's do; the baseline has no authentication at all.
Each pass stops after its requests or ``--seconds``. ``--profile SECONDS`` samples one API
process with py-spy (installed on its own: not a project dependency) during an extra pre-built
pass and sorts the samples by what the time went to (``benchmarks/_profile.py``). Results:
``serving.json`` and ``serving.md`` in ``--out`` (a ``## Notes`` section of the previous
``serving.md`` is kept).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import psutil

from benchmarks._machine import cpu_model
from benchmarks._profile import breakdown
from benchmarks._proxy import (
    ProxyUnavailable,
    ServerSet,
    caddy_executable,
    free_port,
    running,
)
from benchmarks._serving_passes import Pass, run_pass, timed_pass
from benchmarks._serving_report import TARGETS, markdown, summarize, targets_met
from benchmarks._serving_setups import PROXIES, Setup, api_servers, parse_setups
from benchmarks.results_files import with_kept_notes
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
    model = cpu_model()
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }


def _profile_pass(
    servers: ServerSet, *, setup: str, urls: list[str], headers: dict[str, str],
    clients: int, seconds: float, out: Path,
) -> dict[str, object]:  # fmt: skip
    """Pre-built tiles for ``seconds`` while py-spy samples one API process."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        return {"error": "py-spy is not installed (.venv/bin/pip install py-spy)"}
    raw = out / "serving-profile.folded"
    command = [
        pyspy, "record", "--pid", str(servers.api_pids[0]), "--duration", str(round(seconds)),
        "--rate", "100", "--gil", "--format", "raw", "--output", str(raw),
    ]  # fmt: skip
    if servers.proxy_pid is None:
        command.append("--subprocesses")  # uvicorn's supervisor: its workers are children
    sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attached before the pass starts
    cycled = urls * (1 + round(seconds * 3000 / max(1, len(urls))))
    result = timed_pass(
        servers, setup=setup, repeat=0, scenario="pre-built, profiled", server="coupe",
        urls=cycled, headers=headers, clients=clients, seconds=seconds,
    )  # fmt: skip
    _, stderr = sampler.communicate(timeout=seconds + 60)
    if sampler.returncode != 0 or not raw.exists():
        return {"error": f"py-spy failed: {stderr.decode(errors='replace')[-500:]}"}
    return {
        "setup": setup,
        "pid_profiled": servers.api_pids[0],
        "pass": asdict(result),
        "folded": raw.name,
        **breakdown(raw.read_text()),
    }


def measure(
    slide: Path,
    *,
    clients: int,
    requests: int,
    seconds: float,
    seed: int,
    setups: Sequence[Setup] = (Setup(SERVER_PROCESSES),),
    repeats: int = 1,
    low_levels: bool = True,
    profile_out: Path | None = None,
    profile_seconds: float = 15.0,
) -> dict[str, object]:
    """Run every pass of every setup ``repeats`` times; the report as a JSON-ready dict.

    Each repeat starts every server afresh, so "uncached" is uncached in every repeat.
    """
    high, low = tile_addresses(slide, requests, seed)
    passes: list[Pass] = []
    profile: dict[str, object] | None = None
    profiled = next((s for s in setups if s.proxy), setups[0]) if profile_out else None
    with tempfile.TemporaryDirectory(prefix="coupe-serving-") as tmp:
        data_dir = Path(tmp) / "data"
        build_started = time.perf_counter()
        prebuilt_id, rendered_id = prepare_data(data_dir, slide)
        build_s = time.perf_counter() - build_started
        env = {
            **os.environ,
            "COUPE_DATA_DIR": str(data_dir),
            "COUPE_SECRET_KEY": _SECRET,
            "COUPE_RUN_BACKGROUND_WORKERS": "false",
        }
        env.pop("COUPE_TILE_CACHE_URL", None)  # each process its own cache, as by default

        def urls_for(slide_id: int | None, addresses: list[str]) -> list[str]:
            prefix = f"/slides/{slide_id}_files/" if slide_id is not None else "/slide_files/"
            return [prefix + address for address in addresses]

        for repeat in range(repeats):
            # Each repeat starts at the next setup: the machine's load drifts over minutes, and
            # a fixed order would give the same setup the same moment of every repeat.
            shift = repeat % len(setups)
            for setup in [*setups[shift:], *setups[:shift]]:
                with api_servers(setup, env) as servers:
                    auth = {"Authorization": f"Bearer {sign_in(servers.port)}"}
                    # Warm up (imports, slides opened), as a viewer's first request does; with
                    # several processes, enough requests that each one has opened both.
                    warm = [f"/slides/{i}.dzi" for i in (prebuilt_id, rendered_id)]
                    run_pass(
                        scenario="warm-up", server="coupe", port=servers.port,
                        urls=warm * 4 * setup.processes, headers=auth, clients=setup.processes,
                        seconds=seconds,
                    )  # fmt: skip
                    plan = [
                        ("pre-built, first request", prebuilt_id, high),
                        ("pre-built, repeated", prebuilt_id, high),
                        ("on the fly, uncached", rendered_id, high),
                        ("on the fly, cached", rendered_id, high),
                    ]
                    if low_levels and repeat == 0 and setup == setups[0]:
                        plan.append(("on the fly, low levels, cold", rendered_id, low))
                    for scenario, slide_id, addresses in plan:
                        passes.append(
                            timed_pass(
                                servers,
                                setup=setup.name,
                                repeat=repeat,
                                scenario=scenario,
                                server="coupe",
                                urls=urls_for(slide_id, addresses),
                                headers=auth,
                                clients=clients,
                                seconds=seconds,
                            )
                        )
                    if profile_out is not None and repeat == 0 and setup == profiled:
                        profile = _profile_pass(
                            servers, setup=setup.name, urls=urls_for(prebuilt_id, high),
                            headers=auth, clients=clients, seconds=profile_seconds,
                            out=profile_out,
                        )  # fmt: skip
            port = free_port()
            baseline = [
                sys.executable, str(_BENCH_DIR / "_deepzoom_server.py"), str(slide), str(port)
            ]  # fmt: skip
            with running(baseline, port, "/slide.dzi", env) as pid:
                servers = ServerSet(port=port, api_pids=(pid,), proxy_pid=None)
                run_pass(
                    scenario="warm-up", server="baseline", port=port, urls=["/slide.dzi"],
                    headers={}, clients=1, seconds=seconds,
                )  # fmt: skip
                baseline_plan = [("DeepZoomGenerator, first request", high)]
                baseline_plan.append(("DeepZoomGenerator, repeated", high))
                if low_levels and repeat == 0:
                    baseline_plan.append(("DeepZoomGenerator, low levels", low))
                for scenario, addresses in baseline_plan:
                    passes.append(
                        timed_pass(
                            servers,
                            setup=BASELINE_SETUP,
                            repeat=repeat,
                            scenario=scenario,
                            server="baseline",
                            urls=urls_for(None, addresses),
                            headers={},
                            clients=clients,
                            seconds=seconds,
                        )
                    )
    summary = summarize([asdict(p) for p in passes])
    met_by_setup = {setup.name: targets_met(summary, setup.name) for setup in setups}
    headline = next((s for s in setups if s.proxy), setups[0]).name
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
        "repeats": repeats,
        "setups": [setup.name for setup in setups],
        "headline_setup": headline,
        "targets": TARGETS,
        "met": met_by_setup[headline],
        "met_by_setup": met_by_setup,
        "summary": summary,
        "profile": profile,
        "passes": [asdict(p) for p in passes],
    }


BASELINE_SETUP = "DeepZoomGenerator, 1 process"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="20000x15000", help="generated slide WIDTHxHEIGHT")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3001x2017, 200 tiles")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000, help="tiles per pass at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per pass at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--processes", default=str(SERVER_PROCESSES), help="API processes per setup, e.g. 2,4"
    )
    parser.add_argument(
        "--proxy", choices=PROXIES, default=None,
        help="run the processes behind this proxy (plus the first count direct, to compare)",
    )  # fmt: skip
    parser.add_argument(
        "--tile-cache-url", metavar="REDIS_URL",
        help="add a setup of the most processes sharing this Redis tile cache (its Coupe "
        "tile entries are deleted before each repeat: use a Redis database of its own)",
    )  # fmt: skip
    parser.add_argument(
        "--access-log", action="store_true",
        help="add the first direct setup once more with uvicorn's access log (coupe serve's)",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setup (medians)")
    parser.add_argument("--no-low-levels", action="store_true", help="skip the low-level passes")
    parser.add_argument(
        "--profile", type=float, default=0.0, metavar="SECONDS",
        help="sample one API process with py-spy during a pre-built pass this long",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=_BENCH_DIR / "results")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where slides are kept")
    args = parser.parse_args(argv)
    try:
        setups = parse_setups(args.processes, args.proxy, args.tile_cache_url, args.access_log)
    except ValueError as error:
        parser.error(str(error))
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.proxy == "caddy":
        try:
            caddy_executable()
        except ProxyUnavailable as error:
            parser.error(str(error))
    size = "3001x2017" if args.quick else args.size
    width, height = (int(part) for part in size.lower().split("x"))
    requests = min(args.requests, 200) if args.quick else args.requests
    slide = ensure_synthetic_slide("aperio-svs", width, height, args.cache_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    report = measure(
        slide, clients=args.clients, requests=requests, seconds=args.seconds, seed=args.seed,
        setups=setups, repeats=args.repeats, low_levels=not args.no_low_levels,
        profile_out=args.out if args.profile > 0 else None, profile_seconds=args.profile,
    )  # fmt: skip
    (args.out / "serving.json").write_text(json.dumps(report, indent=2) + "\n")
    md_path = args.out / "serving.md"
    previous = md_path.read_text() if md_path.exists() else None
    md_path.write_text(with_kept_notes(previous, markdown(report)))
    print(f"wrote {args.out / 'serving.json'} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
