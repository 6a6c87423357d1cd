"""Multi-file slides in a drop folder, each dropped as one folder named like a slide file
(``ALR-T26-00123_A1_HE/``) and imported as one slide:

- a DICOM WSI series: the folder holds its ``.dcm`` files (one per pyramid level). OpenSlide
  opens a series from any of its files and finds the others beside it, so the slide's file is
  the folder's first ``.dcm``;
- a MIRAX slide: the folder holds the ``.mrxs`` and, next to it, the data folder of the same
  name (``Slidedat.ini``, ``Index.dat``, ``Data*.dat``); the slide's file is the ``.mrxs``.

The folder moves to the slide store whole. It counts as settled only when none of its files
(a MIRAX data folder's included) changed for the settle time, so a scanner still copying it is
left alone; a MIRAX slide whose ``Slidedat.ini`` names files not there yet is incomplete.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
from pathlib import Path, PurePath

from services.registration import SLIDE_SUFFIXES, SNIFF_BYTES, sniff_slide_kind
from services.storage import PRIVATE_DIR_MODE, make_private_dir, make_private_file
from worklist.models.imports import ImportProblem

__all__ = [
    "MIRAX_SUFFIX",
    "SERIES_SUFFIX",
    "folder_digest",
    "folder_main_file",
    "folder_version",
    "kind_refusal",
    "mirax_main_file",
    "mirax_missing_files",
    "series_main_file",
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


def _inner_folders(folder: Path) -> list[Path]:
    return [p for p in _members(folder) if p.is_dir() and not p.is_symlink()]


def _files(folder: Path) -> list[Path]:
    """The folder's files and those of its folders (one level: a MIRAX data folder)."""
    files = [p for p in _members(folder) if not (p.is_dir() and not p.is_symlink())]
    for inner in _inner_folders(folder):
        files.extend(_members(inner))
    return sorted(files)


def folder_version(folder: Path) -> tuple[int, int]:
    """The folder's total size in bytes and its newest modification time (ns), over its files
    and those of its data folder (whose own time changes when a file is added or removed)."""
    stats = [p.stat() for p in _files(folder)]
    folder_times = [p.stat().st_mtime_ns for p in _inner_folders(folder)]
    return sum(s.st_size for s in stats), max([s.st_mtime_ns for s in stats] + folder_times)


def folder_digest(folder: Path) -> str:
    """One sha256 over the files' paths in the folder and their contents, in path order (a
    series' files are named as they are: its digest is the same as before MIRAX folders)."""
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


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


_SLIDEDAT = "Slidedat.ini"
_SLIDEDAT_MAX_BYTES = 1 << 20  # OpenSlide's own limit on the file


def mirax_missing_files(main: Path) -> list[str]:
    """The files of the MIRAX slide ``main`` (its ``.mrxs``) not in its data folder (yet):
    ``Slidedat.ini``, or the index and data files it names. Raises ``ValueError`` saying why
    when ``Slidedat.ini`` cannot be read or names a file outside the data folder: OpenSlide
    opens the files it names, so such a slide could show another slide's images."""
    data = main.with_suffix("")
    slidedat = data / _SLIDEDAT
    if not slidedat.is_file():
        return [_SLIDEDAT]
    if slidedat.stat().st_size > _SLIDEDAT_MAX_BYTES:
        raise ValueError(f"its {_SLIDEDAT} is larger than {_SLIDEDAT_MAX_BYTES} bytes")
    # The scanner's own quirks: a byte-order mark, keys given twice, "%" in values.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(slidedat.read_text(encoding="utf-8-sig", errors="replace"))
        names = [parser.get("HIERARCHICAL", "INDEXFILE")]
        count = parser.getint("DATAFILE", "FILE_COUNT")
        names += [parser.get("DATAFILE", f"FILE_{i}") for i in range(max(0, count))]
    except (configparser.Error, ValueError) as exc:
        message = str(exc).splitlines()[0][:200]
        raise ValueError(f"its {_SLIDEDAT} does not say where its data is: {message}") from exc
    for name in names:
        if not name or PurePath(name).name != name or "\\" in name or name in (".", ".."):
            raise ValueError(f"its {_SLIDEDAT} names {name[:80]!r}, outside its data folder")
    return [name for name in names if not (data / name).is_file()]


def folder_main_file(folder: Path) -> Path | None:
    """The file OpenSlide opens a dropped slide folder from: a DICOM series' first ``.dcm`` or
    a MIRAX slide's ``.mrxs``; None for any other folder."""
    return series_main_file(folder) or mirax_main_file(folder)


def _mirax_refusal(folder_or_file: Path, main: Path) -> tuple[ImportProblem, str] | None:
    if folder_or_file.is_file():
        return (
            ImportProblem.INCOMPLETE_SERIES,
            f"{main.name!r} is the file of a MIRAX slide; it waits for its data folder: drop "
            f"the .mrxs and its folder {main.stem + '/'!r} together inside one folder named "
            "like the slide (e.g. ALR-T26-00123_A1_HE/)",
        )
    try:
        missing = mirax_missing_files(main)
    except ValueError as exc:
        return ImportProblem.NOT_A_SLIDE, f"{folder_or_file.name!r} is no MIRAX slide: {exc}"
    if missing:
        return (
            ImportProblem.INCOMPLETE_SERIES,
            f"the MIRAX slide {folder_or_file.name!r} lacks {', '.join(missing)} in its folder "
            f"{main.stem + '/'!r}; it waits for the rest (tried again when the folder changes)",
        )
    return None


def kind_refusal(folder_or_file: Path, main: Path) -> tuple[ImportProblem, str] | None:
    """Why the dropped file or slide folder ``folder_or_file`` (opened from ``main``) is no
    slide to hand to a worker, or None. The API process only compares names and magic
    numbers; one part of a multi-file slide waits for the rest (it is tried again when it
    changes)."""
    suffix = main.suffix.lower()
    if suffix == MIRAX_SUFFIX:
        return _mirax_refusal(folder_or_file, main)
    if folder_or_file.is_file() and suffix == SERIES_SUFFIX:
        # A DICOM WSI is one file per pyramid level; OpenSlide would open one alone and
        # show part of the slide, so a loose file waits for its series as a folder.
        return (
            ImportProblem.INCOMPLETE_SERIES,
            f"{main.name!r} is one file of a DICOM series; it waits for the rest: drop the "
            "series as one folder named like the slide (e.g. ALR-T26-00123_A1_HE/ holding "
            "every .dcm of it)",
        )
    if suffix not in SLIDE_SUFFIXES:
        return (
            ImportProblem.NOT_A_SLIDE,
            f"{main.name!r} is not a slide file Coupe imports "
            f"(expected one of {', '.join(sorted(SLIDE_SUFFIXES))})",
        )
    with main.open("rb") as f:
        if sniff_slide_kind(f.read(SNIFF_BYTES)) is None:
            return (
                ImportProblem.NOT_A_SLIDE,
                f"{main.name!r} does not start like a TIFF, DICOM, JPEG or PNG file",
            )
    return None


def store_tree(source: Path, target: Path) -> None:
    """Move the slide folder ``source`` to ``target``: the service user's only (0700, files
    0600), one level of folders included (a MIRAX slide's data folder)."""
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
