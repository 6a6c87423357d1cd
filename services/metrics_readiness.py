"""Readiness: may this process take traffic? The database, its schema, the job runner.

``/health`` only says the event loop answers; ``/ready`` asks what a request needs: the
database answers a query, its schema is the revision this code was written for (a replica of
an older release, or a database not yet upgraded, is not ready), and tiling jobs have a runner:
in the process that holds ``data_dir/background.lock`` its thread is alive; any other process
is ready while some process holds that lock (or while background work is turned off here).
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.state import AppState
from worklist.migrate import alembic_config

__all__ = ["Check", "Readiness", "check_readiness", "migration_heads"]

BACKGROUND_LOCK = "background.lock"


@dataclass(frozen=True)
class Check:
    """One readiness check: passed or not, and what it found (never a secret)."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    """Every check by name; ready when all passed."""

    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks.values())


def migration_heads() -> frozenset[str]:
    """The head revisions of the migrations this code carries (read once, at start)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def check_readiness(state: AppState) -> Readiness:
    """Run the checks of the module docstring against ``state``."""
    database, migrations = _check_database(state)
    return Readiness(
        checks={"database": database, "migrations": migrations, "job_runner": _check_runner(state)}
    )


def _check_database(state: AppState) -> tuple[Check, Check]:
    heads = state.schema_heads
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        # The class names the failure (refused, timed out) without the URL or its password.
        failed = Check(False, f"the database did not answer: {type(exc).__name__}")
        return failed, Check(False, "not checked: the database did not answer")
    database = Check(True, f"{state.engine.dialect.name} answered")
    wanted = ", ".join(sorted(heads))
    if current == heads:
        return database, Check(True, f"the schema is at {wanted}, this code's newest")
    found = ", ".join(sorted(current)) or "no revision (an empty database)"
    known = ScriptDirectory.from_config(alembic_config())
    unknown = [revision for revision in current if not _known(known, revision)]
    if unknown:
        why = "unknown to this code: a newer release migrated it; run that release"
    else:
        why = "behind this code: run `coupe db upgrade`"
    return database, Check(False, f"the schema is at {found}, {why} (wanted {wanted})")


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic raises its own CommandError/ResolutionError family
        return False


def _check_runner(state: AppState) -> Check:
    if not state.settings.run_background_workers:
        return Check(
            True,
            "background workers are off in this process (COUPE_RUN_BACKGROUND_WORKERS=false)",
        )
    if state.holds_background_lock:
        if _runner_alive(state):
            return Check(True, f"runs in this process (pid {os.getpid()})")
        return Check(False, "the job runner thread of this process has stopped")
    lock = state.settings.data_dir.resolve() / BACKGROUND_LOCK
    if _held_elsewhere(lock):
        return Check(True, f"runs in another process (it holds {BACKGROUND_LOCK})")
    return Check(
        False,
        f"no process runs the job runner: {BACKGROUND_LOCK} is free (its holder stopped); "
        "restart this process to take it",
    )


def _runner_alive(state: AppState) -> bool:
    return state.jobs.alive


def _held_elsewhere(lock: Path) -> bool:
    """Whether some process holds the flock on ``lock``, found without taking it.

    Taking the lock to test it, even for a moment, could make a process that starts at that
    instant miss it and run no workers: the kernel's lock table (/proc/locks) is read instead,
    and only where it cannot be read is the lock tried.
    """
    try:
        status = lock.stat()
    except FileNotFoundError:
        return False
    key = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return _try_lock(lock)
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; waiters are marked "->".
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key:
            return True
    return False


def _try_lock(lock: Path) -> bool:
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False
