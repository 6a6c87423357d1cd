"""Multi-file slides in a drop folder: a DICOM WSI series is a folder of ``.dcm`` files (one
per pyramid level), dropped as one folder named like a slide file
(``ALR-T26-00123_A1_HE/``) and imported as one slide.

OpenSlide opens a series from any of its files and finds the others in the same folder, so the
slide's file is the folder's first ``.dcm`` and the folder moves to the slide store whole. A
folder counts as settled only when none of its files changed for the settle time (a scanner
still copying the series is left alone).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from services.storage import PRIVATE_DIR_MODE, make_private_dir, make_private_file

__all__ = [
    "MIRAX_SUFFIX",
    "SERIES_SUFFIX",
    "folder_digest",
    "folder_version",
    "mirax_main_file",
    "series_main_file",
    "store_folder",
    "store_tree",
]

SERIES_SUFFIX = ".dcm"
_CHUNK = 1 << 20


def _members(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def series_main_file(folder: Path) -> Path | None:
    """The file OpenSlide opens the series from: the first ``.dcm``, when the folder holds
    plain ``.dcm`` files only; None for any other folder."""
    members = _members(folder)
    if not members or any(
        not p.is_file() or p.is_symlink() or p.suffix.lower() != SERIES_SUFFIX for p in members
    ):
        return None
    return members[0]


def folder_version(folder: Path) -> tuple[int, int]:
    """The folder's total size in bytes and its newest modification time (ns)."""
    stats = [p.stat() for p in _members(folder)]
    return sum(s.st_size for s in stats), max(s.st_mtime_ns for s in stats)


def folder_digest(folder: Path) -> str:
    """One sha256 over the member files' names and contents, in name order."""
    digest = hashlib.sha256()
    for path in _members(folder):
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def store_folder(source: Path, target: Path) -> None:
    """Move the folder ``source`` to ``target``: the service user's only (0700, files 0600)."""
    make_private_dir(target.parent)
    shutil.move(source, target)
    os.chmod(target, PRIVATE_DIR_MODE)
    for path in _members(target):
        make_private_file(path)


MIRAX_SUFFIX = ".mrxs"


def mirax_main_file(folder: Path) -> Path | None:
    """The ``.mrxs`` of the one MIRAX slide ``folder`` holds: the ``.mrxs`` and, next to it,
    the folder of the same name with its (plain) data files, and nothing else; else None."""
    members = _members(folder)
    slides = [p for p in members if p.suffix.lower() == MIRAX_SUFFIX]
    if len(slides) != 1 or len(members) != 2:
        return None
    main = slides[0]
    [data] = [p for p in members if p != main]
    if main.is_symlink() or not main.is_file() or data.name != main.stem:
        return None
    if data.is_symlink() or not data.is_dir():
        return None
    files = _members(data)
    if not files or any(not p.is_file() or p.is_symlink() for p in files):
        return None
    return main


def store_tree(source: Path, target: Path) -> None:
    """Move the folder ``source`` to ``target`` like :func:`store_folder`, one level of
    folders included (a MIRAX slide's data folder stays 0700, its files 0600)."""
    make_private_dir(target.parent)
    shutil.move(source, target)
    os.chmod(target, PRIVATE_DIR_MODE)
    for path in _members(target):
        if path.is_dir() and not path.is_symlink():
            os.chmod(path, PRIVATE_DIR_MODE)
            for inner in _members(path):
                make_private_file(inner)
        else:
            make_private_file(path)
