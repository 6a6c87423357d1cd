"""Several API processes behind Caddy, for the serving benchmark (``--proxy caddy``).

A deployment runs N single-process API servers (``coupe serve --workers 1`` each, as
``docker/compose.yaml`` does) behind a reverse proxy. Here the N processes are uvicorn on
loopback ports of their own (``--workers 1``, no access log: the proxy is where a site logs
requests), and Caddy (Debian's ``/usr/bin/caddy``; ``make bench`` installs it) listens on one
port and spreads the requests over them: ``reverse_proxy`` with the N upstreams, least
connections first, plain HTTP/1.1 on loopback with keep-alive on both sides, no TLS, no admin
endpoint and no access log (what a site would add costs extra and is not measured).

The process helpers every server benchmark uses live here too: a free loopback port, a server
process run until a ``with`` block ends once it answers a probe, and :func:`direct` (one
uvicorn with N workers on one port, as ``coupe serve --workers N`` runs).
"""

from __future__ import annotations

import http.client
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent
CADDY = "/usr/bin/caddy"
KEEPALIVE_IDLE_CONNS_PER_UPSTREAM = 64
"""Idle keep-alive connections Caddy keeps to each upstream: more than the benchmark's 20
clients, so no request waits for a new connection once the pool is warm."""


class ProxyUnavailable(RuntimeError):
    """Caddy is not installed where the benchmark looks for it."""


@dataclass(frozen=True)
class ServerSet:
    """What the clients talk to and the processes whose CPU time counts."""

    port: int
    api_pids: tuple[int, ...]
    proxy_pid: int | None


def caddy_executable() -> str:
    """Caddy's path: Debian's, else one on PATH; :class:`ProxyUnavailable` without one."""
    found = CADDY if Path(CADDY).exists() else shutil.which("caddy")
    if found is None:
        raise ProxyUnavailable(
            f"{CADDY} is absent: install Debian's caddy (apt-get install caddy; make bench "
            "does it as root) or run the serving benchmark without --proxy"
        )
    return found


def caddyfile(listen_port: int, upstream_ports: Sequence[int]) -> str:
    """The Caddyfile: one plain-HTTP site on loopback proxying to the upstreams."""
    upstreams = " ".join(f"127.0.0.1:{port}" for port in upstream_ports)
    return f"""{{
\tadmin off
\tauto_https off
}}

http://127.0.0.1:{listen_port} {{
\treverse_proxy {upstreams} {{
\t\tlb_policy least_conn
\t\ttransport http {{
\t\t\tkeepalive 120s
\t\t\tkeepalive_idle_conns_per_host {KEEPALIVE_IDLE_CONNS_PER_UPSTREAM}
\t\t}}
\t}}
}}
"""


def uvicorn_command(port: int, workers: int, access_log: bool = False) -> list[str]:
    """The API on ``port`` as the benchmark runs it: uvicorn, ``workers`` processes; with
    ``access_log``, logging every request at info level as ``coupe serve`` does."""
    logging = (
        ["--log-level", "info"] if access_log else ["--log-level", "warning", "--no-access-log"]
    )
    return [
        sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), *logging, "--workers", str(workers),
    ]  # fmt: skip


@contextmanager
def caddy_in_front(
    listen_port: int, upstream_ports: Sequence[int], env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Caddy proxying ``listen_port`` to the upstreams until the ``with`` block ends."""
    executable = caddy_executable()
    with tempfile.TemporaryDirectory(prefix="coupe-caddy-") as tmp:
        config = Path(tmp) / "Caddyfile"
        config.write_text(caddyfile(listen_port, upstream_ports))
        # Caddy keeps state under XDG folders (certificates, autosave): a throw-away one here.
        caddy_env = {**env, "XDG_DATA_HOME": tmp, "XDG_CONFIG_HOME": tmp, "HOME": tmp}
        process = subprocess.Popen(
            [executable, "run", "--config", str(config), "--adapter", "caddyfile"],
            env=caddy_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            yield process
        finally:
            _stop(process)


@contextmanager
def behind_proxy(
    processes: int, *, env: dict[str, str], access_log: bool = False
) -> Iterator[ServerSet]:
    """``processes`` single-process API servers and Caddy in front of them."""
    ports = [free_port() for _ in range(processes)]
    listen = free_port()
    with ExitStack() as stack:
        # One at a time: on two cores, starting four at once only makes each start slower.
        pids = [
            stack.enter_context(running(uvicorn_command(port, 1, access_log), port, "/health", env))
            for port in ports
        ]
        proxy = stack.enter_context(caddy_in_front(listen, ports, env))
        wait_until_up(listen, "/health", proxy, timeout_s=30)
        yield ServerSet(port=listen, api_pids=tuple(pids), proxy_pid=proxy.pid)


@contextmanager
def direct(processes: int, *, env: dict[str, str], access_log: bool = False) -> Iterator[ServerSet]:
    """The API as one uvicorn with ``processes`` workers on one port (no proxy)."""
    port = free_port()
    command = uvicorn_command(port, processes, access_log)
    with running(command, port, "/health", env) as pid:
        yield ServerSet(port=port, api_pids=(pid,), proxy_pid=None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(port: int, path: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Return once ``GET path`` on ``port`` answers; raise if ``process`` exits first."""
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
def running(command: Sequence[str], port: int, probe: str, env: dict[str, str]) -> Iterator[int]:
    """Run a server process until the ``with`` block ends; yields its process id."""
    process = subprocess.Popen(
        list(command), cwd=_REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_until_up(port, probe, process, timeout_s=60)
        yield process.pid
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    if process.returncode not in (0, -15) and stderr:
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
