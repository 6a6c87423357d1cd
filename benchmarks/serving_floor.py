"""What serving a pre-built tile costs without Coupe's application: the floor under its figure.

``python -m benchmarks.serving_floor`` builds the pyramid of the serving benchmark's slide and
serves its files, with the serving benchmark's clients (20 keep-alive threads, the same 2,000
tile addresses), by two servers that do nothing but read the file and answer:

- a bare ASGI application under uvicorn with two worker processes (uvloop, httptools, no
  access log), as the API runs: the cost of Python and uvicorn per request, with no framework,
  no middleware, no sign-in, no access check and no worker thread;
- Caddy's ``file_server`` (Go), as a proxy that served the tiles itself would.

Against the serving benchmark's pre-built figures, the difference is what Coupe's own path
costs (FastAPI and its middleware, the worker-thread hand-over, the session and access check).
Results: ``serving-floor.json`` in ``--out``; the notes in ``serving.md`` use them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks._proxy import ServerSet, caddy_executable, free_port, running, wait_until_up
from benchmarks._serving_passes import timed_pass
from benchmarks.serving import machine, tile_addresses
from tiling.pyramid import PyramidOptions, build_pyramid
from tiling.samples import ensure_synthetic_slide

_BENCH_DIR = Path(__file__).resolve().parent
_ROOT_ENV = "COUPE_BENCH_TILE_ROOT"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """The bare ASGI application: the file under the root the path names, or 404."""
    if scope["type"] != "http":
        return
    root = Path(os.environ[_ROOT_ENV])
    try:
        body = (root / scope["path"].lstrip("/")).read_bytes()
        status = 200
    except OSError:
        body, status = b"", 404
    headers = [(b"content-type", b"image/jpeg"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _passes(servers: ServerSet, name: str, urls: list[str], clients: int) -> list[dict[str, Any]]:
    """A warm-up pass (the page cache, the connections) and the measured one."""
    results = []
    for scenario in (f"{name}, warm-up", name):
        result = timed_pass(
            servers, setup="floor", repeat=0, scenario=scenario, server=name, urls=urls,
            headers={}, clients=clients, seconds=30.0,
        )  # fmt: skip
        results.append(asdict(result))
    return results[1:]


def measure(slide: Path, *, clients: int, requests: int, seed: int) -> dict[str, Any]:
    """Both floors on ``slide``'s pyramid; the report as a JSON-ready dict."""
    high, _ = tile_addresses(slide, requests, seed)
    urls = ["/slide_files/" + address for address in high]
    passes: list[dict[str, Any]] = []
    work = _BENCH_DIR.parent / ".coupe"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coupe-floor-", dir=work) as tmp:
        build_pyramid(slide, Path(tmp), PyramidOptions(), name="slide")
        env = {**os.environ, _ROOT_ENV: tmp}
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", "benchmarks.serving_floor:app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log", "--workers", "2",
        ]  # fmt: skip
        with running(command, port, "/slide.dzi", env) as pid:
            servers = ServerSet(port=port, api_pids=(pid,), proxy_pid=None)
            passes += _passes(servers, "bare ASGI app, uvicorn 2 workers", urls, clients)
        port = free_port()
        config = Path(tmp) / "Caddyfile"
        config.write_text(
            f"{{\n\tadmin off\n\tauto_https off\n}}\n\n"
            f"http://127.0.0.1:{port} {{\n\troot * {tmp}\n\tfile_server\n}}\n"
        )
        caddy_env = {**env, "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp, "HOME": tmp}
        caddy = subprocess.Popen(
            [caddy_executable(), "run", "--config", str(config), "--adapter", "caddyfile"],
            env=caddy_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(port, "/slide.dzi", caddy, timeout_s=30)
            servers = ServerSet(port=port, api_pids=(caddy.pid,), proxy_pid=None)
            passes += _passes(servers, "Caddy file_server", urls, clients)
        finally:
            caddy.terminate()
            caddy.wait(timeout=15)
    return {
        "benchmark": "serving_floor",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "slide": slide.name,
        "clients": clients,
        "passes": passes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="20000x15000", help="generated slide WIDTHxHEIGHT")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=_BENCH_DIR / "results")
    args = parser.parse_args(argv)
    width, height = (int(part) for part in args.size.lower().split("x"))
    slide = ensure_synthetic_slide("aperio-svs", width, height)
    report = measure(slide, clients=args.clients, requests=args.requests, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serving-floor.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out / 'serving-floor.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
