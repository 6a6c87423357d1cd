"""Helpers for the real-cluster tests: ``dask scheduler``, ``dask worker`` and ``coupe serve``
started as separate commands on loopback, the way ``docker/compose.yaml`` runs them.

Every command runs in a process group of its own (a ``dask worker`` is a nanny and the worker
process it starts), and :class:`Processes` kills every group it started when its ``with``
block ends, however it ends, and checks that nothing of them is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx

from tests.postgres_support import PG_ENV, postgres_schema

__all__ = [
    "PG_ENV",
    "WORKER_CPUS",
    "Backoffice",
    "Processes",
    "RealCluster",
    "compare_pyramids",
    "deployment_database",
    "free_port",
    "local_coupe_tile",
    "start_backoffice",
    "start_cluster",
    "wait_until",
]

BIN_DIR = Path(sys.executable).parent
"""The virtual environment's commands: ``dask`` and ``coupe`` as a deployment installs them."""
PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_CPUS = 2
"""The CPUs the workers share, as a container limit would: a build takes as long on a large
CI machine as on a small one, so the kill test still finds it partway."""
STOP_GRACE_S = 5.0
"""How long a stopped command may take to exit on SIGTERM before its group gets SIGKILL."""
_LOG_TAIL_CHARS = 3000

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    explain: Callable[[], str] = lambda: "",
    every_s: float = 0.1,
) -> T:
    """Call ``check`` until it answers something other than None or False; that answer.

    Fails the test after ``timeout_s`` saying what was awaited and ``explain()`` (the state
    seen last, the commands' logs).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer is not None and answer is not False:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:.0f} s waiting for {what}\n{explain()}")
        time.sleep(every_s)


@dataclass
class _Command:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Processes:
    """The commands a test started; ``stop_all`` (at the end of ``running()``) kills them."""

    log_dir: Path
    commands: list[_Command] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        *,
        cpus: set[int] | None = None,
    ) -> int:
        """Start ``argv`` in a new process group, output to ``log_dir/NAME.log``, on ``cpus``
        only if given (the processes it starts inherit that); its pid."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if cpus is not None:
            # Right after exec, long before a nanny starts its worker process.
            os.sched_setaffinity(process.pid, cpus)
        self.commands.append(_Command(name, process, log_path))
        return process.pid

    def logs(self) -> str:
        """The end of every command's output, with its exit status if it exited."""
        parts = []
        for command in self.commands:
            status = command.process.poll()
            state = "running" if status is None else f"exited with {status}"
            text = command.log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
            parts.append(f"--- {command.name} ({state}):\n{text}")
        return "\n".join(parts)

    def stop(self, name: str, *, grace_s: float = 60.0) -> int:
        """SIGTERM the command ``name`` and wait for it to exit (SIGKILL after ``grace_s``);
        its exit status. It is no longer one of the commands (its log stays)."""
        [command] = [c for c in self.commands if c.name == name]
        _signal_group(command.process.pid, signal.SIGTERM)
        try:
            command.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(command.process.pid, signal.SIGKILL)
        status = command.process.wait(timeout=STOP_GRACE_S)
        self.commands.remove(command)
        return status

    def check_running(self) -> None:
        """Fail if a command has exited."""
        gone = [c.name for c in self.commands if c.process.poll() is not None]
        if gone:
            raise AssertionError(f"{', '.join(gone)} exited early\n{self.logs()}")

    def stop_all(self) -> None:
        """SIGTERM every group, SIGKILL what is left after the grace time; fail if any
        process of them survives."""
        for command in reversed(self.commands):
            _signal_group(command.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for command in self.commands:
            try:
                command.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The group outlives its leader when a child (a nanny's worker) is left.
            _signal_group(command.process.pid, signal.SIGKILL)
            command.process.wait(timeout=STOP_GRACE_S)
        deadline = time.monotonic() + STOP_GRACE_S
        while True:
            survivors = {
                c.name: pids for c in self.commands if (pids := _group_members(c.process.pid))
            }
            if not survivors:
                return
            if time.monotonic() > deadline:  # a SIGKILLed process takes a moment to go
                raise AssertionError(f"processes survived SIGKILL: {survivors}")
            time.sleep(0.1)

    @classmethod
    @contextmanager
    def running(cls, log_dir: Path) -> Iterator[Processes]:
        """Processes started inside the block, all stopped when it ends."""
        processes = cls(log_dir)
        try:
            yield processes
        finally:
            processes.stop_all()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_members(pgid: int) -> list[int]:
    """The live processes of group ``pgid`` (Linux ``/proc``); zombies, dead but not yet
    reaped by whoever adopted them, do not count."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _clean_environment(**settings: str) -> dict[str, str]:
    """This environment without any ``COUPE_*`` or ``DASK_*`` setting, plus ``settings``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COUPE_", "DASK_", "PYTEST_"))
    }
    env.update(settings)
    return env


# --- The dask cluster ---------------------------------------------------------------------------


@dataclass
class RealCluster:
    """A ``dask scheduler`` with ``dask worker`` processes, and a client to look at them."""

    address: str
    client: Any  # distributed.Client
    worker_names: list[str]
    processes: Processes

    def wait_for_workers(self, timeout_s: float = 60) -> None:
        """Wait until every worker started has joined the scheduler."""

        def all_joined() -> bool:
            self.processes.check_running()
            return len(self.workers()) == len(self.worker_names)

        wait_until(
            all_joined,
            timeout_s=timeout_s,
            what=f"{len(self.worker_names)} dask workers to join",
            explain=self.processes.logs,
        )

    def workers(self) -> dict[str, dict[str, Any]]:
        """The scheduler's view of its workers, by worker address (``name``, ...)."""
        info: dict[str, dict[str, Any]] = self.client.scheduler_info(n_workers=-1)["workers"]
        return info

    def worker_pid(self, address: str) -> int:
        """The process id of the worker at ``address`` (the process its nanny started)."""
        pids: dict[str, int] = self.client.run(os.getpid, workers=[address])
        return pids[address]

    def processing(self, prefix: str) -> list[str]:
        """The addresses of the workers running a task whose key starts with ``prefix``."""
        running: dict[str, Any] = self.client.processing()
        return sorted(
            address
            for address, keys in running.items()
            if any(str(key).startswith(prefix) for key in keys)
        )

    def task_prefixes(self) -> dict[str, dict[str, int]]:
        """How many tasks of each kind (key prefix) the scheduler has seen, by state."""

        def counts(dask_scheduler: Any) -> dict[str, dict[str, int]]:
            return {
                name: {state: n for state, n in prefix.state_counts.items() if n}
                for name, prefix in dask_scheduler.task_prefixes.items()
            }

        answer: dict[str, dict[str, int]] = self.client.run_on_scheduler(counts)
        return answer


@contextmanager
def start_cluster(
    processes: Processes, work_dir: Path, *, n_workers: int = 2
) -> Iterator[RealCluster]:
    """``dask scheduler`` and ``n_workers`` ``dask worker ADDRESS --nthreads 1`` on loopback,
    each worker with its own local directory. Returns once the scheduler listens; the workers
    may still be starting (:meth:`RealCluster.wait_for_workers`)."""
    from distributed import Client

    work_dir.mkdir(parents=True, exist_ok=True)
    scheduler_file = work_dir / "scheduler.json"
    env = _clean_environment()
    processes.start(
        "dask-scheduler",
        [
            str(BIN_DIR / "dask"),
            "scheduler",
            # Port 0: a free one, which the scheduler file tells.
            *"--host 127.0.0.1 --port 0 --no-dashboard".split(),
            # The HTTP endpoint (health, metrics) stays on, on a free port, not 8787.
            *"--dashboard-address 127.0.0.1:0 --scheduler-file".split(),
            str(scheduler_file),
        ],
        env,
    )

    def address_written() -> str | None:
        processes.check_running()
        try:
            address: str = json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            return None
        return address

    address = wait_until(
        address_written, timeout_s=30, what="the dask scheduler's address", explain=processes.logs
    )
    names = [f"worker-{n}" for n in range(1, n_workers + 1)]
    cpus = set(sorted(os.sched_getaffinity(0))[:WORKER_CPUS])
    for name in names:
        processes.start(
            f"dask-{name}",
            [
                str(BIN_DIR / "dask"),
                "worker",
                address,
                *f"--name {name} --nworkers 1 --nthreads 1 --host 127.0.0.1".split(),
                *"--no-dashboard --dashboard-address 127.0.0.1:0 --local-directory".split(),
                str(work_dir / name),
            ],
            env,
            cpus=cpus,
        )
    client = Client(address, timeout="30s", set_as_default=False)
    try:
        yield RealCluster(address, client, names, processes)
    finally:
        client.close()


# --- The backoffice -----------------------------------------------------------------------------


@dataclass
class Backoffice:
    """``coupe serve`` (the command ``name``) on a free port; ``http`` talks to it."""

    name: str
    base_url: str
    http: httpx.Client

    def sign_in(self, username: str, password: str) -> dict[str, str]:
        """The headers of requests as ``username``."""
        answer = self.http.post("/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def close(self) -> None:
        """Close the HTTP client (the command is stopped with the others, or by name)."""
        self.http.close()


def start_backoffice(
    processes: Processes, data_dir: Path, database_url: str, scheduler: str, **settings: str
) -> Backoffice:
    """``coupe serve`` (one process) on ``data_dir`` and ``database_url`` with its tiling jobs
    on ``scheduler``; ``settings`` are more ``COUPE_*`` variables. Returns once ``/health``
    answers; close it."""
    port = free_port()
    env = _clean_environment(
        COUPE_DATA_DIR=str(data_dir),
        COUPE_DATABASE_URL=database_url,
        COUPE_DASK_SCHEDULER=scheduler,
        COUPE_SECRET_KEY="test-secret-key-not-for-production",
        COUPE_IMPORT_POLL_S="0.5",
        COUPE_JOB_POLL_S="0.5",
        **settings,
    )
    processes.start(
        "coupe-serve",  # one at a time
        [
            str(BIN_DIR / "coupe"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env,
    )
    base_url = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base_url, timeout=10.0)

    def healthy() -> bool:
        processes.check_running()
        try:
            return http.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, timeout_s=60, what="coupe serve's /health", explain=processes.logs)
    except BaseException:
        http.close()
        raise
    return Backoffice("coupe-serve", base_url, http)


# --- The database -------------------------------------------------------------------------------


@contextmanager
def deployment_database(data_dir: Path) -> Iterator[str]:
    """The database URL of a deployment: a new schema in the PostgreSQL at
    ``COUPE_TEST_DATABASE_URL`` (as in CI, and as docker/compose.yaml runs), dropped
    afterwards; without it, the data folder's SQLite file."""
    from worklist.db import default_database_url

    if not os.environ.get(PG_ENV):
        yield default_database_url(data_dir.resolve())
        return
    with postgres_schema("coupe_cluster") as url:
        yield url


# --- Pyramids -----------------------------------------------------------------------------------


def local_coupe_tile(slide: Path, out_dir: Path, name: str) -> None:
    """Build ``slide``'s pyramid with the command line, on this machine's threads; the CLI's
    defaults are the options every tiling job uses (``services.jobs.worker``)."""
    subprocess.run(
        [str(BIN_DIR / "coupe"), "tile", str(slide), str(out_dir), "--name", name, "--quiet"],
        cwd=PROJECT_ROOT,
        env=_clean_environment(),
        check=True,
        capture_output=True,
        timeout=300,
    )


MANIFEST_NAME = "coupe-manifest.json"


def _pyramid_files(directory: Path, name: str) -> dict[str, Path]:
    files = {f"{name}.dzi": directory / f"{name}.dzi"}
    files_dir = directory / f"{name}_files"
    for path in files_dir.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(directory))] = path
    return files


def compare_pyramids(built: Path, local: Path, name: str) -> int:
    """Assert the pyramid ``name`` in ``built`` equals the one in ``local`` byte for byte:
    the same ``.dzi``, the same files under ``NAME_files/``. The one exception is the build
    manifest's ``slide_path``: a job builds from the slide's stored copy in the data folder,
    the local build from the file it was given; every other field of it must agree.

    Returns the number of files compared.
    """
    ours, theirs = _pyramid_files(built, name), _pyramid_files(local, name)
    missing, extra = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
    assert not missing and not extra, f"missing {missing[:10]}, extra {extra[:10]}"
    manifest = f"{name}_files/{MANIFEST_NAME}"
    assert manifest in ours, "the pyramid has no build manifest"
    different = [
        key
        for key in sorted(ours)
        if key != manifest and ours[key].read_bytes() != theirs[key].read_bytes()
    ]
    assert not different, f"{len(different)} files differ, e.g. {different[:10]}"
    job_manifest = json.loads(ours[manifest].read_text())
    local_manifest = json.loads(theirs[manifest].read_text())
    job_manifest.pop("slide_path")
    local_manifest.pop("slide_path")
    assert job_manifest == local_manifest
    return len(ours)
