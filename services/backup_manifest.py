"""A backup's manifest: every file it holds (path, size, SHA-256) and what the database held.

A backup folder is ``manifest.json`` beside ``database/`` (the SQLite file or the ``pg_dump``
archive) and ``data/`` (the data directory's slide files, published pyramids and secret key,
at their paths inside the data directory). The manifest is written last, whole or not at all:
a folder without one is an unfinished backup. Files are copied, not hard-linked, even on the
same file system: a hard link shares the file, so a tile rewritten in place by a rebuild would
change the backup too, and the copy's SHA-256 is taken from the bytes read while copying.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from services.errors import ServiceError
from services.storage import PRIVATE_FILE_MODE, make_private_dir

__all__ = [
    "DATA_FOLDER",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "BackupError",
    "BackupManifest",
    "DatabaseFacts",
    "FileEntry",
    "LeftOut",
    "PrivateFolders",
    "ProgressCallback",
    "copy_hashed",
    "hash_file",
    "safe_relative",
    "verify_files",
    "walk_files",
]

MANIFEST_NAME = "manifest.json"
DATA_FOLDER = "data"
"""The data directory's files, in the backup, at their paths inside the data directory."""
MANIFEST_FORMAT = "coupe-backup/1"
_CHUNK_BYTES = 1024 * 1024


ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, files_done, files_total)``; stage is "copying", "verifying" or
"restoring"."""


class BackupError(ServiceError):
    """A backup cannot be made or restored; the message says which file or setting and why."""

    code = "backup"


@dataclass(frozen=True)
class FileEntry:
    """One file of the backup: its path relative to the backup folder, size and SHA-256."""

    path: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class LeftOut:
    """Something in the data directory the backup does not hold, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class DatabaseFacts:
    """What the database copy holds, read from the copy itself (not the live database).

    ``audit_chain_seq`` / ``audit_chain_hash``: the sealed chain's last position and hash;
    ``audit_records``: every audit record, sealed or not.
    """

    backend: str
    file: str
    schema_revision: str | None
    audit_chain_seq: int
    audit_chain_hash: str
    audit_records: int
    cases: int
    slides: int


@dataclass(frozen=True)
class BackupManifest:
    """The whole ``manifest.json``; ``data_dir`` is the absolute data directory backed up,
    so a restore elsewhere can move the paths the database holds."""

    coupe_version: str
    made_at: str
    data_dir: str
    database: DatabaseFacts
    files: tuple[FileEntry, ...]
    left_out: tuple[LeftOut, ...] = ()
    outside_data_dir: tuple[str, ...] = field(default=())
    format: str = MANIFEST_FORMAT

    @property
    def total_bytes(self) -> int:
        """The size of every file in the backup, the database copy included."""
        return sum(entry.size_bytes for entry in self.files)

    def write(self, folder: Path) -> Path:
        """Write ``folder/manifest.json`` atomically (0600); return its path."""
        path = folder / MANIFEST_NAME
        partial = folder / f".{MANIFEST_NAME}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        with open(descriptor, "w", encoding="utf-8") as stream:
            json.dump(asdict(self), stream, indent=2)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
        return path

    @classmethod
    def read(cls, folder: Path) -> BackupManifest:
        """The manifest of the backup in ``folder``; BackupError when there is none or it
        does not parse."""
        path = folder / MANIFEST_NAME
        if not folder.is_dir():
            raise BackupError(f"{folder} is not a folder")
        if not path.is_file():
            raise BackupError(
                f"{folder} holds no {MANIFEST_NAME}: not a Coupe backup, or an unfinished one"
            )
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != MANIFEST_FORMAT:
                raise BackupError(
                    f"{path}: format {raw.get('format')!r} is not {MANIFEST_FORMAT!r}"
                )
            return cls(
                coupe_version=raw["coupe_version"],
                made_at=raw["made_at"],
                data_dir=raw["data_dir"],
                database=DatabaseFacts(**raw["database"]),
                files=tuple(FileEntry(**entry) for entry in raw["files"]),
                left_out=tuple(LeftOut(**entry) for entry in raw.get("left_out", ())),
                outside_data_dir=tuple(raw.get("outside_data_dir", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"{path} is unreadable: {exc}") from exc


def hash_file(path: Path) -> tuple[int, str]:
    """The size in bytes and SHA-256 (hex) of the file at ``path``."""
    digest = hashlib.sha256()
    size_bytes = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
            size_bytes += len(chunk)
    return size_bytes, digest.hexdigest()


class PrivateFolders:
    """Makes the folders under ``root`` that files go into, every level 0700 (``mkdir``'s
    ``parents`` would leave the levels between with the umask's mode), each once."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._made: set[Path] = set()

    def parent_of(self, target: Path) -> None:
        """Make ``target``'s folder and the missing ones above it, up to the root."""
        if target.parent in self._made:
            return
        folder = self._root
        for part in target.parent.relative_to(self._root).parts:
            folder = folder / part
            if folder not in self._made:
                make_private_dir(folder)
                self._made.add(folder)


def copy_hashed(source: Path, target: Path) -> tuple[int, str]:
    """Copy ``source`` to a new file ``target`` (0600) in an existing folder, hashing the
    bytes as they pass; the size and SHA-256 of what was written."""
    digest = hashlib.sha256()
    size_bytes = 0
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    with source.open("rb") as reader, open(descriptor, "wb") as writer:
        while chunk := reader.read(_CHUNK_BYTES):
            digest.update(chunk)
            writer.write(chunk)
            size_bytes += len(chunk)
    return size_bytes, digest.hexdigest()


def safe_relative(path: str) -> PurePosixPath:
    """``path`` from a manifest as a relative path that stays inside its folder."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"the manifest names {path!r}, which is outside the backup")
    return relative


def verify_files(
    folder: Path,
    entries: Iterable[FileEntry],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Check every file of the backup in ``folder`` against its size and SHA-256; raise
    BackupError naming the first one that is missing or damaged. ``progress(files, bytes)``
    is called after each file."""
    done_files = 0
    done_bytes = 0
    for entry in entries:
        path = folder / safe_relative(entry.path)
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {entry.path} is missing")
        size_bytes, sha256 = hash_file(path)
        if size_bytes != entry.size_bytes or sha256 != entry.sha256:
            raise BackupError(
                f"the backup is damaged: {entry.path} does not match the manifest "
                f"({size_bytes} bytes, expected {entry.size_bytes}; SHA-256 "
                f"{'matches' if sha256 == entry.sha256 else 'differs'})"
            )
        done_files += 1
        done_bytes += size_bytes
        if progress is not None:
            progress(done_files, done_bytes)


def walk_files(root: Path) -> Iterator[Path]:
    """Every regular file under ``root``, in a stable order, skipping hidden names (partial
    files, locks and build folders start with a dot)."""
    if not root.is_dir():
        return
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file():
                yield path
