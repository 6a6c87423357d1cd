"""The database half of a backup: a consistent copy out, a restore into an empty database.

SQLite: the online backup API (:meth:`sqlite3.Connection.backup`) copies the whole file in
one step under a read transaction; in WAL mode writers go on meanwhile and the copy is the
database as of that moment. PostgreSQL: a ``REPEATABLE READ`` transaction exports its
snapshot and ``pg_dump --snapshot`` dumps exactly that, so the counts and chain head the
manifest states are read from the same moment as the dump. The dump is ``--format=custom``
and restores with ``pg_restore --no-owner --no-acl`` (the restoring role owns everything).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import (
    Connection,
    Engine,
    String,
    create_engine,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from services.backup_manifest import BackupError, DatabaseFacts
from services.storage import PRIVATE_FILE_MODE
from worklist.audit import GENESIS_HASH
from worklist.audit.sealing import CHAIN_HEAD_ID
from worklist.models import AuditChainHead, AuditEvent, Case, ImportedFile, Slide, TilingJob

__all__ = [
    "POSTGRES_DUMP_NAME",
    "SQLITE_COPY_NAME",
    "DatabaseSnapshot",
    "check_empty_database",
    "check_tools",
    "database_backend",
    "database_error",
    "database_facts",
    "relocate_paths",
    "restore_database",
    "shown_url",
    "snapshot_database",
    "sqlite_file",
]

SQLITE_COPY_NAME = "worklist.sqlite3"
POSTGRES_DUMP_NAME = "worklist.dump"
_PG_TOOL_TIMEOUT_S = 6 * 3600
_PATH_COLUMNS = (
    Slide.file_path,
    TilingJob.source_path,
    TilingJob.output_dir,
    ImportedFile.source_path,
    ImportedFile.stored_path,
)
"""Every column that holds an absolute path into the data directory."""


@dataclass(frozen=True)
class DatabaseSnapshot:
    """The copy's facts, and what the files half needs from the same moment: the slide
    files the database names and the slides whose pyramids belong in the backup."""

    facts: DatabaseFacts
    slide_files: frozenset[str]
    slide_ids: frozenset[int]


def shown_url(url: str) -> str:
    """``url`` as a message may show it (no password)."""
    return make_url(url).render_as_string()


def database_error(url: str, exc: DBAPIError) -> BackupError:
    """``exc`` as one line naming the database (psycopg's messages run over several)."""
    reason = " ".join(str(exc.orig).split())
    return BackupError(f"cannot use the database {shown_url(url)}: {reason}")


def database_backend(url: str) -> str:
    """``sqlite`` or ``postgresql``: the backends a backup knows; BackupError for others."""
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(
            f"cannot back up the database {shown_url(url)}: {backend} is not supported"
        )
    return backend


def sqlite_file(url: str) -> Path:
    """The file of the SQLite database at ``url``, absolute."""
    database = make_url(url).database
    if database in (None, "", ":memory:"):
        raise BackupError(f"the database {shown_url(url)} is not a SQLite file")
    return Path(database).resolve()


def _plain_sqlite_engine(path: Path) -> Engine:
    # Not worklist.db.make_engine: that switches the file to WAL, and a copy stays one file.
    return create_engine(f"sqlite+pysqlite:///{path}", poolclass=NullPool)


def database_facts(connection: Connection) -> DatabaseFacts:
    """Schema revision, audit chain head and counts, as ``connection`` sees them."""
    from alembic.migration import MigrationContext

    heads = sorted(MigrationContext.configure(connection).get_current_heads())
    if not heads:
        raise BackupError("the database holds no Coupe schema: there is nothing to back up")
    head = connection.execute(
        select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(
            AuditChainHead.id == CHAIN_HEAD_ID
        )
    ).one_or_none()

    def count(table: type[object]) -> int:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)

    return DatabaseFacts(
        backend=connection.dialect.name,
        file="",
        schema_revision=",".join(heads),
        audit_chain_seq=int(head.last_seq) if head is not None else 0,
        audit_chain_hash=str(head.last_hash) if head is not None else GENESIS_HASH,
        audit_records=count(AuditEvent),
        cases=count(Case),
        slides=count(Slide),
    )


def _snapshot_of(connection: Connection, file: str) -> DatabaseSnapshot:
    facts = database_facts(connection)
    rows = connection.execute(select(Slide.id, Slide.file_path)).all()
    return DatabaseSnapshot(
        facts=replace(facts, file=file),
        slide_files=frozenset(str(path) for _, path in rows if path),
        slide_ids=frozenset(int(slide_id) for slide_id, _ in rows),
    )


def snapshot_database(url: str, folder: Path) -> DatabaseSnapshot:
    """Copy the database at ``url`` into ``folder`` (a new file, 0600) and read its facts
    from the copy's moment; BackupError says what is missing or unreachable."""
    if database_backend(url) == "sqlite":
        return _snapshot_sqlite(url, folder / SQLITE_COPY_NAME)
    return _snapshot_postgres(url, folder / POSTGRES_DUMP_NAME)


