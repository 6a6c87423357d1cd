"""Where Coupe keeps files in the data directory: slide files and their pyramids.

One layout, used by the tiling jobs (which build pyramids), the tile routes (which serve
them), the uploads and the scanner import (which store slide files):

- ``DATA_DIR/slides/<accession>/<token>-<name>``: a slide file as it was scanned or uploaded;
- ``DATA_DIR/pyramids/<slide id>/slide.dzi`` and ``slide_files/``: its Deep Zoom pyramid.

Slides are patient data: the folders are the service user's only (0700), and so are the slide
files in them (0600).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from services.settings import Settings

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "PyramidPaths",
    "make_private_dir",
    "make_private_file",
    "pyramid_paths",
    "resolve_slide_file",
    "safe_file_name",
    "slide_storage_path",
    "store_slide_file",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_PYRAMID_NAME = "slide"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class PyramidPaths:
    """Where a slide's pre-built pyramid lives: ``<pyramid_dir>/<id>/slide.dzi`` and
    ``slide_files/``; ``directory`` is what a builder passes as ``out_dir`` with ``name``."""

    directory: Path
    name: str
    dzi: Path
    files_dir: Path


def pyramid_paths(settings: Settings, slide_id: int) -> PyramidPaths:
    """The pyramid location of slide ``slide_id``; the tiling jobs build into it with
    ``build_pyramid(path, paths.directory, options, name=paths.name)``."""
    directory = settings.pyramid_dir / str(int(slide_id))
    return PyramidPaths(
        directory=directory,
        name=_PYRAMID_NAME,
        dzi=directory / f"{_PYRAMID_NAME}.dzi",
        files_dir=directory / f"{_PYRAMID_NAME}_files",
    )


def resolve_slide_file(settings: Settings, file_path: str | None) -> Path | None:
    """The slide file a database row names: absolute, or relative to the slide folder."""
    if not file_path:
        return None
    path = Path(file_path)
    return path if path.is_absolute() else settings.slide_dir / path


def safe_file_name(name: str) -> str:
    """``name`` reduced to a harmless base name (no directories, no leading dots)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME_CHARS.sub("_", base).lstrip("._")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        return cleaned[:120] or "slide"
    return f"{stem[:100] or 'slide'}.{suffix[:16]}"


def slide_storage_path(settings: Settings, accession_number: str, file_name: str) -> Path:
    """A new, unique place for a slide file: ``slide_dir/<accession>/<token>-<name>``."""
    folder = settings.slide_dir / safe_file_name(accession_number)
    return folder / f"{uuid.uuid4().hex[:12]}-{safe_file_name(file_name)}"


def make_private_dir(folder: Path) -> None:
    """Make ``folder`` (and missing parents) if needed, and leave it the service user's only."""
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(folder, PRIVATE_DIR_MODE)  # also when it existed; mkdir's mode passes the umask


def make_private_file(path: Path) -> None:
    """Leave the file at ``path`` readable and writable by the service user only."""
    # A file another user owns (a scanner's drop) cannot be changed; it stays unreachable to
    # others all the same, inside the service's private folders.
    with contextlib.suppress(PermissionError):
        os.chmod(path, PRIVATE_FILE_MODE)


def store_slide_file(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` (a rename on one file system, else copy and delete);
    the file is the service user's only (0600) in its folder (0700)."""
    make_private_dir(target.parent)
    shutil.move(source, target)
    make_private_file(target)