def _snapshot_sqlite(url: str, target: Path) -> DatabaseSnapshot:
    source = sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"there is no database at {source}: nothing to back up")
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    try:
        reader = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            writer = sqlite3.connect(target)
            try:
                reader.backup(writer)  # all pages in one step: one consistent moment
                writer.execute("PRAGMA journal_mode=DELETE")
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database {source}: {exc}") from exc
    engine = _plain_sqlite_engine(target)
    try:
        with engine.connect() as connection:
            return _snapshot_of(connection, f"database/{target.name}")
    finally:
        engine.dispose()


def check_tools(url: str, *, restoring: bool) -> None:
    """Raise BackupError before anything is done when the program the database's copy
    needs (``pg_dump``, ``pg_restore``) is not installed."""
    if database_backend(url) == "postgresql":
        _pg_tool("pg_restore" if restoring else "pg_dump")


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: PostgreSQL databases are backed up and restored with "
            f"PostgreSQL's client programs (Debian: apt install postgresql-client)"
        )
    return found


def _libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URI of ``url`` without its password, and an environment carrying it
    (``PGPASSWORD``): a command line is visible to every user of the machine."""
    parsed: URL = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _run_pg_tool(arguments: list[str], environment: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            arguments, env=environment, capture_output=True, text=True, timeout=_PG_TOOL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = "; ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {reason}")


@contextmanager
def _postgres(url: str) -> Iterator[Engine]:
    from worklist.db import make_engine

    engine = make_engine(url, pool_size=1)
    try:
        yield engine
    except DBAPIError as exc:
        raise database_error(url, exc) from exc
    finally:
        engine.dispose()


def _snapshot_postgres(url: str, target: Path) -> DatabaseSnapshot:
    pg_dump = _pg_tool("pg_dump")
    uri, environment = _libpq_target(url)
    with _postgres(url) as engine, engine.connect() as connection:
        # pg_dump reads the snapshot this transaction exports, for as long as it stays open.
        reading = connection.execution_options(isolation_level="REPEATABLE READ")
        with reading.begin():
            snapshot_id = reading.scalar(text("SELECT pg_export_snapshot()"))
            snapshot = _snapshot_of(reading, f"database/{target.name}")
            _run_pg_tool(
                [pg_dump, "--format=custom", f"--snapshot={snapshot_id}",
                 f"--file={target}", f"--dbname={uri}"],
                environment,
                f"pg_dump of {shown_url(url)}",
            )  # fmt: skip
    os.chmod(target, PRIVATE_FILE_MODE)
    return snapshot


def check_empty_database(url: str) -> None:
    """Raise BackupError unless the database at ``url`` holds nothing (or, for SQLite, does
    not exist yet): a restore never mixes a backup with data already there."""
    if database_backend(url) == "sqlite":
        path = sqlite_file(url)
        if not path.exists() or path.stat().st_size == 0:
            return
        try:
            reader = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            try:
                objects = reader.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            finally:
                reader.close()
        except sqlite3.Error as exc:
            raise BackupError(f"cannot read the database {path}: {exc}") from exc
        if objects:
            raise BackupError(
                f"the database {path} is not empty: a backup restores into an empty database only"
            )
        return
    with _postgres(url) as engine, engine.connect() as connection:
        relations = connection.scalar(
            text(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
            )
        )
    if relations:
        raise BackupError(
            f"the database {shown_url(url)} is not empty ({relations} tables, indexes or "
            "sequences): a backup restores into an empty database only"
        )


def restore_database(url: str, copy: Path) -> None:
    """Load the backup's database file ``copy`` into the empty database at ``url``."""
    if database_backend(url) == "sqlite":
        target = sqlite_file(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        shutil.copyfile(copy, partial)
        os.chmod(partial, PRIVATE_FILE_MODE)
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)  # of the empty file replaced here
        os.replace(partial, target)
        return
    if copy.name != POSTGRES_DUMP_NAME:
        raise BackupError(
            f"the backup holds a SQLite database ({copy.name}); COUPE_DATABASE_URL names "
            "PostgreSQL: restore it into a SQLite database, then move the data over"
        )
    pg_restore = _pg_tool("pg_restore")
    uri, environment = _libpq_target(url)
    _run_pg_tool(
        [pg_restore, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
         f"--dbname={uri}", str(copy)],
        environment,
        f"pg_restore into {shown_url(url)}",
    )  # fmt: skip


def relocate_paths(engine: Engine, old_data_dir: str, new_data_dir: str) -> int:
    """Rewrite the paths into ``old_data_dir`` that the database holds (slide files, job and
    import paths) to the same place under ``new_data_dir``; how many values changed."""
    old_prefix = old_data_dir.rstrip("/") + "/"
    new_prefix = new_data_dir.rstrip("/") + "/"
    if old_prefix == new_prefix:
        return 0
    changed = 0
    with engine.begin() as connection:
        for column in _PATH_COLUMNS:
            tail = func.substr(column, len(old_prefix) + 1, type_=String)
            result = connection.execute(
                update(column.class_)
                .where(func.substr(column, 1, len(old_prefix)) == old_prefix)
                .values({column.key: literal(new_prefix, String).concat(tail)})
            )
            changed += result.rowcount
    return changed
